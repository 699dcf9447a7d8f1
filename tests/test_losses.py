"""Tests for src/losses.py against direct numpy computations (float64) on small hand-made cases.

Tolerance: the Cells compute in float32; rtol 1e-5 / atol 1e-6 covers float32 rounding of sums of
at most a few dozen terms.
"""
import numpy as np
import pytest

from mindspore import Tensor, ops

from src.losses import FocalLoss, RegLoss, gather_at_indices
from tests.loss_reference import make_heatmap_case, np_focal, np_reg

RTOL, ATOL = 1e-5, 1e-6


def test_focal_matches_numpy(mode):
    pred, gt = make_heatmap_case()
    got = FocalLoss()(Tensor(pred), Tensor(gt)).asnumpy()
    np.testing.assert_allclose(got, np_focal(pred, gt), rtol=RTOL, atol=ATOL)


def test_focal_hand_value_single_cell():
    # One positive cell with p=0.5: -log(0.5) * 0.5^2 = 0.17328679...; one negative with gt=0.5,
    # p=0.5: -log(0.5) * 0.25 * 0.5^4 = 0.01083042...; divided by 1 positive.
    pred = np.array([[[[0.5, 0.5]]]], np.float32)
    gt = np.array([[[[1.0, 0.5]]]], np.float32)
    expected = np.log(2) * 0.25 + np.log(2) * 0.25 * 0.0625
    got = FocalLoss()(Tensor(pred), Tensor(gt)).asnumpy()
    np.testing.assert_allclose(got, expected, rtol=RTOL)


def test_focal_batch_normalised_by_all_positives(mode):
    pred, gt = make_heatmap_case()
    pred2 = np.concatenate([pred, pred[:, :, ::-1]], axis=0)
    gt2 = np.concatenate([gt, np.zeros_like(gt)], axis=0)
    got = FocalLoss()(Tensor(pred2), Tensor(gt2)).asnumpy()
    np.testing.assert_allclose(got, np_focal(pred2, gt2), rtol=RTOL, atol=ATOL)


def test_focal_zero_positives_is_negative_sum(mode):
    pred, gt = make_heatmap_case()
    gt = np.where(gt == 1.0, 0.9, gt).astype(np.float32)
    p = pred.astype(np.float64)
    expected = -np.sum(np.log(1 - p) * p ** 2 * (1 - gt.astype(np.float64)) ** 4)
    got = FocalLoss()(Tensor(pred), Tensor(gt)).asnumpy()
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_focal_finite_with_finite_gradient_at_0_and_1(mode):
    # Worst cases: a positive predicted 0 and a negative predicted 1, plus exact hits.
    pred = np.array([[[[0.0, 1.0, 1.0, 0.0]]]], np.float32)
    gt = np.array([[[[1.0, 0.0, 1.0, 0.0]]]], np.float32)
    loss_fn = FocalLoss()

    def forward(p):
        return loss_fn(p, Tensor(gt))

    value, grad = ops.value_and_grad(forward)(Tensor(pred))
    value, grad = value.asnumpy(), grad.asnumpy()
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(value, np_focal(pred, gt), rtol=RTOL)
    # Straight-through clip: the saturated wrong predictions still get a gradient pointing the right way.
    assert grad.ravel()[0] < 0 and grad.ravel()[1] > 0


def test_focal_rejects_bad_eps():
    with pytest.raises(ValueError, match="eps"):
        FocalLoss(eps=0.0)


def reg_case():
    rng = np.random.default_rng(3)
    pred = rng.normal(size=(2, 2, 4, 4)).astype(np.float32) * 2
    ind = np.array([[5, 10, 0], [15, 3, 7]], np.int32)
    mask = np.array([[1, 1, 0], [1, 1, 1]], np.float32)
    target = rng.normal(size=(2, 3, 2)).astype(np.float32)
    target[0, 2] = 1e6  # masked entry with a garbage target must not leak in
    weight = np.array([[0.1, 15.0, 3.0], [1.0, 5.0, 10.0]], np.float32)
    return pred, ind, mask, target, weight


def test_gather_at_indices_matches_indexing():
    pred, ind, _, _, _ = reg_case()
    got = gather_at_indices(Tensor(pred), Tensor(ind)).asnumpy()
    n, c, h, w = pred.shape
    expected = np.stack([pred[b].reshape(c, h * w)[:, ind[b]].T for b in range(n)])
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kind", ["smooth_l1", "l1"])
@pytest.mark.parametrize("weighted", [False, True])
def test_reg_loss_matches_numpy(mode, kind, weighted):
    pred, ind, mask, target, weight = reg_case()
    w = weight if weighted else None
    loss = RegLoss(kind)
    args = [Tensor(pred), Tensor(ind), Tensor(mask), Tensor(target)]
    got = (loss(*args, Tensor(w)) if weighted else loss(*args)).asnumpy()
    np.testing.assert_allclose(got, np_reg(pred, ind, mask, target, w, kind), rtol=RTOL, atol=ATOL)


def test_reg_loss_channel_mask_normalised_by_valid_coordinates():
    pred, ind, _, _, _ = reg_case()
    target = np.zeros((2, 3, 2), np.float32)
    cmask = np.zeros((2, 3, 2), np.float32)
    cmask[0, 0, 1] = 1.0
    cmask[1, 2, :] = 1.0
    got = RegLoss("l1")(Tensor(pred), Tensor(ind), Tensor(cmask), Tensor(target)).asnumpy()
    row_col = [divmod(int(ind[0, 0]), 4), divmod(int(ind[1, 2]), 4)]
    hand = (abs(pred[0, 1][row_col[0]]) + abs(pred[1, 0][row_col[1]]) + abs(pred[1, 1][row_col[1]])) / (3 + 1e-4)
    np.testing.assert_allclose(got, hand, rtol=RTOL)


def test_reg_loss_all_masked_is_zero():
    pred, ind, mask, target, _ = reg_case()
    got = RegLoss()(Tensor(pred), Tensor(ind), Tensor(np.zeros_like(mask)), Tensor(target)).asnumpy()
    assert got == 0.0


def test_reg_loss_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        RegLoss("l2")


