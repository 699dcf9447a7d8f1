"""BN-folded convs with their bias and ReLU in one compiled pass (`BiasReluNchw` in `cpu_kernels.cc`).

After `fold_bn.fold_batchnorm`, each `ConvBNAct` runs Conv2D, BiasAdd and ReLU: the last two are separate
passes over the conv's output in MindSpore 2.10 on CPU. `enable_fused_bias_relu(network)` makes every
such (non-depthwise) conv a `ConvBiasReLU`, which keeps MindSpore's Conv2D and follows it with one
bias+ReLU pass; the block's `act` becomes None. Same Parameters and names. Differentiable (the bprop uses
MindSpore ops), but meant for inference. Measured on the official model at 640x640: docs/performance.md
"Compiled CPU kernels".
Library build, caching and the CPU-only rule: `src/models/kernels/library.py`.
"""
from mindspore import nn, ops

from src.models.kernels.library import DEFAULT_CACHE_DIR, aot_op, swap_cells

__all__ = ["ConvBiasReLU", "enable_fused_bias_relu"]


def _bias_relu_op(library):
    def bprop(x, bias, out, dout):
        grad = dout * (out > 0).astype(dout.dtype)
        return grad, grad.sum(axis=(0, 2, 3))

    return aot_op(library, "BiasReluNchw", lambda x, b: x, lambda x, b: x, bprop=bprop)


class ConvBiasReLU(nn.Conv2d):
    """`relu(conv(x) + bias)` for an `nn.Conv2d` with a bias (taken over from `conv`: same Parameters)."""

    def __init__(self, conv, library):
        if type(conv) is not nn.Conv2d or not conv.has_bias or conv.data_format != "NCHW":
            raise ValueError(f"ConvBiasReLU: {conv} is not an NCHW nn.Conv2d with a bias")
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, pad_mode=conv.pad_mode,
                         padding=conv.padding, dilation=conv.dilation, group=conv.group, has_bias=True,
                         weight_init="zeros", bias_init="zeros")
        self.weight, self.bias = conv.weight, conv.bias
        self.bias_relu = _bias_relu_op(str(library))

    def construct(self, x):
        y = self.conv2d(x, self.weight)
        if y.dtype != self.bias.dtype:  # e.g. float16 under mixed precision: the kernel is float32
            return ops.relu(ops.bias_add(y, self.bias.astype(y.dtype)))
        return self.bias_relu(y, self.bias)

    def extend_repr(self):
        return super().extend_repr() + ", epilogue=bias_relu_cpu"


def enable_fused_bias_relu(network, library=None, num_threads=None, cache_dir=DEFAULT_CACHE_DIR):
    """Fuse bias+ReLU of every BN-folded `ConvBNAct` with a plain `nn.Conv2d` and a ReLU, in place.

    Returns the count; 0, leaving the network unchanged, when not on CPU or the library cannot be built.
    library, num_threads, cache_dir: as `fast_depthwise.enable_fast_depthwise` (run that first: it fuses the
    depthwise convs' epilogue itself).
    """
    from src.models.layers import ConvBNAct

    def swap(cell, library):
        if not (isinstance(cell, ConvBNAct) and type(cell.conv) is nn.Conv2d and cell.conv.has_bias
                and cell.conv.data_format == "NCHW" and isinstance(cell.bn, nn.Identity)
                and type(cell.act) is nn.ReLU):
            return 0
        fused = ConvBiasReLU(cell.conv, library)
        fused.set_train(cell.conv.training)
        cell.conv = fused
        cell.act = None
        return 1

    return swap_cells(network, swap, library, num_threads, cache_dir)
