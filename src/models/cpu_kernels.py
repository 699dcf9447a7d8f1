"""The project's compiled CPU kernels for MindSpore (`ops.Custom` "aot"): build, cache, threads, enable.

Kernels for the layers that dominated CenterFace's CPU time under MindSpore 2.10 (measured in README
"Performance"):
* `fast_depthwise`: depthwise 3x3 convs (forward, both gradients; bias+ReLU fused for folded inference);
* `fast_batchnorm`: training-mode BatchNorm2d, with the following ReLU fused in `ConvBNAct`;
* `fused_bias_relu`: the bias+ReLU epilogue of the other BN-folded convs (inference) in one pass.

    from src.models.cpu_kernels import enable_cpu_kernels
    counts = enable_cpu_kernels(network)
    # training network: {"depthwise": 17, "bias_relu": 0, "batchnorm": 59}
    # after fold_batchnorm: {"depthwise": 17, "bias_relu": 22, "batchnorm": 0}; zeros if unavailable

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
           "restore_parameter_names", "enable_cpu_kernels", "KERNEL_SOURCES", "DEFAULT_CACHE_DIR"]

_HERE = Path(__file__).resolve().parent
KERNEL_SOURCES = (_HERE / "cpu_kernels.cc", _HERE / "depthwise_cpu.cc", _HERE / "batchnorm_cpu.cc")
KERNEL_HEADERS = (_HERE / "cpu_kernels.h",)
DEFAULT_CACHE_DIR = _HERE.parents[1] / ".cache" / "kernels"
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


def enable_cpu_kernels(network, library=None, num_threads=None, fuse_relu=True, cache_dir=DEFAULT_CACHE_DIR):
    """All swaps (`enable_fast_depthwise`, `enable_fused_bias_relu`, `enable_fast_batchnorm`) in place.

    Returns their counts {"depthwise", "bias_relu", "batchnorm"}, all 0 when not on CPU or the library
    cannot be built (warned once). Call after `fold_batchnorm` when folding (it rebuilds the convs it
    folds). fuse_relu=False keeps every ReLU a separate MindSpore op (and skips `enable_fused_bias_relu`).
    """
    from src.models.fast_batchnorm import enable_fast_batchnorm
    from src.models.fast_depthwise import enable_fast_depthwise
    from src.models.fused_bias_relu import enable_fused_bias_relu

    library = kernel_library_or_none(library, num_threads, cache_dir)
    if library is None:
        return {"depthwise": 0, "bias_relu": 0, "batchnorm": 0}
    return {"depthwise": enable_fast_depthwise(network, library, fuse_bias_relu=fuse_relu),
            "bias_relu": enable_fused_bias_relu(network, library) if fuse_relu else 0,
            "batchnorm": enable_fast_batchnorm(network, library, fuse_relu=fuse_relu)}
