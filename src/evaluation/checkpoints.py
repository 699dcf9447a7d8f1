"""Which checkpoints a test run covers: one file, or an epoch range of a training run's checkpoint folder.

The old zoo's test_distribute.sh swept `0-{epoch}_{step}.ckpt` files by epoch; `select_checkpoints` does the
same for every model, and `result_dir` gives each checkpoint its own result folder.
"""
import re
from pathlib import Path
from typing import List

__all__ = ["CHECKPOINT_NAME", "select_checkpoints", "result_dir"]

CHECKPOINT_NAME = re.compile(r"^(\d+)-(\d+)_(\d+)\.ckpt$")


def select_checkpoints(ckpt_path, start: int = 0, end: int = -1) -> List[Path]:
    """``[ckpt_path]`` for a file; for a folder, its rank-0 ``0-{epoch}_{step}.ckpt`` files with
    ``start <= epoch <= end`` (``end < 0``: no upper limit), ordered by epoch then step.

    Other ranks' files are left out: data-parallel replicas hold the same weights.
    """
    path = Path(ckpt_path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"ckpt_path {path}: no such checkpoint file or folder")
    if end >= 0 and end < start:
        raise ValueError(f"epoch range start={start} > end={end}; expected start <= end (end < 0: no limit)")
    found = []
    for entry in path.iterdir():
        match = CHECKPOINT_NAME.match(entry.name)
        if match and entry.is_file():
            rank, epoch, step = (int(g) for g in match.groups())
            if rank == 0 and epoch >= start and (end < 0 or epoch <= end):
                found.append((epoch, step, entry))
    if not found:
        upper = "last" if end < 0 else end
        raise FileNotFoundError(f"ckpt_path {path}: no 0-{{epoch}}_{{step}}.ckpt file with epoch in {start}..{upper}")
    return [entry for *_, entry in sorted(found)]


def result_dir(output_path, ckpt_path) -> Path:
    """Output folder of one checkpoint: ``<output_path>/<checkpoint stem>``."""
    return Path(output_path) / Path(ckpt_path).stem
