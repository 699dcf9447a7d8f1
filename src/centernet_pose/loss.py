"""CenterNet multi-person pose training loss (MindSpore Cell, GRAPH and PYNATIVE), as the original
(docs/centernet.md "Loss"; ``trains/multi_pose.py`` and ``models/losses.py`` of xingyizhou/CenterNet, facts only).

    total = hm_weight * hm_loss + wh_weight * wh_loss + off_weight * off_loss + hp_weight * hp_loss
            + hm_hp_weight * hm_hp_loss + off_weight * hp_offset_loss

(``off_weight`` weighs both offset terms, as in the original.) The terms:

* hm_loss: CornerNet focal loss (src/losses.py ``FocalLossWithLogits``) on ``sigmoid(hm)`` clamped to [1e-4, 1 - 1e-4],
  divided by the number of positive cells (target == 1) of the batch.
* hp_loss: ``sum |hps[ind] - hps_t| * hps_mask / (sum hps_mask + 1e-4)`` (per-coordinate mask, so it is the mean
  over labelled joint coordinates). dense_hp: ``sum |hps - dense_hps| * dense_hps_mask / (sum dense_hps_mask +
  1e-4)`` over the whole (34,H,W) maps (the mask is Gaussian-weighted).
* wh_loss, off_loss (at ``ind`` with ``reg_mask``) and hp_offset_loss (at ``hp_ind`` with ``hp_mask``):
  reg_loss "l1": ``sum |pred - t| * mask / (2 * sum mask + 1e-4)`` (the object mask expanded over both
  coordinates); "sl1": ``sum smoothL1(pred - t) * mask / (sum mask + 1e-4)`` (not expanded).
* hm_hp_loss: focal loss on ``sigmoid(hm_hp)`` clamped like hm; with ``mse_loss``: mean squared error of
  ``sigmoid(hm_hp)`` against the hm_hp target over all its cells. The original's ``--mse_loss`` (which replaces
  only the joint-heatmap loss) compares the RAW hm_hp map with MSRA Gaussians of an undefined radius option and
  crashes; ours is a working variant that keeps the sigmoid so the decode (which always applies a sigmoid to
  hm_hp) stays consistent.

As in the original, a term whose head is disabled (``reg_offset``/``hm_hp``/``reg_hp_offset`` False) or whose
weight is 0 is not computed and reported as 0 (``reg_hp_offset`` needs ``hm_hp``, as the original's option
parser forces).

Clamping: the original clamps the sigmoid output with a hard clamp, so a cell whose sigmoid is outside
[1e-4, 1 - 1e-4] (|logit| > 9.21) receives exactly zero gradient: a confidently wrong cell can never recover.
``FocalLoss`` clamps the forward value only (straight-through), so such a cell gets the gradient evaluated at
the clamp boundary times sigmoid'(logit): the same loss value, a small but non-zero push back. It is kept
because it is the shared loss of both models and shrinks the dead-cell range; in float32 the gradient is still
exactly 0 once the sigmoid rounds to 1 (logit >= ~17) or to 0 (logit <= ~-88, measured), and always finite.
"""
import inspect

import mindspore as ms
from mindspore import nn, ops

from src.losses import REG_LOSS_KINDS, FocalLossWithLogits, ObjectRegLoss, RegLoss

__all__ = ["CenterNetPoseLoss", "PoseHeadsLoss", "LOSS_NAMES"]

# Names of construct's outputs, in order (the original's loss_stats order).
LOSS_NAMES = ("loss", "hm_loss", "hp_loss", "hm_hp_loss", "hp_offset_loss", "wh_loss", "off_loss")


class CenterNetPoseLoss(nn.Cell):
    """CenterNet pose objective; returns ``(total, hm_loss, hp_loss, hm_hp_loss, hp_offset_loss, wh_loss,
    off_loss)`` (float32 scalars; names in ``LOSS_NAMES``). Terms, weights and clamping: module docstring.

    construct(hm, wh, hps, reg, hm_hp, hp_offset,                      # the 6 RAW head maps (no sigmoid)
              hm_t, wh_t, reg_t, ind, reg_mask, hps_t, hps_mask,       # targets in PoseTargets.keys order
              hm_hp_t, hp_offset_t, hp_ind, hp_mask, dense_hps=None, dense_hps_mask=None)
    Shapes (batch N, objects K, joints J): hm (N,1,H,W), wh/reg/hp_offset (N,2,H,W), hps (N,2J,H,W),
    hm_hp (N,J,H,W); hm_t (N,1,H,W), wh_t/reg_t (N,K,2), ind/reg_mask (N,K), hps_t/hps_mask (N,K,2J),
    hm_hp_t (N,J,H,W), hp_offset_t (N,K*J,2), hp_ind/hp_mask (N,K*J), dense_hps/dense_hps_mask (N,2J,H,W)
    (needed only with dense_hp). Inputs of disabled terms are ignored and may be None (GRAPH mode too).
    """

    def __init__(self, hm_weight=1.0, wh_weight=0.1, off_weight=1.0, hp_weight=1.0, hm_hp_weight=1.0, hm_hp=True,
                 reg_offset=True, reg_hp_offset=True, dense_hp=False, mse_loss=False, reg_loss="l1"):
        super().__init__()
        if reg_loss not in REG_LOSS_KINDS:
            raise ValueError(f"CenterNetPoseLoss: reg_loss must be one of {REG_LOSS_KINDS}, got {reg_loss!r}")
        weights = {"hm_weight": hm_weight, "wh_weight": wh_weight, "off_weight": off_weight,
                   "hp_weight": hp_weight, "hm_hp_weight": hm_hp_weight}
        for name, value in weights.items():
            if not float(value) >= 0.0:
                raise ValueError(f"CenterNetPoseLoss: {name} must be >= 0, got {value}")
        self.hm_weight = float(hm_weight)
        self.wh_weight = float(wh_weight)
        self.off_weight = float(off_weight)
        self.hp_weight = float(hp_weight)
        self.hm_hp_weight = float(hm_hp_weight)
        self.use_wh = self.wh_weight > 0
        self.use_off = bool(reg_offset) and self.off_weight > 0
        self.use_hm_hp = bool(hm_hp) and self.hm_hp_weight > 0
        self.use_hp_offset = bool(reg_hp_offset) and bool(hm_hp) and self.off_weight > 0
        self.dense_hp = bool(dense_hp)
        self.mse_loss = bool(mse_loss)
        self.focal = FocalLossWithLogits(eps=1e-4)
        self.object_reg = ObjectRegLoss(reg_loss)  # wh, reg, hp_offset
        self.joint_l1 = RegLoss("l1")

    def construct(self, hm, wh, hps, reg, hm_hp, hp_offset, hm_t, wh_t, reg_t, ind, reg_mask, hps_t, hps_mask,
                  hm_hp_t, hp_offset_t, hp_ind, hp_mask, dense_hps=None, dense_hps_mask=None):
        zero = ops.zeros((), ms.float32)
        hm_loss = self.focal(hm, hm_t)
        if self.dense_hp:
            weight = dense_hps_mask.astype(ms.float32)
            diff = hps.astype(ms.float32) * weight - dense_hps.astype(ms.float32) * weight
            hp_loss = ops.abs(diff).sum() / (weight.sum() + 1e-4)
        else:
            hp_loss = self.joint_l1(hps, ind, hps_mask, hps_t)
        wh_loss = zero
        if self.use_wh:
            wh_loss = self.object_reg(wh, ind, reg_mask, wh_t)
        off_loss = zero
        if self.use_off:
            off_loss = self.object_reg(reg, ind, reg_mask, reg_t)
        hp_offset_loss = zero
        if self.use_hp_offset:
            hp_offset_loss = self.object_reg(hp_offset, hp_ind, hp_mask, hp_offset_t)
        hm_hp_loss = zero
        if self.use_hm_hp:
            if self.mse_loss:
                hm_hp_prob = ops.sigmoid(hm_hp.astype(ms.float32))
                hm_hp_loss = ops.square(hm_hp_prob - hm_hp_t.astype(ms.float32)).mean()
            else:
                hm_hp_loss = self.focal(hm_hp, hm_hp_t)
        total = (self.hm_weight * hm_loss + self.wh_weight * wh_loss + self.off_weight * off_loss
                 + self.hp_weight * hp_loss + self.hm_hp_weight * hm_hp_loss + self.off_weight * hp_offset_loss)
        return total, hm_loss, hp_loss, hm_hp_loss, hp_offset_loss, wh_loss, off_loss


class PoseHeadsLoss(nn.Cell):
    """`CenterNetPoseLoss` fed by a network whose outputs are the heads `head_names` (the task's, in its order;
    a subset of the loss's map arguments when options turn heads off): the missing maps are passed as None.

    construct(*head maps, *targets) -> the loss's (total, *components).
    """

    def __init__(self, loss, head_names):
        super().__init__()
        unknown = [name for name in head_names if name not in MAP_ARGUMENTS]
        if unknown:
            raise ValueError(f"PoseHeadsLoss: unknown heads {unknown}; expected names from {MAP_ARGUMENTS}")
        self.loss = loss
        self.num_heads = len(head_names)
        # position of each map argument of the loss among the network's outputs (-1: the head is off)
        self.slots = tuple(head_names.index(name) if name in head_names else -1 for name in MAP_ARGUMENTS)

    def construct(self, *inputs):
        maps = inputs[:self.num_heads]
        targets = inputs[self.num_heads:]
        arguments = ()
        for slot in self.slots:
            arguments = arguments + ((maps[slot] if slot >= 0 else None),)
        return self.loss(*arguments, *targets)


# The maps CenterNetPoseLoss.construct takes before the targets, by its parameter names.
MAP_ARGUMENTS = tuple(inspect.signature(CenterNetPoseLoss.construct).parameters)[1:7]
