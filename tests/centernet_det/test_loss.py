"""Tests for src/centernet_det/loss.py against the float64 numpy references of tests/loss_reference.py (focal loss,
masked regression) combined here as the original's CtdetLoss, on real targets of src/data/center_targets.py
(several classes, boxes cut by the border, empty slots), in GRAPH and PYNATIVE mode; cat_spec_wh, sl1, disabled
terms and weights.

Tolerance: float32 sums over at most 2*3*16*20 = 2k terms: rtol 2e-5 / atol 1e-5 (measured ~1e-6 relative).
"""
import numpy as np
import pytest

from mindspore import Tensor

from src.centernet_det.loss import LOSS_NAMES, CenterNetDetLoss
from src.data.center_targets import CenterTargets
from tests.loss_reference import np_focal, np_reg

RTOL, ATOL = 2e-5, 1e-5
N, C, H, W, K = 2, 3, 16, 20, 6


def make_batch(cat_spec_wh=False, seed=0):
    rng = np.random.default_rng(seed)
    builder = CenterTargets((H, W), num_classes=C, max_objs=K, cat_spec_wh=cat_spec_wh)
    per_image = []
    for _ in range(N):
        xy = rng.uniform(-3, 16, (5, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(2, 9, (5, 2))], 1)
        per_image.append(builder(boxes, rng.integers(0, C, 5)))
    batch = {key: np.stack([t[key] for t in per_image]) for key in builder.keys}
    wh_channels = 2 * C if cat_spec_wh else 2
    heads = [rng.normal(-1, 2, (N, C, H, W)).astype(np.float32),
             (rng.normal(0, 3, (N, wh_channels, H, W)) + 5).astype(np.float32),
             rng.random((N, 2, H, W)).astype(np.float32)]
    assert batch["reg_mask"].sum() >= 4
    return heads, batch, builder.keys


def expected_terms(heads, batch, reg_loss="l1", cat_spec_wh=False):
    hm = np_focal(1 / (1 + np.exp(-heads[0].astype(np.float64))), batch["hm"])
    kind = "l1" if reg_loss == "l1" else "smooth_l1"

    def object_reg(pred, target):
        mask = batch["reg_mask"]
        if reg_loss == "l1":  # RegL1Loss: the mask expanded over both coordinates
            mask = np.repeat(mask[..., None], target.shape[2], axis=2)
        return np_reg(pred, batch["ind"], mask, target, kind=kind)

    if cat_spec_wh:  # RegWeightedL1Loss with the per-channel class mask
        wh = np_reg(heads[1], batch["ind"], batch["cat_spec_mask"], batch["cat_spec_wh"], kind="l1")
    else:
        wh = object_reg(heads[1], batch["wh"])
    return hm, wh, object_reg(heads[2], batch["reg"])


def call(loss, heads, batch, keys):
    return [float(v.asnumpy()) for v in loss(*[Tensor(h) for h in heads], *[Tensor(batch[k]) for k in keys])]


@pytest.mark.parametrize("reg_loss, cat_spec_wh", [("l1", False), ("sl1", False), ("l1", True)])
def test_matches_the_original_ctdet_loss(mode, reg_loss, cat_spec_wh):
    heads, batch, keys = make_batch(cat_spec_wh)
    hm, wh, off = expected_terms(heads, batch, reg_loss, cat_spec_wh)
    got = call(CenterNetDetLoss(reg_loss=reg_loss, cat_spec_wh=cat_spec_wh), heads, batch, keys)
    assert len(got) == len(LOSS_NAMES)
    np.testing.assert_allclose(got[1:], [hm, wh, off], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got[0], hm + 0.1 * wh + off, rtol=RTOL, atol=ATOL)


def test_l1_normalisation_by_hand():
    """One object, pred wh (3, 5) against target (4, 7): L1 sum 1 + 2 = 3 over the mask expanded over 2
    coordinates: 3 / (2 + 1e-4)."""
    builder = CenterTargets((4, 4), num_classes=1, max_objs=2)
    target = builder([[0, 0, 4, 6]], [0])  # clipped to [0, 0, 3, 3]: w 3, h 3, centre cell (1, 1)
    target["wh"][0] = (4, 7)
    heads = [np.zeros((1, 1, 4, 4), np.float32), np.zeros((1, 2, 4, 4), np.float32), np.zeros((1, 2, 4, 4), np.float32)]
    heads[1][0, :, 1, 1] = (3, 5)
    batch = {key: value[None] for key, value in target.items()}
    got = call(CenterNetDetLoss(hm_weight=0, off_weight=0), heads, batch, builder.keys)
    np.testing.assert_allclose(got[2], 3 / (2 + 1e-4), rtol=1e-6)
    np.testing.assert_allclose(got[0], 0.1 * 3 / (2 + 1e-4), rtol=1e-6)


def test_disabled_terms_and_weights(mode):
    heads, batch, keys = make_batch()
    hm, wh, off = expected_terms(heads, batch)
    without_reg = call(CenterNetDetLoss(reg_offset=False), heads[:2], batch, keys)
    np.testing.assert_allclose(without_reg, [hm + 0.1 * wh, hm, wh, 0.0], rtol=RTOL, atol=ATOL)
    weighted = call(CenterNetDetLoss(hm_weight=2.0, wh_weight=0.0, off_weight=0.5), heads, batch, keys)
    np.testing.assert_allclose(weighted, [2 * hm + 0.5 * off, hm, 0.0, off], rtol=RTOL, atol=ATOL)
    with pytest.raises(ValueError, match="reg_loss"):
        CenterNetDetLoss(reg_loss="l2")
    with pytest.raises(ValueError, match="wh_weight"):
        CenterNetDetLoss(wh_weight=-1)
