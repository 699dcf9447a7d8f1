"""Tests for src/data/center_targets.py (the centre targets of every CenterNet task, used alone by ctdet): a
hand-computed multi-class case, an independent float32 transcription of the original's ctdet sample rules written
here (radius formula, clipping, Gaussian drawn cell by cell) on many random boxes, cat_spec_wh, max_objs, empty
images and bad input. The pose extras on top of these are in tests/centernet_pose/test_targets.py.

Gaussians are built from exp(-(dx^2 + dy^2) / (2 sigma^2)), sigma = (2r+1)/6, cell by cell (not with
src/data/gaussian.py); rtol 1e-6 (float32 kernel vs float64 formula); everything else is exact.
"""
import math

import numpy as np
import pytest

from src.data.center_targets import CAT_SPEC_KEYS, CENTER_KEYS, CenterTargets
from tests.target_reference import gaussian_map

H, W, C = 24, 32, 3


def original_radius(h, w, min_overlap=0.7):
    """CenterNet's gaussian_radius as published: the minimum of its three roots (cases 1 and 2 with the large
    root, case 3 divided by 2 instead of 2a), on the ceiled box size."""
    h, w = math.ceil(h), math.ceil(w)
    b1, c1 = h + w, w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1 ** 2 - 4 * c1)) / 2
    a2, b2, c2 = 4, 2 * (h + w), (1 - min_overlap) * w * h
    r2 = (b2 + math.sqrt(b2 ** 2 - 4 * a2 * c2)) / 2
    a3, b3, c3 = 4 * min_overlap, -2 * min_overlap * (h + w), (min_overlap - 1) * w * h
    r3 = (b3 + math.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def reference_targets(boxes, labels, num_classes, max_objs, height, width):
    """The original's ctdet rules (datasets/sample/ctdet.py), transcribed in float32 numpy; Gaussians max-merged."""
    hm = np.zeros((num_classes, height, width), np.float64)
    wh = np.zeros((max_objs, 2), np.float32)
    reg = np.zeros((max_objs, 2), np.float32)
    ind = np.zeros(max_objs, np.int64)
    reg_mask = np.zeros(max_objs, np.float32)
    for k in range(min(len(boxes), max_objs)):
        bbox = np.array(boxes[k], np.float32)
        bbox[[0, 2]] = np.clip(bbox[[0, 2]], 0, width - 1)
        bbox[[1, 3]] = np.clip(bbox[[1, 3]], 0, height - 1)
        h, w = bbox[3] - bbox[1], bbox[2] - bbox[0]
        if h > 0 and w > 0:
            radius = max(0, int(original_radius(h, w)))
            ct = np.array([(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2], np.float32)
            ct_int = ct.astype(np.int32)
            hm[labels[k]] = np.maximum(hm[labels[k]], gaussian_map(height, width, ct_int[1], ct_int[0], radius))
            wh[k] = w, h
            ind[k] = ct_int[1] * width + ct_int[0]
            reg[k] = ct - ct_int
            reg_mask[k] = 1
    return hm, wh, reg, ind, reg_mask


def test_two_classes_by_hand():
    # class 2: box [3.5, 4, 13.5, 11] -> w 10, h 7: case 3 (the minimum) a=2.8, b=-23.8, c=-21 ->
    #   (-23.8 + sqrt(566.44 + 235.2)) / 2 = 2.26 -> r 2; centre (8.5, 7.5) -> cell (col 8, row 7), reg (.5, .5)
    # class 0: box [20, 2, 24, 6] -> 4 x 4: (-11.2 + sqrt(179.2)) / 2 = 1.09 -> r 1; centre (22, 4), reg (0, 0);
    #   ind 4 * 32 + 22 = 150
    out = CenterTargets((H, W), num_classes=C, max_objs=4)([[3.5, 4, 13.5, 11], [20, 2, 24, 6]], [2, 0])
    assert tuple(out) == CENTER_KEYS
    np.testing.assert_array_equal(out["wh"][:2], [[10, 7], [4, 4]])
    assert out["ind"][:2].tolist() == [7 * W + 8, 150] and out["ind"].dtype == np.int32
    np.testing.assert_array_equal(out["reg"][:2], [[0.5, 0.5], [0, 0]])
    assert out["reg_mask"].tolist() == [1, 1, 0, 0]
    np.testing.assert_allclose(out["hm"][2], gaussian_map(H, W, 7, 8, 2), rtol=1e-6)
    np.testing.assert_allclose(out["hm"][0], gaussian_map(H, W, 4, 22, 1), rtol=1e-6)
    assert not out["hm"][1].any() and out["hm"][2, 7, 8] == 1.0 and out["hm"][0, 4, 22] == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_random_boxes_match_the_original_rules(seed):
    """Boxes anywhere (cut by the borders, outside, degenerate, overlapping), more than max_objs of them."""
    rng = np.random.default_rng(seed)
    count = 40
    xy = rng.uniform(-10, 40, (count, 2))
    size = rng.uniform(0, 18, (count, 2)) * (rng.random((count, 1)) > 0.1)  # some empty boxes
    boxes = np.concatenate([xy, xy + size], axis=1).astype(np.float32)
    boxes[::7, :2] = np.round(boxes[::7, :2] * 2) / 2  # .5 centres: float32 truncation at the boundary
    labels = rng.integers(0, C, count)
    out = CenterTargets((H, W), num_classes=C, max_objs=32)(boxes, labels)
    hm, wh, reg, ind, reg_mask = reference_targets(boxes, labels, C, 32, H, W)
    np.testing.assert_allclose(out["hm"], hm, rtol=1e-6, atol=0)
    assert (out["hm"] == 1.0).sum() == (hm == 1.0).sum()  # every peak is exactly 1
    np.testing.assert_array_equal(out["wh"], wh)
    np.testing.assert_array_equal(out["reg"], reg)
    np.testing.assert_array_equal(out["ind"], ind)
    np.testing.assert_array_equal(out["reg_mask"], reg_mask)
    assert 0 < reg_mask.sum() < 32  # the case exercises both kept and skipped boxes


def test_cat_spec_wh_writes_the_class_pair_only():
    out = CenterTargets((H, W), num_classes=C, max_objs=3, cat_spec_wh=True)([[1, 1, 6, 9], [10, 10, 13, 12]],
                                                                             [1, 2])
    assert tuple(out) == CAT_SPEC_KEYS and "wh" not in out
    expected = np.zeros((3, 2 * C), np.float32)
    expected[0, 2:4] = (5, 8)
    expected[1, 4:6] = (3, 2)
    np.testing.assert_array_equal(out["cat_spec_wh"], expected)
    np.testing.assert_array_equal(out["cat_spec_mask"], (expected > 0).astype(np.float32))
    plain = CenterTargets((H, W), num_classes=C, max_objs=3)([[1, 1, 6, 9], [10, 10, 13, 12]], [1, 2])
    for key in ("hm", "reg", "ind", "reg_mask"):
        np.testing.assert_array_equal(out[key], plain[key])


def test_only_the_first_max_objs_are_used_and_empty_images():
    boxes = [[1, 1, 5, 5], [10, 10, 15, 15], [20, 2, 25, 8]]
    out = CenterTargets((H, W), num_classes=1, max_objs=2)(boxes, [0, 0, 0])
    assert out["reg_mask"].tolist() == [1, 1] and out["hm"][0, 5, 22] == 0  # the third box drew nothing
    empty = CenterTargets((H, W), num_classes=C, max_objs=5)(np.zeros((0, 4)), np.zeros(0, np.int64))
    assert {k: v.shape for k, v in empty.items()} == {"hm": (C, H, W), "wh": (5, 2), "reg": (5, 2), "ind": (5,),
                                                      "reg_mask": (5,)}
    assert not any(v.any() for v in empty.values())
    np.testing.assert_array_equal(CenterTargets((H, W))([[1, 1, 5, 5]])["hm"],
                                  CenterTargets((H, W))([[1, 1, 5, 5]], [0])["hm"])  # labels None: class 0


@pytest.mark.parametrize("boxes, labels, match", [
    (np.zeros((2, 5)), [0, 0], r"boxes must have shape \(N, 4\)"),
    (np.zeros((2, 4)), [0], "labels must be 2 integer classes"),
    (np.zeros((2, 4)), [0, 3], r"in \[0, 3\)"),
    (np.zeros((1, 4)), [0.5], "integer classes"),
])
def test_bad_input(boxes, labels, match):
    with pytest.raises(ValueError, match=match):
        CenterTargets((H, W), num_classes=C)(boxes, labels)


@pytest.mark.parametrize("kwargs, match", [({"num_classes": 0}, "num_classes"), ({"output_res": (8, 0)}, "output_res"),
                                           ({"radius": "x"}, "radius"), ({"min_overlap": 0}, "min_overlap")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CenterTargets(**kwargs)
