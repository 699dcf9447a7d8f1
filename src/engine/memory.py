"""How much memory a training run on CPU needs, estimated before anything loads, and what fits this machine.

A model's peak memory (RSS of train.py, graph compilation and steps included) grows linearly with the pixels of a
batch: peak = base + bytes_per_pixel * batch_size * H * W, H x W the train_size. Each task gives its line
(`Task.training_memory()`), fitted by `python benchmarks/bench_memory.py --part train --model ...` to runs at batch
1-2 (pose) or 2-8 (CenterFace) and 128-256 px on this project's 2-core test machine; docs/performance.md "Memory"
lists the numbers and how far they extrapolate (CenterNet pose with DCN at 512x512 batch 8: 17.0 GB predicted, 16.3 GB
measured by benchmarks/bench_centernet.py). GPU and Ascend runs keep the network on the device: not estimated here.

`check_training_memory` compares the estimate with the memory available now (/proc/meminfo MemAvailable, and a
cgroup v2 limit when the process has one) times the processes this run starts on this machine, and stops with
one line naming --train_size and --batch_size and what would fit, instead of a run that grows for minutes and
then dies. `--memory_check False` skips it.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

__all__ = ["MemoryModel", "InsufficientMemoryError", "available_gb", "local_processes", "check_training_memory"]

GB = 2 ** 30
SIDE_MULTIPLE = 32


class InsufficientMemoryError(MemoryError):
    """The estimated need exceeds the memory available; the message is the one line to print (exit 3)."""
    one_line = True


@dataclass(frozen=True)
class MemoryModel:
    """peak GB = base_gb + bytes_per_pixel * batch * H * W / 2**30; `source`: where the numbers come from."""
    base_gb: float
    bytes_per_pixel: float
    source: str = ""

    def need_gb(self, batch: int, height: int, width: int) -> float:
        return self.base_gb + self.bytes_per_pixel * batch * height * width / GB

    def largest_batch(self, height: int, width: int, available: float) -> int:
        """The largest batch that fits `available` GB at H x W (0: not even one image)."""
        return max(0, math.floor((available - self.base_gb) * GB / (self.bytes_per_pixel * height * width)))

    def largest_size(self, batch: int, height: int, width: int, available: float):
        """(h, w): H x W scaled down alike to fit `available` GB at `batch`, each a multiple of 32 (None: even
        32 x 32 does not fit)."""
        room = (available - self.base_gb) * GB / (self.bytes_per_pixel * batch * height * width)
        if room <= 0:
            return None
        scale = min(1.0, math.sqrt(room))
        size = tuple(max(SIDE_MULTIPLE, int(side * scale) // SIDE_MULTIPLE * SIDE_MULTIPLE) for side in (height, width))
        return size if self.need_gb(batch, *size) <= available else None


def _meminfo_available_gb(path="/proc/meminfo") -> Optional[float]:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024 / GB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_available_gb(root="/sys/fs/cgroup") -> Optional[float]:
    """What a cgroup v2 memory limit still allows this process's group (None without a limit)."""
    try:
        limit = Path(root, "memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int(Path(root, "memory.current").read_text().strip())
        return max(0.0, (int(limit) - used) / GB)
    except (OSError, ValueError):
        return None


def available_gb() -> Optional[float]:
    """Memory available to a new allocation now (GB): MemAvailable, lowered to a cgroup v2 limit; None when the
    system does not say (not Linux)."""
    found = [v for v in (_meminfo_available_gb(), _cgroup_available_gb()) if v is not None]
    return min(found) if found else None


def local_processes(cfg) -> int:
    """Training processes this run starts on this machine: 1, or the local workers of a data-parallel launch
    (mpirun's OMPI_COMM_WORLD_LOCAL_SIZE; msrun's MS_WORKER_NUM, which the CPU launchers start all locally)."""
    if not cfg.is_distributed:
        return 1
    for name in ("OMPI_COMM_WORLD_LOCAL_SIZE", "MS_WORKER_NUM"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def check_training_memory(task, cfg, logger=None, available=None):
    """Stop (InsufficientMemoryError, one line) when `task`'s training at cfg.train_size and cfg.batch_size would
    need more memory than is available; returns (need GB per process, available GB), or None when not estimated
    (not CPU, `memory_check` off, no model for the task, or unknown availability)."""
    if not cfg.memory_check or cfg.device_target != "CPU":
        return None
    model = task.training_memory()
    available = available_gb() if available is None else available
    if model is None or available is None:
        return None
    processes = local_processes(cfg)
    share = available / processes
    height, width = cfg.train_size
    need = model.need_gb(cfg.batch_size, height, width)
    if logger is not None:
        logger.info("memory: training needs about %.1f GB per process (%d on this machine; estimate of %s), %.1f GB "
                    "available", need, processes, task.name, available)
    if need <= share:
        return need, available
    where = f" ({processes} processes)" if processes > 1 else ""
    fits = []
    batch = model.largest_batch(height, width, share)
    if batch >= 1:
        fits.append(f"--batch_size {batch} fits at this --train_size")
    size = model.largest_size(cfg.batch_size, height, width, share)
    if size is not None:
        fits.append(f"--train_size {size[0]},{size[1]} fits at this --batch_size")
    advice = " or ".join(fits) if fits else "not even --batch_size 1 at --train_size 32,32 fits"
    raise InsufficientMemoryError(
        f"out of memory: training {task.name} at --train_size {height},{width} with --batch_size {cfg.batch_size} "
        f"needs about {need:.1f} GB per process (estimate, src/engine/memory.py), {share:.1f} GB available{where}: "
        f"{advice} (--memory_check False tries anyway)")
