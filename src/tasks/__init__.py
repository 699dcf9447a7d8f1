"""Where a model plugs in: the registry of tasks, keyed by the config key `task`.

A task is one model with its data and evaluation (`src/tasks/base.py` documents the interface). The root
scripts resolve the config, then the task named by its `task` key, and hand both to the shared machinery
(engine, inference, evaluation). Adding a model = a package `src/<model>/` with a `task.py` defining a `Task`
subclass, its shipped config, and one line below. Nothing here imports MindSpore: the config parser asks for
a task's shipped config before any heavy import.

    from src.tasks import get_task
    task = get_task(cfg)           # the task of the config, bound to it (task.cfg)
    task = get_task("centerface")  # unbound: its constant facts (heads, keypoint schema, ...)
"""
from importlib import import_module
from pathlib import Path

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
    except KeyError:
        raise KeyError(f"task {name!r}: unknown; expected one of {', '.join(REGISTRY)}") from None


def task_config_path(name) -> Path:
    """The config file shipped for task `name` (KeyError naming the known tasks otherwise)."""
    return ROOT / _entry(name)[1]


def get_task(name_or_cfg):
    """The Task of a resolved config (its `task` key), bound to that config; or, for a task name, unbound."""
    if isinstance(name_or_cfg, str):
        return import_module(_entry(name_or_cfg)[0]).TASK_CLASS()
    module, _ = _entry(name_or_cfg.task)
    return import_module(module).TASK_CLASS(name_or_cfg)
