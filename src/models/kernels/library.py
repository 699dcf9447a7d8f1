"""The project's compiled CPU kernel library (`ops.Custom` "aot"): build, cache, threads.

What the kernels do and how a network gets them: `src/models/kernels/__init__.py`.

The C++ sources next to this file (`cpu_kernels.{h,cc}`, `depthwise_cpu.cc`, `batchnorm_cpu.cc`) are
compiled on first use with the system C++ compiler (`g++ -O3 -march=native`, a few seconds) into one shared
library in a cache folder (default `<repo>/.cache/kernels`), named by a hash of the sources, flags,
compiler and CPU (a -march=native build must not run on another CPU), and written atomically. Without a
compiler the `enable_*` functions warn once and leave the network unchanged.
Only for the CPU target and for execution in this process: an exported model (`export.py`) must come from
a network without them (a Custom AOT op cannot be written to ONNX or run elsewhere). Static input shapes
only: MindSpore 2.10 fails inside graph compilation ("The pointer[value] is null") when a Custom AOT op
sits in a graph with dynamic input shapes (`Cell.set_inputs` with None dims); each new static shape is
simply compiled once more.
"""
import ctypes
import hashlib
import os
import platform
import subprocess
import warnings
from pathlib import Path

import mindspore as ms

__all__ = ["KernelBuildError", "build_kernel_library", "set_kernel_threads", "kernel_library_or_none",
           "restore_parameter_names", "swap_cells", "KERNEL_SOURCES", "DEFAULT_CACHE_DIR"]

_HERE = Path(__file__).resolve().parent
KERNEL_SOURCES = (_HERE / "cpu_kernels.cc", _HERE / "depthwise_cpu.cc", _HERE / "batchnorm_cpu.cc")
KERNEL_HEADERS = (_HERE / "cpu_kernels.h",)
DEFAULT_CACHE_DIR = _HERE.parents[2] / ".cache" / "kernels"
COMPILE_FLAGS = ("-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-pthread")
_warned = set()


class KernelBuildError(RuntimeError):
    """The kernel library could not be compiled (no compiler, missing source, or the compiler failed)."""


def _cpu_identity():
    """Model name and feature flags of this CPU (part of the cache key)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    return "\n".join(sorted({line for line in text.splitlines() if line.startswith(("model name", "flags"))}))


def _compiler_version(compiler):
    try:
        result = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30, check=True)
    except FileNotFoundError as err:
        raise KernelBuildError(f"C++ compiler {compiler!r} not found: install g++ to build the CPU kernels") from err
    except (subprocess.SubprocessError, OSError) as err:
        raise KernelBuildError(f"C++ compiler {compiler!r} does not run: {err}") from err
    return result.stdout.splitlines()[0] if result.stdout else compiler


def build_kernel_library(cache_dir=DEFAULT_CACHE_DIR, compiler="g++", sources=KERNEL_SOURCES,
                         headers=KERNEL_HEADERS):
    """Path of the compiled library of `sources`, compiling it into `cache_dir` if it is not there yet.

    Raises KernelBuildError (one line: what failed and why) when it cannot be built.
    """
    sources, headers = [Path(s) for s in sources], [Path(h) for h in headers]
    for path in sources + headers:
        if not path.is_file():
            raise KernelBuildError(f"kernel source {path}: no such file")
    version = _compiler_version(compiler)
    digest = hashlib.sha256()
    for part in [p.read_text() for p in sources + headers] + [" ".join(COMPILE_FLAGS), version, _cpu_identity()]:
        digest.update(part.encode() + b"\0")
    cache_dir = Path(cache_dir)
    target = cache_dir / f"centerface_cpu_kernels-{digest.hexdigest()[:16]}.so"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{target.name}.{os.getpid()}.tmp"
    try:
        result = subprocess.run([compiler, *COMPILE_FLAGS, "-o", str(tmp), *map(str, sources)],
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            lines = result.stderr.splitlines()
            errors = [line for line in lines if "error" in line] or lines
            raise KernelBuildError(f"{compiler} failed on {', '.join(p.name for p in sources)}: "
                                   f"{errors[0] if errors else 'no message'}")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def set_kernel_threads(library, num_threads):
    """Threads each kernel call uses (0 = all cores). MindSpore's dlopen of the same file shares the setting."""
    if int(num_threads) < 0:
        raise ValueError(f"set_kernel_threads: num_threads must be >= 0, got {num_threads!r}")
    ctypes.CDLL(str(library)).CfSetNumThreads(int(num_threads))


def kernel_library_or_none(library=None, num_threads=None, cache_dir=DEFAULT_CACHE_DIR):
    """The library to use (built if None) with its thread count set, or None with a one-time warning.

    None also when the device target is not CPU (the kernels are CPU code). num_threads None = MindSpore's
    `runtime_num_threads`.
    """
    if ms.get_context("device_target") != "CPU":
        return None
    if library is None:
        try:
            library = build_kernel_library(cache_dir)
        except KernelBuildError as err:
            message = f"compiled CPU kernels disabled, using MindSpore's ops: {err}"
            if message not in _warned:
                _warned.add(message)
                warnings.warn(message, RuntimeWarning, stacklevel=3)
            return None
    if num_threads is None:
        num_threads = ms.get_context("runtime_num_threads") or 0
    set_kernel_threads(library, num_threads)
    return library


def restore_parameter_names(names):
    """Give back the names recorded as [(param, name)]: Parameters attached to a new Cell take its short
    names ("conv.weight"), which would change checkpoint keys and clash in graph compilation."""
    for param, name in names:
        param.name = name


def swap_cells(network, swap, library=None, num_threads=None, cache_dir=DEFAULT_CACHE_DIR):
    """Call `swap(cell, library)` (returns how many layers it replaced in that cell) on every cell of `network`
    with the kernel library, keeping every parameter's name; returns the total. 0, leaving the network unchanged,
    when not on CPU or the library cannot be built (warned once)."""
    library = kernel_library_or_none(library, num_threads, cache_dir)
    if library is None:
        return 0
    names = [(param, param.name) for param in network.get_parameters()]
    count = sum(swap(cell, library) for _, cell in list(network.cells_and_names()))
    restore_parameter_names(names)
    return count
