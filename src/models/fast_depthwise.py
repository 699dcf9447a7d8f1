"""Faster depthwise 3x3 convolutions on CPU: a compiled kernel (`depthwise_cpu.cc`) behind `ops.Custom`.

Why: with `ONEDNN_MAX_CPU_ISA=AVX2` (needed on AVX-512 CPUs, DESIGN.md §1) MindSpore 2.10 runs every NCHW
depthwise conv through oneDNN's im2col + GEMM path. Those 17 layers were ~60% of CenterFace's conv time in
inference and about half of the training step's oneDNN time, while a direct kernel is bound by memory
traffic (measured on this project's 2-core machine: see README "Performance").

    from src.models.fast_depthwise import enable_fast_depthwise
    count = enable_fast_depthwise(network)   # in place; 0 if not on CPU or no C++ compiler

`enable_fast_depthwise` swaps, in place, every eligible `nn.Conv2d` (3x3, group = channels, stride 1 or 2,
padding 1, dilation 1, float32) held as `cell.conv` for a `FastDepthwiseConv2d` carrying the *same*
Parameter objects, so parameter names, checkpoints and optimizers are unaffected. Forward and backward
(input and weight gradients, in the op's bprop) run the compiled kernel; results equal oneDNN's up to
float32 summation order. For BN-folded inference (`fold_bn.fold_batchnorm`), a `ConvBNAct` whose BN is gone
and whose activation is ReLU also gets its bias and ReLU fused into the kernel.

The kernel library is compiled on first use with the system C++ compiler (`g++ -O3 -march=native`, ~2 s)
into a cache folder (default `<repo>/.cache/kernels`), keyed by the source, flags, compiler and CPU, and
written atomically. Without a compiler, `enable_fast_depthwise` warns once and leaves the network as is.
Only for the CPU target and for execution: export (`export.py`) works on a network without the swap
(a Custom AOT op cannot be written to ONNX or run elsewhere).
"""
import ctypes
import hashlib
import os
import platform
import subprocess
import warnings
from pathlib import Path

import mindspore as ms
from mindspore import nn, ops

__all__ = ["KernelBuildError", "build_kernel_library", "FastDepthwiseConv2d", "is_fast_depthwise_candidate",
           "enable_fast_depthwise", "set_kernel_threads"]

KERNEL_SOURCE = Path(__file__).resolve().with_name("depthwise_cpu.cc")
DEFAULT_CACHE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "kernels"
COMPILE_FLAGS = ("-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-pthread")
_warned = set()


class KernelBuildError(RuntimeError):
    """The kernel library could not be compiled (no compiler, or the compiler failed)."""


def _cpu_identity():
    """Model name and feature flags: a library built with -march=native must not be reused on another CPU."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    lines = [line for line in text.splitlines() if line.startswith(("model name", "flags"))]
    return "\n".join(sorted(set(lines)))


def _compiler_version(compiler):
    try:
        result = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30, check=True)
    except FileNotFoundError as err:
        raise KernelBuildError(f"C++ compiler {compiler!r} not found: install g++ to build {KERNEL_SOURCE.name}") \
            from err
    except (subprocess.SubprocessError, OSError) as err:
        raise KernelBuildError(f"C++ compiler {compiler!r} does not run: {err}") from err
    return result.stdout.splitlines()[0] if result.stdout else compiler


def build_kernel_library(cache_dir=DEFAULT_CACHE_DIR, compiler="g++", source=KERNEL_SOURCE):
    """Path of the compiled kernel library, compiling it into `cache_dir` if not there yet.

    Raises KernelBuildError (one line: what failed and why) when it cannot be built.
    """
    source = Path(source)
    if not source.is_file():
        raise KernelBuildError(f"kernel source {source}: no such file")
    version = _compiler_version(compiler)
    key = hashlib.sha256("\n".join([source.read_text(), " ".join(COMPILE_FLAGS), version,
                                    _cpu_identity()]).encode()).hexdigest()[:16]
    cache_dir = Path(cache_dir)
    target = cache_dir / f"{source.stem}-{key}.so"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{target.name}.{os.getpid()}.tmp"
    try:
        result = subprocess.run([compiler, *COMPILE_FLAGS, "-o", str(tmp), str(source)], capture_output=True,
                                text=True, timeout=300)
        if result.returncode != 0:
            errors = [line for line in result.stderr.splitlines() if "error" in line] or result.stderr.splitlines()
            raise KernelBuildError(f"{compiler} failed on {source}: {errors[0] if errors else 'no message'}")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def set_kernel_threads(library, num_threads):
    """Threads each kernel call uses (0 = all cores); the library is shared with MindSpore's loaded copy."""
    if int(num_threads) < 0:
        raise ValueError(f"set_kernel_threads: num_threads must be >= 0, got {num_threads!r}")
    ctypes.CDLL(str(library)).DwSetNumThreads(int(num_threads))


def _out_size(size, stride):
    return (size - 1) // stride + 1


def _depthwise_ops(library, stride, bias_relu):
    """(forward Custom op with its bprop, or a fused bias+ReLU forward op without one)."""
    prefix = f"{library}:DwConv3x3S{stride}"

    def out_shape(x_shape, *_):
        return [x_shape[0], x_shape[1], _out_size(x_shape[2], stride), _out_size(x_shape[3], stride)]

    def same_dtype(x_dtype, *_):
        return x_dtype

    if bias_relu:
        return ops.Custom(prefix + "BiasRelu", out_shape=out_shape, out_dtype=same_dtype, func_type="aot")
    grad_input = ops.Custom(prefix + "GradInput", out_shape=lambda dy, w, x: x, out_dtype=same_dtype,
                            func_type="aot")
    grad_weight = ops.Custom(prefix + "GradWeight", out_shape=lambda dy, x: [x[1], 1, 3, 3], out_dtype=same_dtype,
                             func_type="aot")

    def bprop(x, weight, out, dout):
        return grad_input(dout, weight, x), grad_weight(dout, x)

    return ops.Custom(prefix, out_shape=out_shape, out_dtype=same_dtype, func_type="aot", bprop=bprop)


def is_fast_depthwise_candidate(conv):
    """True for an `nn.Conv2d` the kernel computes exactly: depthwise 3x3, stride 1|2, padding 1, float32."""
    if not isinstance(conv, nn.Conv2d) or isinstance(conv, FastDepthwiseConv2d):
        return False
    padding = conv.padding if isinstance(conv.padding, tuple) else (conv.padding,) * 4
    stride = tuple(conv.stride)
    return (tuple(conv.kernel_size) == (3, 3) and conv.group == conv.in_channels == conv.out_channels
            and tuple(conv.dilation) == (1, 1) and conv.pad_mode == "pad" and set(padding) == {1}
            and len(set(stride)) == 1 and stride[0] in (1, 2) and conv.data_format == "NCHW"
            and conv.weight.dtype == ms.float32)


class FastDepthwiseConv2d(nn.Conv2d):
    """An `nn.Conv2d` (taken over from `conv`, same Parameters) computed by the compiled kernel.

    `fuse_bias_relu=True` (needs a bias) returns `relu(conv(x) + bias)` in one pass; that variant has no
    gradient (inference only). Inputs of another float type are computed in float32 and cast back.
    """

    def __init__(self, conv, library, fuse_bias_relu=False):
        if not is_fast_depthwise_candidate(conv):
            raise ValueError(f"FastDepthwiseConv2d: {conv} is not a 3x3 depthwise float32 conv with padding 1 "
                             "and stride 1 or 2")
        if fuse_bias_relu and not conv.has_bias:
            raise ValueError("FastDepthwiseConv2d: fuse_bias_relu needs a conv with a bias (a BN-folded one)")
        super().__init__(conv.in_channels, conv.out_channels, 3, conv.stride, pad_mode="pad", padding=1,
                         group=conv.group, has_bias=conv.has_bias, weight_init="zeros",
                         bias_init="zeros" if conv.has_bias else None)
        self.weight = conv.weight
        if conv.has_bias:
            self.bias = conv.bias
        self.fuse_bias_relu = bool(fuse_bias_relu)
        self.kernel_op = _depthwise_ops(str(library), int(tuple(conv.stride)[0]), self.fuse_bias_relu)

    def construct(self, x):
        dtype = x.dtype
        if dtype != ms.float32:
            x = x.astype(ms.float32)
        if self.fuse_bias_relu:
            y = self.kernel_op(x, self.weight, self.bias)
        else:
            y = self.kernel_op(x, self.weight)
            if self.has_bias:
                y = ops.bias_add(y, self.bias)
        if dtype != ms.float32:
            y = y.astype(dtype)
        return y

    def extend_repr(self):
        return super().extend_repr() + f", kernel=depthwise_cpu, fuse_bias_relu={self.fuse_bias_relu}"


def _warn_once(message):
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def enable_fast_depthwise(network, library=None, num_threads=None, fuse_bias_relu=True,
                          cache_dir=DEFAULT_CACHE_DIR):
    """Swap every eligible `cell.conv` of `network` for a `FastDepthwiseConv2d`, in place; returns the count.

    library: a built kernel library path (built into `cache_dir` if None).
    num_threads: threads per kernel call; None = MindSpore's `runtime_num_threads` (0 = all cores).
    fuse_bias_relu: in a `ConvBNAct` whose BN was folded away and whose activation is ReLU, run the bias and
        ReLU inside the kernel (inference only: that variant has no gradient).
    Returns 0 (with a one-time warning saying why) when the device target is not CPU or the library cannot
    be built; the network is then unchanged. Call after `fold_batchnorm`, which rebuilds the convs it folds.
    """
    from src.models.mobilenet_v2 import ConvBNAct

    if ms.get_context("device_target") != "CPU":
        return 0
    if library is None:
        try:
            library = build_kernel_library(cache_dir)
        except KernelBuildError as err:
            _warn_once(f"fast depthwise convs disabled, using MindSpore's: {err}")
            return 0
    if num_threads is None:
        num_threads = ms.get_context("runtime_num_threads") or 0
    set_kernel_threads(library, num_threads)
    # Parameters attached to a new Cell get that Cell's short names ("conv.weight"); put the full ones back.
    names = [(param, param.name) for param in network.get_parameters()]
    count = 0
    for _, cell in list(network.cells_and_names()):
        conv = getattr(cell, "conv", None)
        if not is_fast_depthwise_candidate(conv):
            continue
        fuse = (fuse_bias_relu and isinstance(cell, ConvBNAct) and isinstance(cell.bn, nn.Identity)
                and type(cell.act) is nn.ReLU and conv.has_bias)
        cell.conv = FastDepthwiseConv2d(conv, library, fuse_bias_relu=fuse)
        if fuse:
            cell.act = None
        count += 1
    for param, name in names:
        param.name = name
    return count
