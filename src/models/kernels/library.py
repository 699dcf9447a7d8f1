"""The project's compiled CPU kernel library (`ops.Custom` "aot"): build, cache, threads.

What the kernels do and how a network gets them: `src/models/kernels/__init__.py`.

The C++ sources next to this file (`cpu_kernels.{h,cc}`, `depthwise_cpu.cc`, `batchnorm_cpu.cc`, ...) are
compiled on first use with the system C++ compiler (`g++ -O3 -march=native`, a few seconds) into one shared
library in a cache folder (default `<repo>/.cache/kernels`), named by a hash of the sources, flags,
compiler and CPU (a -march=native build must not run on another CPU), and written atomically. When the
library cannot be built or loaded (no compiler, a compiler without -march=native for this CPU, a failed
build) the `enable_*` functions log one warning line and leave the network on MindSpore's ops.
Only for the CPU target and for execution in this process: an exported model (`export.py`) must come from
a network without them (a Custom AOT op cannot be written to ONNX or run elsewhere).

Dynamic input shapes (`Cell.set_inputs` with None dims): MindSpore 2.10 re-infers every op's output shape at
run time in such a graph, which for a Custom op works only through a C++ function `<kernel>InferShape`
exported by the library and the primitive attribute `reg_op_name` (without them the run fails with "The
pointer[value] is null"). `aot_op` sets both up when the library exports the function (`infer_shape.cc`);
`supports_dynamic_shape(network)` says whether every kernel op of a network can take dynamic shapes.
"""
import ctypes
import functools
import hashlib
import logging
import os
import platform
import subprocess
from pathlib import Path

import mindspore as ms
from mindspore import ops

__all__ = ["KernelBuildError", "build_kernel_library", "set_kernel_threads", "kernel_library_or_none",
           "restore_parameter_names", "swap_cells", "swap_children", "aot_op", "has_infer_shape",
           "supports_dynamic_shape", "KERNEL_SOURCES", "DEFAULT_CACHE_DIR"]

LOG = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
KERNEL_SOURCES = (_HERE / "cpu_kernels.cc", _HERE / "depthwise_cpu.cc", _HERE / "batchnorm_cpu.cc",
                  _HERE / "dcn_cpu.cc", _HERE / "infer_shape.cc",
                  _HERE / "winograd_cpu.cc", _HERE / "maxpool_cpu.cc", _HERE / "focal_cpu.cc")
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
    target = cache_dir / f"cpu_kernels-{digest.hexdigest()[:16]}.so"
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


@functools.lru_cache(maxsize=None)
def _loaded(library):
    """The library opened with ctypes (cached per path); KernelBuildError when it cannot be loaded."""
    try:
        return ctypes.CDLL(library)
    except OSError as err:
        raise KernelBuildError(f"kernel library {library} cannot be loaded: {err}") from err


def set_kernel_threads(library, num_threads):
    """Threads each kernel call uses (0 = all cores). MindSpore's dlopen of the same file shares the setting."""
    if int(num_threads) < 0:
        raise ValueError(f"set_kernel_threads: num_threads must be >= 0, got {num_threads!r}")
    _loaded(str(library)).CfSetNumThreads(int(num_threads))


def _warn_once(message):
    if message not in _warned:
        _warned.add(message)
        LOG.warning(message)


def kernel_library_or_none(library=None, num_threads=None, cache_dir=DEFAULT_CACHE_DIR):
    """The library to use (built if None) with its thread count set, or None after one warning line in the log
    (the same reason is logged once per process) when it cannot be built or loaded.

    None also when the device target is not CPU (the kernels are CPU code). num_threads None = MindSpore's
    `runtime_num_threads`.
    """
    if ms.get_context("device_target") != "CPU":
        return None
    if library is None:
        try:
            library = build_kernel_library(cache_dir)
            _loaded(str(library))
        except KernelBuildError as err:
            _warn_once(f"compiled CPU kernels off, using MindSpore's ops: {err}")
            return None
    if num_threads is None:
        num_threads = ms.get_context("runtime_num_threads") or 0
    set_kernel_threads(library, num_threads)
    return library


def has_infer_shape(library, name):
    """True when `library` exports `<name>InferShape` (MindSpore's C++ shape inference of kernel `name`)."""
    return hasattr(_loaded(str(library)), f"{name}InferShape")


def aot_op(library, name, out_shape, out_dtype, bprop=None, num_outputs=1):
    """`ops.Custom` running kernel `name` of `library` ("aot").

    When the library exports `<name>InferShape`, shapes are inferred by it (out_shape is not used) and the op
    works in graphs with dynamic input shapes; otherwise by `out_shape` (a function of the input shapes, as
    `ops.Custom` takes it), static shapes only. out_dtype, bprop: as `ops.Custom`. num_outputs > 1 tells
    MindSpore's C++ inference that the op returns a tuple.
    """
    if not has_infer_shape(library, name):
        return ops.Custom(f"{library}:{name}", out_shape=out_shape, out_dtype=out_dtype, func_type="aot", bprop=bprop)
    op = ops.Custom(f"{library}:{name}", out_shape=None, out_dtype=out_dtype, func_type="aot", bprop=bprop)
    op.add_prim_attr("reg_op_name", name)  # read by MindSpore's run-time shape inference of Custom ops
    if num_outputs > 1:
        op.add_prim_attr("multi_output", True)  # ops.Custom sets it only from a registration (reg_info)
    return op


def supports_dynamic_shape(network):
    """False when a cell of `network` cannot run in a graph with dynamic input shapes: a Custom AOT op that infers
    its shapes in Python only, or a cell that says so (`supports_dynamic_shape = False`, e.g. the DCN on MindSpore's
    ops); True otherwise."""
    for _, cell in network.cells_and_names():
        if not getattr(cell, "supports_dynamic_shape", True):
            return False
        for value in vars(cell).values():
            if isinstance(value, ops.Custom) and value.func_type == "aot" and not value.attrs.get("cpp_infer_shape"):
                return False
    return True


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


def swap_children(network, is_candidate, make, library=None, num_threads=None, cache_dir=DEFAULT_CACHE_DIR):
    """Replace every child `c` of `network`'s cells with `is_candidate(c)` (attributes, and the items of a
    SequentialCell or CellList) by `make(c, library)`, in the child's training mode; returns the count (see
    `swap_cells` for names and the no-library case)."""
    from mindspore import nn

    def swap(cell, library):
        count = 0
        for attr, child in list(cell.name_cells().items()):
            if not is_candidate(child):
                continue
            new = make(child, library)
            new.set_train(child.training)  # a new Cell starts in inference mode; keep the network's mode
            if isinstance(cell, (nn.SequentialCell, nn.CellList)):
                cell[int(attr)] = new
            else:
                setattr(cell, attr, new)
            count += 1
        return count

    return swap_cells(network, swap, library, num_threads, cache_dir)
