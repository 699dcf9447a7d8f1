"""CenterNet object-detection training loss (MindSpore Cell, GRAPH and PYNATIVE), as the original's ``CtdetLoss``
(``trains/ctdet.py``, ``models/losses.py`` of xingyizhou/CenterNet; facts only):

    total = hm_weight * hm_loss + wh_weight * wh_loss + off_weight * off_loss      (1, 0.1, 1)

* hm_loss: CornerNet focal loss (src/losses.py ``FocalLossWithLogits``) on ``sigmoid(hm)`` clamped to
  [1e-4, 1 - 1e-4] over all class channels, divided by the number of positive cells (target == 1) of the batch.
* wh_loss, off_loss at ``ind`` with ``reg_mask`` (src/losses.py ``ObjectRegLoss``): reg_loss "l1":
  ``sum |pred - t| * mask / (2 * sum mask + 1e-4)``; "sl1": smooth L1 / (sum mask + 1e-4).
* cat_spec_wh: wh_loss is the original's ``RegWeightedL1Loss``: ``sum |wh[ind] - cat_spec_wh| * cat_spec_mask /
  (sum cat_spec_mask + 1e-4)`` (the mask is 1 on the object's class pair only: divided by 2 x objects).

A term whose head is disabled (``reg_offset`` False) or whose weight is 0 is not computed and reported as 0, as
the original. Clamping: see src/centernet_pose/loss.py (the same straight-through clamp of the shared FocalLoss).
"""
import mindspore as ms
from mindspore import nn, ops

from src.losses import REG_LOSS_KINDS, FocalLossWithLogits, ObjectRegLoss, RegLoss

__all__ = ["CenterNetDetLoss", "LOSS_NAMES"]

# Names of construct's outputs, in order (the original's loss_stats order).
LOSS_NAMES = ("loss", "hm_loss", "wh_loss", "off_loss")


class CenterNetDetLoss(nn.Cell):
    """CenterNet detection objective; returns ``(total, hm_loss, wh_loss, off_loss)`` (float32 scalars).

    construct(hm, wh, [reg,] *targets): the RAW head maps (no sigmoid), then the targets in the order of
    src/data/center_targets.py (``CENTER_KEYS``: hm, wh, reg, ind, reg_mask; ``CAT_SPEC_KEYS`` with cat_spec_wh:
    hm, cat_spec_wh, cat_spec_mask, reg, ind, reg_mask). Shapes (batch N, objects K, classes C): hm (N,C,H,W),
    wh (N,2,H,W) or (N,2C,H,W), reg (N,2,H,W); hm_t (N,C,H,W), wh_t (N,K,2), cat_spec_wh/cat_spec_mask (N,K,2C),
    reg_t (N,K,2), ind/reg_mask (N,K). Without reg_offset there is no reg map (the reg target is still given).
    """

    def __init__(self, hm_weight=1.0, wh_weight=0.1, off_weight=1.0, reg_offset=True, cat_spec_wh=False,
                 reg_loss="l1"):
        super().__init__()
        if reg_loss not in REG_LOSS_KINDS:
            raise ValueError(f"CenterNetDetLoss: reg_loss must be one of {REG_LOSS_KINDS}, got {reg_loss!r}")
        for name, value in (("hm_weight", hm_weight), ("wh_weight", wh_weight), ("off_weight", off_weight)):
            if not float(value) >= 0.0:
                raise ValueError(f"CenterNetDetLoss: {name} must be >= 0, got {value}")
        self.hm_weight, self.wh_weight, self.off_weight = float(hm_weight), float(wh_weight), float(off_weight)
        self.reg_offset = bool(reg_offset)
        self.use_wh = self.wh_weight > 0
        self.use_off = self.reg_offset and self.off_weight > 0
        self.cat_spec_wh = bool(cat_spec_wh)
        self.focal = FocalLossWithLogits(eps=1e-4)
        self.object_reg = ObjectRegLoss(reg_loss)
        self.class_wh_l1 = RegLoss("l1")  # RegWeightedL1Loss: the per-channel mask as given

    def construct(self, *inputs):
        hm, wh = inputs[0], inputs[1]
        reg = inputs[2] if self.reg_offset else None
        targets = inputs[3:] if self.reg_offset else inputs[2:]
        zero = ops.zeros((), ms.float32)
        hm_loss = self.focal(hm, targets[0])
        if self.cat_spec_wh:
            wh_t, wh_mask, reg_t, ind, reg_mask = targets[1], targets[2], targets[3], targets[4], targets[5]
        else:
            wh_t, reg_t, ind, reg_mask = targets[1], targets[2], targets[3], targets[4]
            wh_mask = reg_mask
        wh_loss = zero
        if self.use_wh:
            if self.cat_spec_wh:
                wh_loss = self.class_wh_l1(wh, ind, wh_mask, wh_t)
            else:
                wh_loss = self.object_reg(wh, ind, wh_mask, wh_t)
        off_loss = zero
        if self.use_off:
            off_loss = self.object_reg(reg, ind, reg_mask, reg_t)
        total = self.hm_weight * hm_loss + self.wh_weight * wh_loss + self.off_weight * off_loss
        return total, hm_loss, wh_loss, off_loss
