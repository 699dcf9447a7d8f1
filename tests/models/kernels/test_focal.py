"""Tests for src/models/kernels/focal.py and its compiled kernel src/models/kernels/focal_cpu.cc (the CenterNet
heat-map loss `FocalLossWithLogits` of src/losses.py in one pass each way).

References:
* a float64 numpy transcription of the loss written here from its definition (CornerNet eq. 1 on sigmoid(x),
  the straight-through clamp to [eps, 1 - eps]: forward value clamped, gradient taken at the clamped value times
  sigmoid'(x) of the unclamped sigmoid), for the value and the logits' gradient, with the usual exponents (alpha 2,
  beta 4: the vectorised loops) and others (alpha 1.5 / beta 3, alpha 0: the general path);
* the same cell on MindSpore's ops (`kernel_op` None), GRAPH and PYNATIVE, inside the ctdet loss too.
Tolerances: the kernel's exp / log are polynomials within 2 ulp of libm, its sums run in float lanes then double:
values to 2e-6 relative, gradients to 2e-6 of the largest gradient (measured worst 1.4e-6 against MindSpore's ops
on a batch-8 COCO heat map; float32's own step is 6e-8).
"""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor

from src.losses import FocalLossWithLogits
from src.models.kernels.focal import enable_fast_focal_loss
from src.models.kernels.library import set_kernel_threads

RTOL = 2e-6


def reference(x, t, alpha=2.0, beta=4.0, eps=1e-4):
    """(loss, d loss / d x) in float64 of the focal loss on sigmoid(x), normalised by the positive cells. The
    clamp's bounds are the float32 numbers eps and 1 - eps, as in any float32 computation of it (1 - (1 - eps) is
    then 1.00017e-4, not 1e-4: 2e-5 of a saturated cell's log)."""
    x, t = x.astype(np.float64), t.astype(np.float64)
    p = 1.0 / (1.0 + np.exp(-x))
    q = np.clip(p, float(np.float32(eps)), float(np.float32(1) - np.float32(eps)))
    positive = t == 1.0
    term = np.where(positive, np.log(q) * (1 - q) ** alpha, np.log(1 - q) * q ** alpha * (1 - t) ** beta)
    d_positive = (1 - q) ** alpha / q - (alpha * np.log(q) * (1 - q) ** (alpha - 1) if alpha else 0.0)
    d_negative = ((alpha * np.log(1 - q) * q ** (alpha - 1) if alpha else 0.0) - q ** alpha / (1 - q)) * (1 - t) ** beta
    d_term = np.where(positive, d_positive, d_negative) * p * (1 - p)
    count = max(float(positive.sum()), 1.0)
    return -term.sum() / count, -d_term / count


def heatmap_case(shape, seed):
    """Logits around CenterNet's starting bias with saturated cells, and a target of Gaussian peaks (exact 1s),
    their tails and zeros."""
    rng = np.random.default_rng(seed)
    x = rng.normal(-2.19, 2.0, shape).astype(np.float32)
    x.flat[::97] = 30.0  # sigmoid rounds to 1: the clamp's range
    x.flat[1::89] = -30.0
    t = np.clip(rng.random(shape), 0, 1).astype(np.float32) ** 6
    t[t > 0.9] = 1.0
    return x, t


def value_and_gradient(cell, x, t):
    value, grad = ms.value_and_grad(cell, grad_position=0)(Tensor(x), Tensor(t))
    return float(value.asnumpy()), grad.asnumpy()


def fast_focal(library, **exponents):
    cell = FocalLossWithLogits(**exponents)
    assert enable_fast_focal_loss(cell, library) == 1
    return cell


@pytest.mark.parametrize("shape", [(2, 3, 17, 13), (1, 80, 32, 32), (5,)], ids=lambda s: "x".join(map(str, s)))
def test_equals_float64_reference(library, mode, shape):
    x, t = heatmap_case(shape, sum(shape))
    value, grad = value_and_gradient(fast_focal(library), x, t)
    expected_value, expected_grad = reference(x, t)
    assert value == pytest.approx(expected_value, rel=RTOL)
    np.testing.assert_allclose(grad, expected_grad, rtol=0, atol=RTOL * np.abs(expected_grad).max())


@pytest.mark.parametrize("alpha,beta", [(1.5, 3.0), (0.0, 4.0), (2.0, 2.5)])
def test_other_exponents_take_the_general_path(library, alpha, beta):
    x, t = heatmap_case((2, 4, 9, 11), 3)
    value, grad = value_and_gradient(fast_focal(library, alpha=alpha, beta=beta), x, t)
    expected_value, expected_grad = reference(x, t, alpha, beta)
    assert value == pytest.approx(expected_value, rel=RTOL)
    np.testing.assert_allclose(grad, expected_grad, rtol=0, atol=RTOL * np.abs(expected_grad).max())


def test_equals_mindspores_ops_in_the_ctdet_loss(library, mode):
    from src.centernet_det.loss import CenterNetDetLoss

    rng = np.random.default_rng(5)
    hm, hm_t = heatmap_case((2, 80, 24, 24), 5)
    wh, reg = (rng.normal(0, 1, (2, 2, 24, 24)).astype(np.float32) for _ in range(2))
    targets = [hm_t, rng.random((2, 8, 2), np.float32) * 10, rng.random((2, 8, 2), np.float32),
               rng.integers(0, 24 * 24, (2, 8)).astype(np.int32), (rng.random((2, 8)) < 0.5).astype(np.float32)]
    results = []
    for kernel in (False, True):
        loss = CenterNetDetLoss()
        if kernel:
            assert enable_fast_focal_loss(loss, library) == 1

        def total(hm, wh, reg):
            return loss(hm, wh, reg, *[Tensor(a) for a in targets])[0]

        value, grads = ms.value_and_grad(total, grad_position=(0, 1, 2))(Tensor(hm), Tensor(wh), Tensor(reg))
        results.append((float(value.asnumpy()), [g.asnumpy() for g in grads]))
    (plain_value, plain_grads), (fast_value, fast_grads) = results
    assert fast_value == pytest.approx(plain_value, rel=RTOL)
    for fast, plain in zip(fast_grads, plain_grads):
        np.testing.assert_allclose(fast, plain, rtol=0, atol=RTOL * np.abs(plain).max())


def test_the_sum_does_not_depend_on_the_thread_count(library):
    x, t = heatmap_case((3, 80, 40, 40), 7)  # 384,000 cells: blocks split differently over 1, 2 and 3 threads
    cell = fast_focal(library)
    results = []
    try:
        for threads in (1, 2, 3):
            set_kernel_threads(library, threads)
            results.append(value_and_gradient(cell, x, t))
    finally:
        set_kernel_threads(library, 0)
    for value, grad in results[1:]:
        assert value == results[0][0]
        np.testing.assert_array_equal(grad, results[0][1])


def test_no_positive_cell_divides_by_one_and_nan_propagates(library):
    x, t = heatmap_case((1, 2, 8, 8), 9)
    t[t == 1.0] = 0.5
    cell = fast_focal(library)
    value, _ = value_and_gradient(cell, x, t)
    assert value == pytest.approx(reference(x, t)[0], rel=RTOL)  # the sum itself, not divided by 0
    x[0, 1, 3, 4] = np.nan
    value, grad = value_and_gradient(cell, x, t)
    assert np.isnan(value) and np.isnan(grad[0, 1, 3, 4])


def test_only_logit_focal_cells_take_the_kernel(library):
    from src.centerface.loss import CenterFaceLoss
    from src.centernet_pose.loss import CenterNetPoseLoss

    assert enable_fast_focal_loss(CenterFaceLoss(), library) == 0  # its sigmoid is in the network: FocalLoss
    pose = CenterNetPoseLoss()
    assert enable_fast_focal_loss(pose, library) == 1  # one cell serves hm and hm_hp
    assert enable_fast_focal_loss(pose, library) == 0  # already given
