"""Dense 3x3 / stride 1 / padding 1 convolutions by Winograd F(2x2, 3x3) on the compiled transforms
(`winograd_cpu.cc`) and MindSpore's batched matrix product.

Why: MindSpore 2.10's CPU convolution (oneDNN im2col + GEMM under the AVX2 cap) was 1.2-1.4x slower than
PyTorch's direct convolution on DLA-34's 3x3 layers, which with CenterNet's six 256-wide head convs are ~75% of
the pose network's arithmetic. F(2x2, 3x3) (Lavin & Gray 2016) needs 16 multiplications per 2x2 output tile
instead of 36: y = A^T [(G g G^T) (.) (B^T d B)] A. The input transform V = B^T d B and the output transform
run in the kernel; U = G g G^T and the 16 channel products M[k] = U[k] @ V[k] are MindSpore ops, so MindSpore
differentiates them and the kernel's adjoint transforms carry the gradient to the input: the backward pass
(input and weight gradients) runs at the Winograd cost as well. The transform coefficients are 0, +-1 and
+-1/2, so results equal the direct convolution up to float32 summation order.

`enable_winograd_conv(network)` swaps, in place, every eligible `nn.Conv2d` child (3x3, stride 1, padding 1,
dilation 1, one group, NCHW, float32, at least MIN_IN_CHANNELS inputs; in SequentialCells too) for a
`WinogradConv2d` carrying the *same* Parameters, so names, checkpoints and optimizers are unaffected; call it after
`fold_batchnorm`, which builds new convs. Library build, caching and the CPU-only rule: `src/models/kernels/library.py`.
"""
import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

from src.models.kernels.library import DEFAULT_CACHE_DIR, aot_op, swap_children

__all__ = ["WinogradConv2d", "is_winograd_candidate", "enable_winograd_conv", "WINOGRAD_G", "MIN_IN_CHANNELS"]

# G of F(2x2, 3x3): U = G g G^T maps a 3x3 kernel to the 4x4 Winograd domain.
# Fewer input channels leave too little arithmetic per transformed value: measured (interleaved with MindSpore's
# convolution, batch 1, 2 threads) 0.6x MindSpore's time at 64 -> 64 channels, 128x128, 0.75x at 32 -> 32 channels,
# 256x256, but 1.2x at 16 -> 16 channels, 512x512 (DLA-34's level0, which stays on MindSpore's op).
MIN_IN_CHANNELS = 32
WINOGRAD_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]], np.float32)


def _transform_ops(library):
    """(input transform x -> V (16, C, P), output transform (M (16, O, P), x) -> Y (N, O, H, W)), each with the
    adjoint of the other side as its bprop. The output transform reads only x's shape."""
    input_adjoint = aot_op(library, "WinogradInputAdjoint", lambda dv, x: x, lambda dv, x: x)
    output_adjoint = aot_op(library, "WinogradOutputAdjoint",
                            lambda dy: [16, dy[1], dy[0] * ((dy[2] + 1) // 2) * ((dy[3] + 1) // 2)],
                            lambda dy: dy)

    def input_bprop(x, out, dout):
        return (input_adjoint(dout, x),)

    def output_bprop(m, x, out, dout):
        return output_adjoint(dout), ops.zeros_like(x)

    forward_in = aot_op(library, "WinogradInput", lambda x: [16, x[1], x[0] * ((x[2] + 1) // 2) * ((x[3] + 1) // 2)],
                        lambda x: x, bprop=input_bprop)
    forward_out = aot_op(library, "WinogradOutput", lambda m, x: [x[0], m[1], x[2], x[3]], lambda m, x: m,
                         bprop=output_bprop)
    return forward_in, forward_out


def is_winograd_candidate(conv):
    """True for an `nn.Conv2d` the transforms compute exactly (dense 3x3, stride 1, padding 1, float32, NCHW) and
    faster than MindSpore's convolution (at least MIN_IN_CHANNELS input channels)."""
    if type(conv) is not nn.Conv2d or conv.in_channels < MIN_IN_CHANNELS:
        return False
    padding = conv.padding if isinstance(conv.padding, tuple) else (conv.padding,) * 4
    return (tuple(conv.kernel_size) == (3, 3) and conv.group == 1 and tuple(conv.stride) == (1, 1)
            and tuple(conv.dilation) == (1, 1) and conv.pad_mode == "pad" and set(padding) == {1}
            and conv.data_format == "NCHW" and conv.weight.dtype == ms.float32)


class WinogradConv2d(nn.Conv2d):
    """An `nn.Conv2d` taken over from `conv` (same Parameters) computed by Winograd F(2x2, 3x3). Inputs of another
    float type are computed in float32 and cast back."""

    def __init__(self, conv, library):
        if not is_winograd_candidate(conv):
            raise ValueError(f"WinogradConv2d: {conv} is not a dense 3x3 float32 conv with stride 1 and padding 1")
        super().__init__(conv.in_channels, conv.out_channels, 3, 1, pad_mode="pad", padding=1,
                         has_bias=conv.has_bias, weight_init="zeros", bias_init="zeros" if conv.has_bias else None)
        self.weight = conv.weight
        if conv.has_bias:
            self.bias = conv.bias
        self.transform_kron = Tensor(np.kron(WINOGRAD_G, WINOGRAD_G))  # [4a + b, 3i + j] = G[a, i] G[b, j]
        self.matmul_transposed = ops.MatMul(transpose_b=True)
        self.input_transform, self.output_transform = _transform_ops(str(library))
        self.batch_matmul = ops.BatchMatMul()

    def construct(self, x):
        dtype = x.dtype
        if dtype != ms.float32:
            x = x.astype(ms.float32)
        # U = G g G^T of every (o, c) at once: (G kron G) (16, 9) @ g (O*C, 9)^T, already in (16, O*C) order
        g = self.weight.astype(ms.float32).reshape(self.out_channels * self.in_channels, 9)
        u = self.matmul_transposed(self.transform_kron, g).reshape(16, self.out_channels, self.in_channels)
        m = self.batch_matmul(u, self.input_transform(x))  # (16, O, P)
        y = self.output_transform(m, ops.stop_gradient(x))
        if self.has_bias:
            y = ops.bias_add(y, self.bias.astype(ms.float32))
        if dtype != ms.float32:
            y = y.astype(dtype)
        return y

    def extend_repr(self):
        return super().extend_repr() + ", kernel=winograd_cpu F(2x2,3x3)"


def enable_winograd_conv(network, library=None, num_threads=None, cache_dir=DEFAULT_CACHE_DIR):
    """Swap every eligible `nn.Conv2d` child of `network`'s cells (attributes and SequentialCell items) for a
    `WinogradConv2d`, in place; returns the count (0, leaving the network unchanged, when not on CPU or the
    library cannot be built). library, num_threads, cache_dir: as `enable_fast_depthwise`."""

    return swap_children(network, is_winograd_candidate, WinogradConv2d, library, num_threads, cache_dir)
