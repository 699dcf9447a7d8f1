"""CenterNet's heat-map focal loss on logits in one compiled pass each way (`focal_cpu.cc`).

Why: on MindSpore's ops `FocalLossWithLogits` (src/losses.py) is ~20 element-wise passes forward and ~30 backward
over the whole heat map; for COCO detection at batch 8, 512x512 (80 x 128 x 128 per image) the ctdet loss took 380
ms of a training step against 174 ms for PyTorch's eager loss (docs/performance.md).

`enable_fast_focal_loss(loss)` gives every `FocalLossWithLogits` inside the loss Cell `loss` the compiled op
(`kernel_op`); the cell's own construct then calls it. Same value and gradient as MindSpore's ops up to float32
rounding (the sums are taken in double); the CenterNet tasks' losses use it, CenterFace's (a sigmoid inside the
network, `FocalLoss` on probabilities) does not. Library build, caching and the CPU-only rule:
`src/models/kernels/library.py`.
"""
from mindspore import ops

from src.models.kernels.library import DEFAULT_CACHE_DIR, aot_op, swap_cells

__all__ = ["focal_logits_op", "enable_fast_focal_loss"]


def focal_logits_op(library):
    """`op(logits, target, (alpha, beta, eps)) -> float32 (2,) = (sum of the per-cell terms, positive cells)`, with
    the logits' gradient as its bprop (the count has none)."""
    backward = aot_op(library, "FocalLogitsBackward", lambda x, t, e, dout: x, lambda x, t, e, dout: x)

    def bprop(logits, target, exponents, out, dout):
        return backward(logits, target, exponents, dout), ops.zeros_like(target), ops.zeros_like(exponents)

    return aot_op(library, "FocalLogitsForward", lambda x, t, e: [2], lambda x, t, e: x, bprop=bprop)


def enable_fast_focal_loss(loss, library=None, num_threads=None, cache_dir=DEFAULT_CACHE_DIR):
    """Give every cell of `loss` that takes the kernel (`accepts_focal_kernel`, i.e. `FocalLossWithLogits`) the
    compiled op, in place; returns how many. 0, leaving `loss` unchanged, when not on CPU or the library cannot be
    built (warned once). library, num_threads, cache_dir: as `enable_fast_depthwise`."""

    def swap(cell, library):
        if not getattr(cell, "accepts_focal_kernel", False) or cell.kernel_op is not None:
            return 0
        cell.kernel_op = focal_logits_op(str(library))
        return 1

    return swap_cells(loss, swap, library, num_threads, cache_dir)
