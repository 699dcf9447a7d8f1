"""Shared benchmark helpers: machine description and interleaved timing (ratios survive a noisy machine)."""
import os
import platform
import statistics
import time


def machine_description():
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}"


def interleaved_medians(candidates, runs, warmup):
    """Time each callable once per round, round after round; return {name: median seconds}.

    Interleaving means that a burst of load from another process slows every candidate alike instead of
    whichever happened to be measured at that moment.
    """
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in candidates}
    for _ in range(runs):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}
