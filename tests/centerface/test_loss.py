"""Tests for src/centerface/loss.py: the weighted CenterFace objective from the shared losses."""
import numpy as np

from mindspore import Tensor

from src.centerface.loss import CenterFaceLoss
from tests.loss_reference import make_heatmap_case, np_focal, np_reg

RTOL, ATOL = 1e-5, 1e-6  # float32 sums of a few dozen terms


def test_centerface_loss_components_and_total(mode):
    rng = np.random.default_rng(7)
    hm_pred, hm = make_heatmap_case()
    ind = np.array([[5, 15, 0]], np.int32)
    mask = np.array([[1, 1, 0]], np.float32)
    scale_pred = rng.normal(size=(1, 2, 4, 4)).astype(np.float32)
    off_pred = rng.uniform(size=(1, 2, 4, 4)).astype(np.float32)
    lm_pred = rng.normal(size=(1, 10, 4, 4)).astype(np.float32)
    scale = rng.normal(size=(1, 3, 2)).astype(np.float32)
    offset = rng.uniform(size=(1, 3, 2)).astype(np.float32)
    landmarks = rng.normal(size=(1, 3, 10)).astype(np.float32)
    lm_mask = np.ones((1, 3, 10), np.float32)
    lm_mask[0, 1] = 0.0  # second face without landmarks
    lm_mask[0, 2] = 0.0  # padding slot
    size_weight = np.array([[15.0, 1.0, 0.0]], np.float32)
    loss = CenterFaceLoss(hm_weight=1.0, wh_weight=0.1, off_weight=1.0, lm_weight=0.1)
    out = loss(*[Tensor(a) for a in (hm_pred, scale_pred, off_pred, lm_pred, hm, ind, mask, scale, offset,
                                     landmarks, lm_mask, size_weight)])
    total, hm_l, wh_l, off_l, lm_l = [o.asnumpy() for o in out]
    expected = [np_focal(hm_pred, hm),
                np_reg(scale_pred, ind, mask, scale, size_weight),
                np_reg(off_pred, ind, mask, offset),
                np_reg(lm_pred, ind, lm_mask, landmarks, kind="l1")]
    np.testing.assert_allclose([hm_l, wh_l, off_l, lm_l], expected, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(total, expected[0] + 0.1 * expected[1] + expected[2] + 0.1 * expected[3],
                               rtol=RTOL, atol=ATOL)
