"""Losses shared by the "objects as points" models (MindSpore Cells, GRAPH_MODE and PYNATIVE_MODE).

* `FocalLoss`: the penalty-reduced pixel-wise focal loss of CornerNet/CenterNet (Law & Deng 2018,
  Zhou et al. 2019) on the post-sigmoid heatmap, alpha=2, beta=4, summed over the batch and divided by
  the number of positive cells of the batch (at least 1).
* `FocalLossWithLogits`: the same on `sigmoid(logits)` (the CenterNet tasks' heat maps); on CPU a compiled
  kernel computes it in one pass each way (`src/models/kernels/focal.py`, given by `enable_fast_focal_loss`).
* `RegLoss`: regression of per-object values read from dense prediction maps at object centres
  (`ind = row * w + col`), masked SmoothL1 or L1, optional per-object weight, divided by
  `mask.sum() + 1e-4`.
* `ObjectRegLoss`: the CenterNet tasks' size / offset terms (the original's `RegL1Loss` and `RegLoss`) on
  `RegLoss` with an object mask.

Normalisation: the regression sums are divided by the sum of the mask *as passed*, so an object mask (N,K)
counts objects (each contributes all its C channels) while a per-channel mask (N,K,C) such as CenterFace's
`landmark_mask` counts valid coordinates. Each model's weighted objective is in its package
(src/centerface/loss.py, src/centernet_pose/loss.py, src/centernet_det/loss.py).
"""
import mindspore as ms
from mindspore import nn, ops

__all__ = ["FocalLoss", "FocalLossWithLogits", "RegLoss", "ObjectRegLoss", "REG_LOSS_KINDS", "gather_at_indices",
           "smooth_l1"]

REG_LOSS_KINDS = ("l1", "sl1")  # the original CenterNet's --reg_loss


def gather_at_indices(maps, ind):
    """Values of `maps (N,C,h,w)` at flat cell indices `ind (N,K)` (= row*w + col) -> (N,K,C)."""
    n, c, h, w = maps.shape
    flat = maps.reshape(n, c, h * w)
    index = ops.broadcast_to(ind.astype(ms.int32).reshape(n, 1, -1), (n, c, ind.shape[1]))
    return ops.gather_elements(flat, 2, index).transpose(0, 2, 1)


def smooth_l1(diff, beta=1.0):
    """Element-wise SmoothL1 (Huber with transition at `beta`): 0.5 d^2/beta if |d| < beta else |d| - beta/2."""
    absd = ops.abs(diff)
    return ops.where(absd < beta, 0.5 * diff * diff / beta, absd - 0.5 * beta)


class FocalLoss(nn.Cell):
    """Penalty-reduced focal loss on a post-sigmoid heatmap (CornerNet eq. 1, CenterNet eq. 1).

    Positives are the cells whose target is exactly 1 (the Gaussian peaks); every other cell is a
    negative down-weighted by `(1 - target)^beta`.

    Numerical safety: predictions are clipped to `[eps, 1 - eps]` in the *forward value* only, with a
    straight-through gradient (`p + stop_gradient(clip(p) - p)`). So the loss and its gradient are
    finite for predictions of exactly 0 or 1, and unlike a plain clip the gradient does not vanish
    for a saturated prediction (it is the gradient at the clip boundary). eps=1e-4 is CenterNet's
    clamp of the sigmoid output.
    """

    def __init__(self, alpha=2.0, beta=4.0, eps=1e-4):
        super().__init__()
        if not 0.0 < eps < 0.5:
            raise ValueError(f"FocalLoss: eps must be in (0, 0.5), got {eps}")
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.eps = float(eps)

    def construct(self, pred, target):
        pred = pred.astype(ms.float32)
        target = target.astype(ms.float32)
        clipped = ops.clamp(pred, self.eps, 1.0 - self.eps)
        pred = pred + ops.stop_gradient(clipped - pred)
        pos = (target == 1.0).astype(ms.float32)
        neg = 1.0 - pos
        pos_loss = ops.log(pred) * ops.pow(1.0 - pred, self.alpha) * pos
        neg_loss = ops.log(1.0 - pred) * ops.pow(pred, self.alpha) * ops.pow(1.0 - target, self.beta) * neg
        num_pos = ops.maximum(pos.sum(), 1.0)
        return -(pos_loss.sum() + neg_loss.sum()) / num_pos


class FocalLossWithLogits(FocalLoss):
    """`FocalLoss` of `sigmoid(logits)`: construct(logits, target), logits of any float type (computed in float32).

    `kernel_op`: None computes it with MindSpore's ops; `enable_fast_focal_loss` (src/models/kernels/focal.py)
    sets the compiled op, which returns (sum of the per-cell terms, positive cells) and gives the same value and
    gradient up to float32 rounding (tests/models/kernels/test_focal.py).
    """

    accepts_focal_kernel = True

    def __init__(self, alpha=2.0, beta=4.0, eps=1e-4):
        super().__init__(alpha, beta, eps)
        self.kernel_op = None
        self.exponents = ms.Tensor([self.alpha, self.beta, self.eps], ms.float32)

    def construct(self, logits, target):
        logits = logits.astype(ms.float32)
        if self.kernel_op is None:
            return super().construct(ops.sigmoid(logits), target)
        sums = self.kernel_op(logits, target.astype(ms.float32), self.exponents)
        return -sums[0] / ops.maximum(sums[1], 1.0)


class RegLoss(nn.Cell):
    """Masked regression loss of prediction maps gathered at object centres.

    construct(pred (N,C,h,w), ind (N,K) int, mask (N,K) or (N,K,C), target (N,K,C), weight (N,K) or None)
    returns `sum(l(pred_k - target_k) * mask * weight) / (sum(mask) + 1e-4)` with `l` SmoothL1 (beta 1)
    or L1 element-wise. Entries with mask 0 contribute exactly 0 whatever their (possibly garbage) values.
    """

    def __init__(self, kind="smooth_l1"):
        super().__init__()
        if kind not in ("smooth_l1", "l1"):
            raise ValueError(f"RegLoss: kind must be 'smooth_l1' or 'l1', got {kind!r}")
        self.use_smooth_l1 = kind == "smooth_l1"

    def construct(self, pred, ind, mask, target, weight=None):
        gathered = gather_at_indices(pred.astype(ms.float32), ind)
        diff = gathered - target.astype(ms.float32)
        if self.use_smooth_l1:
            elem = smooth_l1(diff)
        else:
            elem = ops.abs(diff)
        mask = mask.astype(ms.float32)
        if mask.ndim == 2:
            mask = mask.expand_dims(-1)
        full_mask = ops.broadcast_to(mask, elem.shape)
        if weight is not None:
            elem = elem * weight.astype(ms.float32).expand_dims(-1)
        elem = ops.where(full_mask > 0.0, elem * full_mask, ops.zeros_like(elem))
        return elem.sum() / (mask.sum() + 1e-4)


class ObjectRegLoss(nn.Cell):
    """A CenterNet size / offset term (``wh``, ``reg``, pose's ``hp_offset``): values of `pred (N,C,h,w)` at
    `ind (N,K)` against `target (N,K,C)` for the objects of `mask (N,K)`, as the original's losses:

    * "l1" (``RegL1Loss``): ``sum |pred - t| * mask / (mask expanded over the C coordinates, summed, + 1e-4)``,
      i.e. divided by C x objects;
    * "sl1" (``RegLoss``): ``sum smoothL1(pred - t) * mask / (sum mask + 1e-4)``, divided by the object count.
    """

    def __init__(self, kind="l1"):
        super().__init__()
        if kind not in REG_LOSS_KINDS:
            raise ValueError(f"ObjectRegLoss: kind must be one of {REG_LOSS_KINDS}, got {kind!r}")
        self.expand_mask = kind == "l1"
        self.reg = RegLoss("l1" if self.expand_mask else "smooth_l1")

    def construct(self, pred, ind, mask, target):
        if self.expand_mask:
            mask = ops.broadcast_to(mask.astype(ms.float32).expand_dims(-1), target.shape)
        return self.reg(pred, ind, mask, target)
