"""IoU with the official +1 pixel convention; compiled vs numpy twin parity (bit-exact)."""
import os

import numpy as np
import pytest

from dependency.evaluate import overlaps
from dependency.evaluate.overlaps import (box_overlaps, box_overlaps_np, max_overlaps_by_image,
                                          max_overlaps_by_image_np, xywh_to_corners)


def _iou_plain(a, b):
    """Straight transcription of boxoverlap.m for one pair of corner boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter)


def _random_boxes(rng, n, degenerate=True):
    xy = rng.uniform(0, 60, (n, 2)).round(1)
    wh = rng.uniform(-3 if degenerate else 0, 30, (n, 2)).round(1)
    return xywh_to_corners(np.concatenate([xy, wh], axis=1))


def test_hand_computed_ious():
    gt = np.array([[0, 0, 9, 9]], dtype=np.float64)  # x=0, w=9 -> 10 pixels wide with +1
    query = np.array([[5, 0, 14, 9],    # 5 x 10 overlap: 50 / (100 + 100 - 50) = 1/3
                      [9, 0, 18, 9],    # touching column: 1 x 10 = 10 / 190
                      [10, 0, 19, 9],   # adjacent: +1 width 0 -> IoU 0
                      [0, 0, 4, 9],     # inside, half the pixels: 50 / 100 = 0.5 exactly
                      [0, 0, 9, 9]])    # identical -> 1
    expected = [1 / 3, 10 / 190, 0.0, 0.5, 1.0]
    for fn in (box_overlaps_np, box_overlaps):
        np.testing.assert_allclose(fn(gt, query)[0], expected, rtol=0, atol=1e-15)


def test_xywh_to_corners_uses_x_plus_w():
    np.testing.assert_array_equal(xywh_to_corners([[3, 4, 10, 20]]), [[3, 4, 13, 24]])


def test_matrix_matches_plain_transcription():
    rng = np.random.default_rng(0)
    a, b = _random_boxes(rng, 30), _random_boxes(rng, 20)
    expected = np.array([[_iou_plain(x, y) for y in b] for x in a])
    # Same operations in the same order: equal to the last bit.
    np.testing.assert_array_equal(box_overlaps_np(a, b), expected)


def _require_cython():
    if not overlaps.CYTHON_AVAILABLE:
        if os.environ.get("CI"):
            pytest.fail("dependency.evaluate.box_overlaps is not built (run `python setup.py build_ext --inplace`)")
        pytest.skip("Cython extension not built")


def test_cython_matrix_equals_numpy():
    _require_cython()
    rng = np.random.default_rng(1)
    a, b = _random_boxes(rng, 200), _random_boxes(rng, 150)
    # Bit-exact: both evaluate the identical IEEE expression sequence (no fast-math / FMA).
    np.testing.assert_array_equal(box_overlaps(a, b, use_cython=True), box_overlaps_np(a, b))


def test_cython_max_overlaps_equals_numpy_and_plain_loop():
    _require_cython()
    rng = np.random.default_rng(2)
    pred_counts = rng.integers(0, 15, 40)
    gt_counts = rng.integers(0, 12, 40)
    pred_counts[:3], gt_counts[3:6] = 0, 0  # images without predictions / without GT
    pred_start = np.concatenate([[0], np.cumsum(pred_counts)])
    gt_start = np.concatenate([[0], np.cumsum(gt_counts)])
    gt = _random_boxes(rng, gt_start[-1])
    pred = _random_boxes(rng, pred_start[-1])
    pred[::7] = gt[rng.integers(0, len(gt), len(pred[::7]))]  # some exact hits (IoU 1, possibly cross-image)
    iou_cy, idx_cy = max_overlaps_by_image(pred, pred_start, gt, gt_start, use_cython=True)
    iou_np, idx_np = max_overlaps_by_image_np(pred, pred_start, gt, gt_start)
    np.testing.assert_array_equal(iou_cy, iou_np)
    np.testing.assert_array_equal(idx_cy, idx_np)
    for img in range(len(pred_counts)):
        for p in range(pred_start[img], pred_start[img + 1]):
            ious = [_iou_plain(gt[g], pred[p]) for g in range(gt_start[img], gt_start[img + 1])]
            if not ious:
                assert idx_cy[p] == -1 and iou_cy[p] == -np.inf
            else:
                assert iou_cy[p] == max(ious)
                assert idx_cy[p] == gt_start[img] + int(np.argmax(ious))


@pytest.mark.parametrize("use_cython", [True, False])
def test_ties_take_the_first_gt(use_cython):
    if use_cython:
        _require_cython()
    gt = xywh_to_corners([[50, 50, 5, 5], [0, 0, 9, 9], [0, 0, 9, 9]])  # duplicate GT boxes 1 and 2
    pred = xywh_to_corners([[0, 0, 9, 9]])
    iou, idx = max_overlaps_by_image(pred, [0, 1], gt, [0, 3], use_cython=use_cython)
    assert (iou[0], idx[0]) == (1.0, 1)


def test_offsets_of_different_length_are_an_error():
    with pytest.raises(ValueError, match="pred_start has 3 entries but gt_start has 2"):
        max_overlaps_by_image(np.zeros((0, 4)), [0, 0, 0], np.zeros((0, 4)), [0, 0])
