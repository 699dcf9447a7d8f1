"""Tests for src/centernet_pose/loss.py against numpy references written here from docs/centernet.md "Loss" (float64),
on real targets from PoseTargets (several persons, unlabelled joints, persons cut by the border), in GRAPH and PYNATIVE
mode; hand values for the normalisations; saturated logits; disabled terms; weights.

Tolerance: the Cell computes in float32 over at most 2*34*16*16 = 17k terms per sum; rtol 2e-5 / atol 1e-5
covers float32 accumulation (measured differences ~1e-6 relative).
"""
import numpy as np
import pytest

import mindspore as ms
from mindspore import Tensor

from src.centernet_pose.loss import LOSS_NAMES, CenterNetPoseLoss
from src.centernet_pose.targets import PoseTargets

RTOL, ATOL = 2e-5, 1e-5
N, H, W, K, J = 2, 16, 16, 4, 17
HEAD_CHANNELS = (1, 2, 2 * J, 2, J, 2)  # hm, wh, hps, reg, hm_hp, hp_offset


def make_batch(seed=0):
    """Random raw head maps and stacked PoseTargets (dense included) for N images of random persons."""
    rng = np.random.default_rng(seed)
    targets = PoseTargets(output_res=(H, W), max_objs=K, dense_hp=True)
    per_image = []
    for _ in range(N):
        num = 3
        xy1 = rng.uniform(-3, 12, size=(num, 2))
        boxes = np.concatenate([xy1, xy1 + rng.uniform(3, 9, size=(num, 2))], axis=1)
        kps = np.concatenate([rng.uniform(-2, 18, size=(num, J, 2)), rng.integers(0, 3, size=(num, J, 1))], axis=2)
        kps[1, :, 2] = 0  # a person without labelled joints
        per_image.append(targets(boxes, kps))
    batch = {key: np.stack([t[key] for t in per_image]) for key in targets.keys}
    heads = [rng.normal(0.0, 2.0, size=(N, c, H, W)).astype(np.float32) for c in HEAD_CHANNELS]
    heads[1] = heads[1] * 3 + 5  # wh maps near the target sizes
    assert batch["reg_mask"].sum() >= 2 and batch["hps_mask"].sum() > 10 and batch["hp_mask"].sum() > 5
    return heads, batch, targets.keys


def call_loss(loss, heads, batch, keys):
    args = [Tensor(h) for h in heads] + [Tensor(batch[k]) for k in keys]
    return [float(v.asnumpy()) for v in loss(*args)]


# ---------------------------------------------------------------------------------------------- numpy reference
def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


def np_focal(prob, gt):
    """CornerNet focal loss of CenterNet's _neg_loss on a probability map clamped to [1e-4, 1 - 1e-4]."""
    p = np.clip(prob, 1e-4, 1 - 1e-4)
    gt = gt.astype(np.float64)
    pos, neg = gt == 1, gt < 1
    pos_sum = (np.log(p) * (1 - p) ** 2)[pos].sum()
    neg_sum = (np.log(1 - p) * p ** 2 * (1 - gt) ** 4)[neg].sum()
    num_pos = pos.sum()
    return -neg_sum if num_pos == 0 else -(pos_sum + neg_sum) / num_pos


def np_gather(maps, ind):
    """(N,C,H,W) maps at flat indices (N,K) -> (N,K,C)."""
    flat = maps.reshape(maps.shape[0], maps.shape[1], -1).astype(np.float64)
    return np.stack([flat[b][:, ind[b]].T for b in range(maps.shape[0])])


def np_l1_expanded(maps, ind, mask, target):
    """RegL1Loss: the object mask expanded over the channels, sum |p m - t m| / (sum expanded mask + 1e-4)."""
    pred = np_gather(maps, ind)
    m = np.repeat(mask[..., None].astype(np.float64), pred.shape[2], axis=2)
    return np.abs(pred * m - target * m).sum() / (m.sum() + 1e-4)


def np_smooth_l1(maps, ind, mask, target):
    """RegLoss ('sl1'): smooth-L1 of masked values summed, divided by the object count + 1e-4."""
    pred = np_gather(maps, ind)
    m = mask[..., None].astype(np.float64)
    d = np.abs(pred * m - target * m)
    return np.where(d < 1, 0.5 * d * d, d - 0.5).sum() / (mask.sum() + 1e-4)


def np_weighted_l1(maps, ind, mask, target):
    """RegWeightedL1Loss: per-coordinate mask (N,K,C)."""
    pred = np_gather(maps, ind)
    m = mask.astype(np.float64)
    return np.abs(pred * m - target * m).sum() / (m.sum() + 1e-4)


def np_terms(heads, batch, dense_hp=False, mse_loss=False, reg_loss="l1"):
    hm, wh, hps, reg, hm_hp, hp_offset = heads
    reg_fn = np_l1_expanded if reg_loss == "l1" else np_smooth_l1
    if dense_hp:
        m = batch["dense_hps_mask"].astype(np.float64)
        hp = np.abs(hps * m - batch["dense_hps"] * m).sum() / (m.sum() + 1e-4)
    else:
        hp = np_weighted_l1(hps, batch["ind"], batch["hps_mask"], batch["hps"])
    if mse_loss:
        hm_hp_loss = np.mean((np_sigmoid(hm_hp) - batch["hm_hp"]) ** 2)
    else:
        hm_hp_loss = np_focal(np_sigmoid(hm_hp), batch["hm_hp"])
    return {"hm_loss": np_focal(np_sigmoid(hm), batch["hm"]), "hp_loss": hp, "hm_hp_loss": hm_hp_loss,
            "hp_offset_loss": reg_fn(hp_offset, batch["hp_ind"], batch["hp_mask"], batch["hp_offset"]),
            "wh_loss": reg_fn(wh, batch["ind"], batch["reg_mask"], batch["wh"]),
            "off_loss": reg_fn(reg, batch["ind"], batch["reg_mask"], batch["reg"])}


WEIGHTS = dict(hm_weight=1.5, wh_weight=0.3, off_weight=0.7, hp_weight=2.0, hm_hp_weight=0.25)


@pytest.mark.parametrize("config", [{}, {"reg_loss": "sl1"}, {"dense_hp": True}, {"mse_loss": True}],
                         ids=["l1", "sl1", "dense_hp", "mse"])
def test_terms_and_weighted_total_match_numpy(mode, config):
    heads, batch, keys = make_batch(seed=1)
    got = dict(zip(LOSS_NAMES, call_loss(CenterNetPoseLoss(**WEIGHTS, **config), heads, batch, keys)))
    expected = np_terms(heads, batch, **config)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=RTOL, atol=ATOL, err_msg=name)
    total = (WEIGHTS["hm_weight"] * expected["hm_loss"] + WEIGHTS["wh_weight"] * expected["wh_loss"]
             + WEIGHTS["off_weight"] * (expected["off_loss"] + expected["hp_offset_loss"])
             + WEIGHTS["hp_weight"] * expected["hp_loss"] + WEIGHTS["hm_hp_weight"] * expected["hm_hp_loss"])
    np.testing.assert_allclose(got["loss"], total, rtol=RTOL, atol=ATOL)


def test_default_weights_are_the_originals():
    # docs/centernet.md "Loss": total = hm + 0.1 wh + reg + hps + hm_hp + hp_offset
    heads, batch, keys = make_batch(seed=2)
    got = dict(zip(LOSS_NAMES, call_loss(CenterNetPoseLoss(), heads, batch, keys)))
    t = np_terms(heads, batch)
    expected = (t["hm_loss"] + 0.1 * t["wh_loss"] + t["off_loss"] + t["hp_loss"] + t["hm_hp_loss"]
                + t["hp_offset_loss"])
    np.testing.assert_allclose(got["loss"], expected, rtol=RTOL, atol=ATOL)


def one_object_case(pred_wh, target_wh):
    """One object at cell (1, 2) of a 4x4 map; every other head/target neutral."""
    heads = [np.zeros((1, c, 4, 4), np.float32) for c in HEAD_CHANNELS]
    heads[1][0, :, 1, 2] = pred_wh
    targets = PoseTargets(output_res=(4, 4), max_objs=2, num_joints=J).empty()
    targets = {k: v[None] for k, v in targets.items()}
    targets["ind"][0, 0] = 1 * 4 + 2
    targets["reg_mask"][0, 0] = 1
    targets["wh"][0, 0] = target_wh
    return heads, targets


def test_hand_normalisations_of_the_size_term():
    # |4 - 3| + |1 - 4| = 4 over 1 object: "l1" divides by the mask expanded over (w, h) -> 4 / (2 + 1e-4);
    # "sl1": smoothL1(1) + smoothL1(3) = 0.5 + 2.5 = 3, divided by 1 object -> 3 / (1 + 1e-4).
    heads, targets = one_object_case((4.0, 1.0), (3.0, 4.0))
    keys = PoseTargets().keys
    l1 = dict(zip(LOSS_NAMES, call_loss(CenterNetPoseLoss(), heads, targets, keys)))
    sl1 = dict(zip(LOSS_NAMES, call_loss(CenterNetPoseLoss(reg_loss="sl1"), heads, targets, keys)))
    np.testing.assert_allclose(l1["wh_loss"], 4 / (2 + 1e-4), rtol=1e-6)
    np.testing.assert_allclose(sl1["wh_loss"], 3 / (1 + 1e-4), rtol=1e-6)
    # no joints, no positives anywhere: the joint terms are exactly 0, the heatmap terms use the num_pos == 0 rule
    assert l1["hp_loss"] == 0.0 and l1["hp_offset_loss"] == 0.0 and l1["off_loss"] == 0.0
    p = 1 / (1 + np.exp(0.0))  # logits 0 -> p 0.5 everywhere, all targets 0: -sum log(0.5) 0.25 over 16 cells
    np.testing.assert_allclose(l1["hm_loss"], 16 * np.log(2) * p ** 2, rtol=1e-6)


def test_disabled_terms_are_zero_and_left_out():
    heads, batch, keys = make_batch(seed=3)
    # hm_hp=False also disables the joint offsets (the original forces reg_hp_offset off without hm_hp)
    got = dict(zip(LOSS_NAMES, call_loss(CenterNetPoseLoss(hm_hp=False, reg_offset=False, wh_weight=0.0),
                                         heads, batch, keys)))
    assert got["hm_hp_loss"] == got["hp_offset_loss"] == got["off_loss"] == got["wh_loss"] == 0.0
    np.testing.assert_allclose(got["loss"], got["hm_loss"] + got["hp_loss"], rtol=1e-6)
    got = dict(zip(LOSS_NAMES, call_loss(CenterNetPoseLoss(reg_hp_offset=False, off_weight=1.0), heads, batch, keys)))
    assert got["hp_offset_loss"] == 0.0 and got["off_loss"] > 0 and got["hm_hp_loss"] > 0


def test_inputs_of_disabled_heads_may_be_none(mode):
    heads, batch, keys = make_batch(seed=5)
    args = [Tensor(h) for h in heads[:4]] + [None, None]
    args += [Tensor(batch[k]) for k in keys[:7]] + [None] * 4  # hm_hp, hp_offset, hp_ind, hp_mask targets
    got = [float(v.asnumpy()) for v in CenterNetPoseLoss(hm_hp=False)(*args)]
    expected = np_terms(heads, batch)
    np.testing.assert_allclose(got[1], expected["hm_loss"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got[0], expected["hm_loss"] + expected["hp_loss"] + 0.1 * expected["wh_loss"]
                               + expected["off_loss"], rtol=RTOL, atol=ATOL)


def test_saturated_logits_give_finite_loss_and_gradients(mode):
    heads, batch, keys = make_batch(seed=4)
    # maximally wrong (positives -60, negatives +60) on half the batch, maximally right on the other half
    for index, target_key in ((0, "hm"), (4, "hm_hp")):
        wrong = np.where(batch[target_key] == 1.0, -60.0, 60.0)
        heads[index] = np.concatenate([wrong[:1], -wrong[1:]]).astype(np.float32)
    heads[2] = np.full_like(heads[2], 1e4)  # absurd joint offsets
    loss = CenterNetPoseLoss()
    targets = [Tensor(batch[k]) for k in keys]

    def total(*maps):
        return loss(*maps, *targets)[0]

    grad_fn = ms.grad(total, grad_position=(0, 1, 2, 3, 4, 5))
    values = call_loss(loss, heads, batch, keys)
    grads = grad_fn(*[Tensor(h) for h in heads])
    assert all(np.isfinite(values)) and values[0] > 1e3
    assert all(np.isfinite(g.asnumpy()).all() for g in grads)
    # the clamped value is the original's: log(1e-4) terms
    np.testing.assert_allclose(values[1], np_focal(np_sigmoid(heads[0]), batch["hm"]), rtol=1e-4)


def test_straight_through_clamp_keeps_a_gradient_where_the_original_has_none():
    """A negative cell at logit 12 (sigmoid 0.999994 > 1 - 1e-4): the original's hard clamp gives it zero gradient;
    FocalLoss's straight-through clamp gives the gradient at the clamp boundary times sigmoid'(12) > 0."""
    heads, targets = one_object_case((0.0, 0.0), (0.0, 0.0))
    heads[0][0, 0, 3, 3] = 12.0
    loss = CenterNetPoseLoss()
    target_tensors = [Tensor(targets[k]) for k in PoseTargets().keys]

    def hm_loss(hm):
        return loss(hm, *[Tensor(h) for h in heads[1:]], *target_tensors)[1]

    grad = ms.grad(hm_loss)(Tensor(heads[0])).asnumpy()
    # d/dp of -log(1 - p) p^2 at p = 1 - 1e-4, times sigmoid'(12) = s (1 - s) with s rounded to float32 as the
    # backward pass sees it; divided by num_pos = 1 (no positives). Tolerance 2%: one float32 ulp of s (6e-8) is
    # 1% of 1 - s = 6.1e-6, and the Cell's sigmoid may round s differently from numpy.
    p, s = 1 - 1e-4, float(np.float32(1 / (1 + np.exp(-12.0))))
    expected = (p ** 2 / (1 - p) - 2 * p * np.log(1 - p)) * s * (1 - s)
    np.testing.assert_allclose(grad[0, 0, 3, 3], expected, rtol=2e-2)
    assert grad[0, 0, 3, 3] > 0


@pytest.mark.parametrize("kwargs, match", [({"reg_loss": "l2"}, "reg_loss"), ({"wh_weight": -1}, "wh_weight")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CenterNetPoseLoss(**kwargs)
