"""Saving a run's resolved configuration as a file `--config_path` reloads."""
from pathlib import Path

import yaml

from src.model_utils.config.errors import ConfigError
from src.model_utils.config.schema import BASE_KEY, task_config


def save_config(config, out_dir, name="config.yaml"):
    """Write the resolved configuration next to a run's outputs (atomically)."""
    from src.io_utils import atomic_write_bytes

    values = config.to_dict()
    # config_path is where the defaults came from, not a setting: kept as a comment so the file is reusable
    # as `--config_path`. It is an override file setting every key; over the task's shipped config when the
    # keys came from there, else over the file they came from (`__BASE__`).
    source = values.pop("config_path", None)
    header = f"# resolved from {source}\n" if source else ""
    if source:
        try:
            shipped = task_config(values["task"]).resolve() if "task" in values else None
        except ConfigError:
            shipped = None
        if Path(source).resolve() != shipped:
            header += yaml.safe_dump({BASE_KEY: str(Path(source).resolve())})
    path = Path(out_dir) / name
    atomic_write_bytes(path, (header + yaml.safe_dump(values, sort_keys=False)).encode("utf-8"))
    return path
