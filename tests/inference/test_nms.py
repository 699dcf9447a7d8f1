"""Tests for src/inference/nms.py and its Cython twin nms_cy.pyx.

References are plain-Python loops written here (hand IoU, greedy NMS, Bodla et al. 2017 Algorithm 1).
"""
import math
import os

import numpy as np
import pytest

from src.inference import nms as nms_module
from src.inference.nms import nms, nms_numpy, soft_nms, soft_nms_numpy

try:
    from src.inference import nms_cy
except ImportError:
    nms_cy = None


def ref_iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def ref_nms(boxes, scores, thresh):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        if all(ref_iou(boxes[i], boxes[k]) <= thresh for k in keep):
            keep.append(i)
    return keep


def ref_soft_nms(boxes, scores, method, thresh, sigma, min_score):
    scores = [float(s) for s in scores]
    remaining = [i for i in range(len(scores)) if scores[i] >= min_score]
    keep, kept = [], []
    while remaining:
        best = min(remaining, key=lambda i: (-scores[i], i))
        keep.append(best)
        kept.append(scores[best])
        remaining.remove(best)
        for i in remaining:
            iou = ref_iou(boxes[best], boxes[i])
            if method == "linear":
                scores[i] *= (1 - iou) if iou > thresh else 1.0
            else:
                scores[i] *= math.exp(-iou * iou / sigma)
        remaining = [i for i in remaining if scores[i] >= min_score]
    return keep, kept


def random_boxes(seed, n=300, quantize_scores=False):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 200, (n, 2))
    wh = rng.uniform(2, 60, (n, 2))
    boxes = np.concatenate([xy, xy + wh], 1)
    boxes[::25] = boxes[1::25][: len(boxes[::25])]  # some exact duplicates
    scores = rng.random(n)
    if quantize_scores:
        scores = np.round(scores, 1)  # many ties: exercises the lowest-index-first rule
    return boxes, scores


@pytest.mark.parametrize("seed, ties", [(0, False), (1, True), (2, False)])
@pytest.mark.parametrize("thresh", [0.3, 0.5])
def test_hard_nms_matches_python_reference(seed, ties, thresh):
    boxes, scores = random_boxes(seed, quantize_scores=ties)
    expected = ref_nms(boxes.tolist(), scores.tolist(), thresh)
    assert nms_numpy(boxes, scores, thresh).tolist() == expected
    assert nms(boxes, scores, thresh).tolist() == expected


@pytest.mark.parametrize("method", ["linear", "gaussian"])
@pytest.mark.parametrize("seed, ties", [(3, False), (4, True)])
def test_soft_nms_matches_python_reference(method, seed, ties):
    boxes, scores = random_boxes(seed, n=150, quantize_scores=ties)
    keep, kept = ref_soft_nms(boxes.tolist(), scores.tolist(), method, 0.3, 0.5, 0.001)
    for implementation in (soft_nms_numpy, soft_nms):
        got_keep, got_scores = implementation(boxes, scores, method, 0.3, 0.5, 0.001)
        assert got_keep.tolist() == keep
        # 1e-12: the same float64 operations; only exp may differ by an ulp between libm and numpy.
        np.testing.assert_allclose(got_scores, kept, rtol=1e-12, atol=0)


def _require_extension():
    if nms_cy is None:
        if os.environ.get("CI"):
            pytest.fail("src.inference.nms_cy is not built (run `python setup.py build_ext --inplace`)")
        pytest.skip("Cython extension not built")


@pytest.mark.parametrize("seed, ties", [(5, False), (6, True), (7, False)])
def test_cython_equals_numpy(seed, ties):
    _require_extension()
    assert nms_module._hard_nms_cy is not None, "nms.py must use the extension when it is built"
    boxes, scores = random_boxes(seed, n=1000, quantize_scores=ties)
    for thresh in (0.0, 0.3, 0.7):
        order = np.argsort(-scores, kind="stable").astype(np.intp)
        np.testing.assert_array_equal(nms_cy.hard_nms(boxes, order, thresh), nms_numpy(boxes, scores, thresh))
    for method_id, method in ((1, "linear"), (2, "gaussian")):
        cy_keep, cy_scores = nms_cy.soft_nms(boxes, scores.copy(), method_id, 0.3, 0.5, 0.001)
        np_keep, np_scores = soft_nms_numpy(boxes, scores, method, 0.3, 0.5, 0.001)
        np.testing.assert_array_equal(cy_keep, np_keep)  # same keep order exactly
        np.testing.assert_allclose(cy_scores, np_scores, rtol=0, atol=1e-6)  # brief's bound; measured ~1e-15


@pytest.mark.parametrize("thresh", [0.2, 0.5])
def test_hard_nms_properties(thresh):
    boxes, scores = random_boxes(8, n=400)
    keep = nms(boxes, scores, thresh)
    assert np.all(np.diff(scores[keep]) <= 0)
    kept_list = keep.tolist()
    for a in range(len(kept_list)):
        for b in range(a + 1, len(kept_list)):
            assert ref_iou(boxes[kept_list[a]], boxes[kept_list[b]]) <= thresh
    for i in set(range(len(boxes))) - set(kept_list):  # every dropped box has a better kept neighbour
        assert any(ref_iou(boxes[i], boxes[k]) > thresh and scores[k] >= scores[i] for k in kept_list)


def test_hand_computed_pair():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], float)  # IoU = 50 / 150 = 1/3
    scores = np.array([0.6, 0.9])
    assert nms(boxes, scores, 0.3).tolist() == [1]
    assert nms(boxes, scores, 0.34).tolist() == [1, 0]
    keep, new = soft_nms(boxes, scores, "linear", 0.3)
    assert keep.tolist() == [1, 0]
    np.testing.assert_allclose(new, [0.9, 0.6 * (2 / 3)], rtol=1e-12)
    keep, new = soft_nms(boxes, scores, "linear", 0.34)
    np.testing.assert_allclose(new, [0.9, 0.6], rtol=1e-12)
    keep, new = soft_nms(boxes, scores, "gaussian", sigma=0.5)
    np.testing.assert_allclose(new, [0.9, 0.6 * math.exp(-(1 / 9) / 0.5)], rtol=1e-12)
    keep, new = soft_nms(boxes, scores, "linear", 0.3, min_score=0.5)  # 0.4 < 0.5: dropped
    assert keep.tolist() == [1]


def test_degenerate_and_empty_inputs():
    boxes = np.array([[5, 5, 5, 5], [5, 5, 5, 5], [0, 0, 10, 10]], float)  # zero-area: IoU 0
    assert sorted(nms(boxes, np.array([0.9, 0.8, 0.7]), 0.0).tolist()) == [0, 1, 2]
    empty_boxes, empty_scores = np.zeros((0, 4)), np.zeros(0)
    assert nms(empty_boxes, empty_scores, 0.3).shape == (0,)
    keep, new = soft_nms(empty_boxes, empty_scores, "gaussian")
    assert keep.shape == (0,) and new.shape == (0,)
    keep, _ = soft_nms(boxes, np.array([0.0005, 0.9, 0.8]), "linear")  # below min_score from the start
    assert 0 not in keep.tolist()


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="boxes must have shape"):
        nms(np.zeros((3, 5)), np.zeros(3), 0.3)
    with pytest.raises(ValueError, match="scores must have shape"):
        soft_nms(np.zeros((3, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        nms(np.array([[0, 0, np.nan, 1]]), np.ones(1), 0.3)
    with pytest.raises(ValueError, match="method"):
        soft_nms(np.zeros((1, 4)), np.ones(1), "exp")
    with pytest.raises(ValueError, match="sigma"):
        soft_nms_numpy(np.zeros((1, 4)), np.ones(1), "gaussian", sigma=0)
