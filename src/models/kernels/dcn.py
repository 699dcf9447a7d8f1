"""Modulated deformable convolutions (DCNv2) on the compiled CPU kernel (`dcn_cpu.cc`) behind `ops.Custom`.

Why: MindSpore 2.10's CPU `ops.deformable_conv2d` gathers the modulated samples into a (C, 3H, 3W) map and
convolves it with stride 3; one 64-channel layer at 128x128 took 134 ms against 68 ms for a grid_sample-based
PyTorch version (docs/centernet.md "Layer timings on this CPU"), and CenterNet's DLA-34 has 16 of them.

`FastModulatedDeformConv2d` computes the same function as `src.models.dcn.ModulatedDeformConv2d` as DCNv2's
own implementation does: the kernel samples every input channel at the nine offset positions of every pixel
into a column matrix cols (C*9, N*H*W) (bilinear, modulated by sigmoid(mask logit), reading the offset conv's
raw output in DCNv2's channel order, so the reordering gather of `ModulatedDeformConv2d` disappears), then
`weight (O, C*9) @ cols` is ONE MindSpore matrix product for the whole batch, transposed to (N, O, H, W), plus
the bias. (A product per image, broadcasting the weight, made MindSpore transpose every image's columns for the
weight gradient: 4.5 s of a 27 s batch-8 training step at 512x512, and a second copy of the columns in memory.)
The backward runs the kernel's col2im (gradients of the input and of the raw offsets and mask logits);
MindSpore differentiates the matrix product and the offset conv. Results equal MindSpore's op up to float32
summation order.

`enable_fast_dcn(network)` swaps, in place, every `ModulatedDeformConv2d` child for one carrying the *same*
Parameters and `conv_offset_mask` cell, so parameter names, checkpoints and optimizers are unaffected, in
training and inference mode alike. Library build, caching and the CPU-only, static-shape rules:
`src/models/kernels/library.py`.
"""
import mindspore as ms
from mindspore import nn, ops

from src.models.dcn import NUM_KERNEL_POINTS, ModulatedDeformConv2d
from src.models.kernels.library import DEFAULT_CACHE_DIR, aot_op, swap_children

__all__ = ["FastModulatedDeformConv2d", "deformable_im2col_op", "enable_fast_dcn"]


def deformable_im2col_op(library):
    """Custom op `(x (N,C,H,W), om (N,27,H,W) raw offset conv output) -> cols (C*9, N*H*W)` with its bprop
    `(dx, dom)`; `library` is the compiled kernel library's path."""
    library = str(library)
    backward = aot_op(library, "DcnIm2colGrad", lambda dcols, x, om: (x, om), lambda dcols, x, om: (x, x),
                      num_outputs=2)

    def bprop(x, om, out, dout):
        return backward(dout, x, om)

    return aot_op(library, "DcnIm2col", lambda x, om: [x[1] * NUM_KERNEL_POINTS, x[0] * x[2] * x[3]],
                  lambda x, om: x, bprop=bprop)


class FastModulatedDeformConv2d(ModulatedDeformConv2d):
    """A `ModulatedDeformConv2d` taken over from `dcn` (same Parameters and offset conv) computed by the compiled
    kernel plus a MindSpore matrix product. Inputs of another float type are computed in float32 and cast back."""

    supports_dynamic_shape = True  # the kernel infers its shapes in C++ (checked on the op: supports_dynamic_shape)

    def __init__(self, dcn, library):
        if type(dcn) is not ModulatedDeformConv2d:
            raise ValueError(f"FastModulatedDeformConv2d: expected a ModulatedDeformConv2d, got {type(dcn).__name__}")
        nn.Cell.__init__(self)  # not ModulatedDeformConv2d.__init__: the Parameters are taken over, not created
        self.weight, self.bias, self.conv_offset_mask = dcn.weight, dcn.bias, dcn.conv_offset_mask
        self.in_channels, self.out_channels = dcn.in_channels, dcn.out_channels
        self.im2col = deformable_im2col_op(library)
        self.matmul = ops.MatMul()
        self.to_batch_first = ops.Transpose()

    def construct(self, x):
        dtype = x.dtype
        if dtype != ms.float32:
            x = x.astype(ms.float32)
        n, _, height, width = x.shape
        offset_mask = self.conv_offset_mask(x).astype(ms.float32)
        cols = self.im2col(x, offset_mask)  # (C*9, N*H*W), row c*9 + k matches weight.reshape(O, C*9)
        weight = self.weight.astype(ms.float32).reshape(self.out_channels, self.in_channels * NUM_KERNEL_POINTS)
        y = self.matmul(weight, cols).reshape(self.out_channels, n, height, width)
        y = ops.bias_add(self.to_batch_first(y, (1, 0, 2, 3)), self.bias.astype(ms.float32))
        if dtype != ms.float32:
            y = y.astype(dtype)
        return y

    def extend_repr(self):
        return f"in_channels={self.in_channels}, out_channels={self.out_channels}, kernel=dcn_cpu"


def enable_fast_dcn(network, library=None, num_threads=None, cache_dir=DEFAULT_CACHE_DIR):
    """Swap every `ModulatedDeformConv2d` child of `network`'s cells for a `FastModulatedDeformConv2d`, in place.

    library, num_threads, cache_dir: as `src.models.kernels.depthwise.enable_fast_depthwise`.
    Returns the count; 0, leaving the network unchanged, when not on CPU or the library cannot be built.
    """
    return swap_children(network, lambda cell: type(cell) is ModulatedDeformConv2d, FastModulatedDeformConv2d,
                         library, num_threads, cache_dir)
