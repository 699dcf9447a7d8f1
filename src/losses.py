"""CenterFace training losses (MindSpore Cells, GRAPH_MODE and PYNATIVE_MODE).

* `FocalLoss`: the penalty-reduced pixel-wise focal loss of CornerNet/CenterNet (Law & Deng 2018,
  Zhou et al. 2019) on the post-sigmoid heatmap, alpha=2, beta=4, summed over the batch and divided by
  the number of positive cells of the batch (at least 1).
* `RegLoss`: regression of per-object values read from dense prediction maps at object centres
  (`ind = row * w + col`), masked SmoothL1 or L1, optional per-object weight, divided by
  `mask.sum() + 1e-4`.
* `CenterFaceLoss`: the CenterFace objective (DESIGN.md §3, weights of the old MindSpore zoo)
  `hm_weight * focal(heatmap) + wh_weight * SmoothL1(scale, weighted by size_weight)
  + off_weight * SmoothL1(offset) + lm_weight * L1(landmarks, landmark_mask)`.

Normalisation follows the zoo: the regression sums are divided by the sum of the mask *as passed*,
so an object mask (N,K) counts objects (each contributes all its C channels) while a per-channel
mask (N,K,C) such as `landmark_mask` counts valid coordinates.
"""
import mindspore as ms
from mindspore import nn, ops

__all__ = ["FocalLoss", "RegLoss", "CenterFaceLoss", "gather_at_indices", "smooth_l1"]


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


class CenterFaceLoss(nn.Cell):
    """CenterFace objective; returns `(total, hm_loss, wh_loss, off_loss, lm_loss)` (float32 scalars).

    construct(heatmap_pred (N,1,h,w) post-sigmoid, scale_pred (N,2,h,w), offset_pred (N,2,h,w),
              landmarks_pred (N,10,h,w),
              heatmap (N,1,h,w), ind (N,K) int32, mask (N,K), scale (N,K,2), offset (N,K,2),
              landmarks (N,K,10), landmark_mask (N,K,10), size_weight (N,K))
    i.e. the network's four outputs followed by the targets in the order of `src/data/targets.py`.
    Default weights are the zoo's (DESIGN.md §3). Unlike the zoo, `size_weight` weights only the
    scale term, not the offset term.
    """

    def __init__(self, hm_weight=1.0, wh_weight=0.1, off_weight=1.0, lm_weight=0.1):
        super().__init__()
        self.hm_weight = float(hm_weight)
        self.wh_weight = float(wh_weight)
        self.off_weight = float(off_weight)
        self.lm_weight = float(lm_weight)
        self.focal = FocalLoss()
        self.smooth_l1 = RegLoss("smooth_l1")
        self.l1 = RegLoss("l1")

    def construct(self, heatmap_pred, scale_pred, offset_pred, landmarks_pred,
                  heatmap, ind, mask, scale, offset, landmarks, landmark_mask, size_weight):
        hm_loss = self.focal(heatmap_pred, heatmap)
        wh_loss = self.smooth_l1(scale_pred, ind, mask, scale, size_weight)
        off_loss = self.smooth_l1(offset_pred, ind, mask, offset)
        lm_loss = self.l1(landmarks_pred, ind, landmark_mask, landmarks)
        total = (self.hm_weight * hm_loss + self.wh_weight * wh_loss
                 + self.off_weight * off_loss + self.lm_weight * lm_loss)
        return total, hm_loss, wh_loss, off_loss, lm_loss
