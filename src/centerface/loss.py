"""The CenterFace objective (docs/design.md "The old zoo's CenterFace recipe", weights of the old MindSpore zoo):
`hm_weight * focal(heatmap) + wh_weight * SmoothL1(scale, weighted by size_weight)
+ off_weight * SmoothL1(offset) + lm_weight * L1(landmarks, landmark_mask)`, built from the shared losses.
"""
from mindspore import nn

from src.losses import FocalLoss, RegLoss

__all__ = ["CenterFaceLoss", "LOSS_COMPONENTS"]

LOSS_COMPONENTS = ("hm", "wh", "off", "lm")


class CenterFaceLoss(nn.Cell):
    """CenterFace objective; returns `(total, hm_loss, wh_loss, off_loss, lm_loss)` (float32 scalars).

    construct(heatmap_pred (N,1,h,w) post-sigmoid, scale_pred (N,2,h,w), offset_pred (N,2,h,w),
              landmarks_pred (N,10,h,w),
              heatmap (N,1,h,w), ind (N,K) int32, mask (N,K), scale (N,K,2), offset (N,K,2),
              landmarks (N,K,10), landmark_mask (N,K,10), size_weight (N,K))
    i.e. the network's four outputs followed by the targets in the order of `src/data/targets.py`.
    Default weights are the zoo's (docs/design.md "The old zoo's CenterFace recipe"). Unlike the zoo, `size_weight`
    weights only the scale term, not the offset term.
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
