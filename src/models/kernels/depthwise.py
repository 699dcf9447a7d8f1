"""Depthwise 3x3 convolutions on the compiled CPU kernel (`depthwise_cpu.cc`) behind `ops.Custom`.

Why: with `ONEDNN_MAX_CPU_ISA=AVX2` (needed on AVX-512 CPUs, docs/design.md "Platform facts") MindSpore 2.10 runs every
NCHW depthwise conv through oneDNN's im2col + GEMM path. Those 17 layers were ~60% of CenterFace's conv time in
inference and about half of the training step's oneDNN time, while a direct kernel is bound by memory traffic (README
"Performance").

`enable_fast_depthwise(network)` swaps, in place, every eligible `nn.Conv2d` (3x3, group = channels,
stride 1 or 2, padding 1, dilation 1, float32) held as `cell.conv` for a `FastDepthwiseConv2d` carrying the
*same* Parameter objects, so parameter names, checkpoints and optimizers are unaffected. Forward and
backward (input and weight gradients, in the op's bprop) run the kernel; results equal oneDNN's up to
float32 summation order. For BN-folded inference (`fold_bn.fold_batchnorm`), a `ConvBNAct` whose BN is
gone and whose activation is ReLU also gets its bias and ReLU fused into the kernel.
Library build, caching and the CPU-only rule: `src/models/kernels/library.py`.
"""
import mindspore as ms
from mindspore import nn, ops

from src.models.kernels.library import DEFAULT_CACHE_DIR, aot_op, swap_cells

__all__ = ["FastDepthwiseConv2d", "is_fast_depthwise_candidate", "enable_fast_depthwise"]


def _out_size(size, stride):
    return (size - 1) // stride + 1


def _depthwise_op(library, stride, bias_relu):
    """The forward Custom op with its bprop: `(x, weight)`, or `(x, weight, bias)` with bias+ReLU fused."""
    prefix = f"DwConv3x3S{stride}"

    def out_shape(x_shape, *_):
        return [x_shape[0], x_shape[1], _out_size(x_shape[2], stride), _out_size(x_shape[3], stride)]

    def same_dtype(x_dtype, *_):
        return x_dtype

    grad_input = aot_op(library, f"{prefix}GradInput", lambda dy, w, x: x, same_dtype)
    grad_weight = aot_op(library, f"{prefix}GradWeight", lambda dy, x: [x[1], 1, 3, 3], same_dtype)

    def bprop(x, weight, out, dout):
        return grad_input(dout, weight, x), grad_weight(dout, x)

    def bprop_bias_relu(x, weight, bias, out, dout):
        grad = dout * (out > 0).astype(dout.dtype)  # through the ReLU
        return grad_input(grad, weight, x), grad_weight(grad, x), grad.sum(axis=(0, 2, 3))

    if bias_relu:
        return aot_op(library, f"{prefix}BiasRelu", out_shape, same_dtype, bprop=bprop_bias_relu)
    return aot_op(library, prefix, out_shape, same_dtype, bprop=bprop)


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

    `fuse_bias_relu=True` (needs a bias) returns `relu(conv(x) + bias)` in one pass (meant for BN-folded
    inference; differentiable too). Inputs of another float type are computed in float32 and cast back.
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
        self.kernel_op = _depthwise_op(str(library), int(tuple(conv.stride)[0]), self.fuse_bias_relu)

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


def enable_fast_depthwise(network, library=None, num_threads=None, fuse_bias_relu=True,
                          cache_dir=DEFAULT_CACHE_DIR):
    """Swap every eligible `cell.conv` of `network` for a `FastDepthwiseConv2d`, in place; returns the count.

    library: a built kernel library (`cpu_kernels.build_kernel_library`; built into `cache_dir` if None).
    num_threads: threads per kernel call; None = MindSpore's `runtime_num_threads` (0 = all cores).
    fuse_bias_relu: in a `ConvBNAct` whose BN was folded away and whose activation is ReLU, run the bias and
        ReLU inside the kernel.
    Returns 0, leaving the network unchanged, when not on CPU or the library cannot be built (warned once).
    Call after `fold_batchnorm`, which rebuilds the convs it folds.
    """
    from src.models.layers import ConvBNAct

    def swap(cell, library):
        conv = getattr(cell, "conv", None)
        if not is_fast_depthwise_candidate(conv):
            return 0
        fuse = (fuse_bias_relu and isinstance(cell, ConvBNAct) and isinstance(cell.bn, nn.Identity)
                and type(cell.act) is nn.ReLU and conv.has_bias)
        fast = FastDepthwiseConv2d(conv, library, fuse_bias_relu=fuse)
        fast.set_train(conv.training)  # a new Cell starts in inference mode; keep the network's mode
        cell.conv = fast
        if fuse:
            cell.act = None
        return 1

    return swap_cells(network, swap, library, num_threads, cache_dir)
