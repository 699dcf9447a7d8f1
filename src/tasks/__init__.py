"""Where a model plugs in: the registry of tasks, keyed by the config key `task`.

A task is one model with its data and evaluation, built from a resolved config (`src/tasks/base.py` documents
the interface, docs/adding_a_model.md the steps). The root scripts resolve the config, build its task and hand
it to the shared machinery (engine, inference, evaluation). Adding a model = a package `src/<model>/` with a
`task.py` defining a `Task` subclass as `TASK_CLASS`, its config (extending configs/base.yaml), and one line
below. Nothing here imports MindSpore: the config parser asks for a task's shipped config before any heavy
import.

    from src.tasks import get_task
    task = get_task(cfg)           # the task of a resolved config
    task = get_task("centerface")  # the task of its shipped config (its defaults)
"""
from importlib import import_module
from pathlib import Path

from src.model_utils.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]

# name -> (module holding the Task subclass `TASK_CLASS`, the task's shipped config relative to the repository)
REGISTRY = {
    "centerface": ("src.centerface.task", "default_config.yaml"),
    "centernet_pose": ("src.centernet_pose.task", "configs/centernet_pose.yaml"),
    "centernet_det": ("src.centernet_det.task", "configs/centernet_det.yaml"),
}

__all__ = ["REGISTRY", "get_task", "task_config_path", "task_names"]


def task_names():
    return tuple(REGISTRY)


def _entry(name):
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"task {name!r}: unknown; expected one of {', '.join(REGISTRY)}") from None


def task_config_path(name) -> Path:
    """The config file shipped for task `name` (ConfigError naming the known tasks otherwise)."""
    return ROOT / _entry(name)[1]


def get_task(name_or_cfg):
    """The Task built from a resolved config (its `task` key names the class); for a task name, the Task of that
    task's shipped config with its defaults."""
    if isinstance(name_or_cfg, str):
        from src.model_utils.config import parse_config

        name_or_cfg = parse_config(["--config_path", str(task_config_path(name_or_cfg))])
    module, _ = _entry(name_or_cfg.task)
    return import_module(module).TASK_CLASS(name_or_cfg)
