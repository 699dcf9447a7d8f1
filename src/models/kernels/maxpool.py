"""The ResNet stem's 3x3 / stride-2 / padding-1 max-pool on the compiled CPU kernel (`maxpool_cpu.cc`).

Why: MindSpore 2.10's CPU forms of this pool (`ops.Pad` + a valid MaxPool, which `StemMaxPool` uses because it
exports to ONNX, or MaxPool3DWithArgmax) took 140-360 ms for the 64 x 256 x 256 map of a 512x512 input, more
than the whole first residual stage; the kernel makes it one pass over the map (see maxpool_cpu.cc).

`FastStemMaxPool` computes PyTorch's `max_pool2d(x, 3, 2, 1)` (taps outside the map left out) for any x; for the
non-negative x the stem feeds it, that equals `StemMaxPool`'s zero border. Its gradient goes to the first maximum
of each window in row-major order (PyTorch's rule); where a window's maximum is unique it equals MindSpore's
MaxPoolGrad, and where values tie (windows of zeros after the ReLU) any choice is a valid subgradient.
`enable_fast_maxpool(network)` swaps every `StemMaxPool` child (attributes and SequentialCell items), in place;
there are no parameters. Library build, caching and the CPU-only rule: `src/models/kernels/library.py`.
"""
import mindspore as ms
from mindspore import nn

from src.models.kernels.library import DEFAULT_CACHE_DIR, aot_op, swap_children
from src.models.resnet import StemMaxPool

__all__ = ["FastStemMaxPool", "enable_fast_maxpool"]


def _pooled(size):
    return (size - 1) // 2 + 1


def _maxpool_op(library):
    """Forward Custom op x -> y with its bprop (the kernel's input gradient)."""
    backward = aot_op(library, "MaxPool3x3S2Grad", lambda dy, x: x, lambda dy, x: x)

    def bprop(x, out, dout):
        return (backward(dout, x),)

    return aot_op(library, "MaxPool3x3S2", lambda x: [x[0], x[1], _pooled(x[2]), _pooled(x[3])], lambda x: x,
                  bprop=bprop)


class FastStemMaxPool(nn.Cell):
    """`StemMaxPool` (3x3, stride 2, padding 1) computed by the compiled kernel; inputs of another float type are
    computed in float32 and cast back."""

    def __init__(self, pool, library):
        if type(pool) is not StemMaxPool:
            raise ValueError(f"FastStemMaxPool: expected a StemMaxPool, got {type(pool).__name__}")
        super().__init__()
        self.kernel_op = _maxpool_op(str(library))

    def construct(self, x):
        dtype = x.dtype
        if dtype != ms.float32:
            return self.kernel_op(x.astype(ms.float32)).astype(dtype)
        return self.kernel_op(x)

    def extend_repr(self):
        return "kernel=maxpool_cpu 3x3/2 pad 1"


def enable_fast_maxpool(network, library=None, num_threads=None, cache_dir=DEFAULT_CACHE_DIR):
    """Swap every `StemMaxPool` child of `network`'s cells for a `FastStemMaxPool`, in place; returns the count
    (0, leaving the network unchanged, when not on CPU or the library cannot be built). library, num_threads,
    cache_dir: as `src.models.kernels.depthwise.enable_fast_depthwise`."""
    return swap_children(network, lambda cell: type(cell) is StemMaxPool, FastStemMaxPool, library, num_threads,
                         cache_dir)
