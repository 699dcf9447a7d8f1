"""Tests for src/centerface/targets.py against hand computations and the decode convention."""
import math

import numpy as np
import pytest

from src.centerface.targets import CenterFaceTargets
from src.data.gaussian import gaussian_kernel, gaussian_radius


def decode(targets, stride=4):
    """The project's decode convention applied to regression targets of the used slots."""
    grid_w = targets["heatmap"].shape[2]
    out = []
    for slot in np.flatnonzero(targets["mask"]):
        row, col = divmod(int(targets["ind"][slot]), grid_w)
        box_h = math.exp(targets["scale"][slot, 0]) * stride
        box_w = math.exp(targets["scale"][slot, 1]) * stride
        cx = (col + targets["offset"][slot, 1] + 0.5) * stride
        cy = (row + targets["offset"][slot, 0] + 0.5) * stride
        x1, y1 = cx - box_w / 2, cy - box_h / 2
        lm = targets["landmarks"][slot]
        lms = [(lm[2 * j + 1] * box_w + x1, lm[2 * j] * box_h + y1) for j in range(5)]
        out.append((np.array([x1, y1, x1 + box_w, y1 + box_h]), np.array(lms)))
    return out


def test_single_face_by_hand():
    targets = CenterFaceTargets(input_size=(512, 512), max_objs=4)
    box = np.array([[101.0, 62.0, 221.0, 162.0]])  # w 120, h 100 -> centre (161, 112)
    lms = np.array([[[130, 90], [190, 92], [160, 120], [135, 140], [185, 141]]], float)
    valid = np.array([[True, True, True, False, True]])
    t = targets(box, lms, valid)
    # grid coordinates: 161/4 - 0.5 = 39.75 -> col 39, off_x 0.75; 112/4 - 0.5 = 27.5 -> row 27, off_y 0.5
    row, col = 27, 39
    assert t["heatmap"].shape == (1, 128, 128) and t["heatmap"].dtype == np.float32
    assert t["heatmap"][0, row, col] == 1.0
    assert np.unravel_index(np.argmax(t["heatmap"][0]), (128, 128)) == (row, col)
    radius = int(gaussian_radius(25.0, 30.0, 0.7))  # box is 25 x 30 grid cells (brute-forced in test_gaussian.py)
    assert radius == 2
    sigma = (2 * radius + 1) / 6
    for dy in range(-radius - 1, radius + 2):
        for dx in range(-radius - 1, radius + 2):
            inside = abs(dx) <= radius and abs(dy) <= radius
            expected = math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) if inside else 0.0
            assert t["heatmap"][0, row + dy, col + dx] == pytest.approx(expected, rel=1e-6, abs=1e-12)
    assert t["heatmap"].sum() == pytest.approx(gaussian_kernel(radius).sum(), rel=1e-6)
    assert t["ind"].dtype == np.int32 and t["ind"][0] == row * 128 + col
    np.testing.assert_array_equal(t["mask"], [1, 0, 0, 0])
    np.testing.assert_allclose(t["scale"][0], [math.log(25.0), math.log(30.0)], rtol=1e-6)
    np.testing.assert_allclose(t["offset"][0], [0.5, 0.75], atol=1e-6)
    expected_lm = []
    for j in range(5):
        expected_lm += [(lms[0, j, 1] - 62) / 100, (lms[0, j, 0] - 101) / 120] if valid[0, j] else [0, 0]
    np.testing.assert_allclose(t["landmarks"][0], expected_lm, atol=1e-6)
    np.testing.assert_array_equal(t["landmark_mask"][0], [1, 1, 1, 1, 1, 1, 0, 0, 1, 1])
    assert t["size_weight"][0] == 1.0  # 25 x 30 = 750 cells^2 > 40
    assert t["num_dropped"] == 0
    for key in CenterFaceTargets.ARRAY_KEYS:
        assert t[key].dtype == (np.int32 if key == "ind" else np.float32), key


def test_decode_recovers_boxes_and_landmarks():
    """Float32 storage: log-scale values (< 5) carry ~3e-7 relative error, so boxes up to 256 px come
    back within 1e-4 px."""
    rng = np.random.default_rng(0)
    targets = CenterFaceTargets(input_size=(320, 448), max_objs=32)
    for _ in range(20):
        n = int(rng.integers(1, 20))
        wh = rng.uniform(2, 256, size=(n, 2))
        x1 = rng.uniform(-wh[:, 0] / 2 + 0.01, 448 - wh[:, 0] / 2 - 0.01)  # centres inside the input
        y1 = rng.uniform(-wh[:, 1] / 2 + 0.01, 320 - wh[:, 1] / 2 - 0.01)
        boxes = np.stack([x1, y1, x1 + wh[:, 0], y1 + wh[:, 1]], axis=1)
        lms = boxes[:, None, :2] + rng.uniform(-0.1, 1.1, (n, 5, 2)) * wh[:, None, :]
        valid = np.ones((n, 5), bool)
        t = targets(boxes, lms, valid)
        order = np.argsort(-(wh[:, 0] * wh[:, 1]), kind="stable")
        for (box, lm), k in zip(decode(t), order):
            np.testing.assert_allclose(box, boxes[k], atol=1e-4)
            np.testing.assert_allclose(lm, lms[k], atol=1e-4)


def test_centre_on_the_border_is_clipped_into_the_map_and_still_decodes():
    targets = CenterFaceTargets(input_size=64)
    box = np.array([[-3.0, 0.0, 5.0, 2.0]])  # centre (1, 1) -> grid (-0.25, -0.25)
    t = targets(box, np.zeros((1, 5, 2)), np.zeros((1, 5), bool))
    assert t["ind"][0] == 0 and t["heatmap"][0, 0, 0] == 1.0
    np.testing.assert_allclose(t["offset"][0], [-0.25, -0.25])
    np.testing.assert_allclose(decode(t)[0][0], box[0], atol=1e-5)


def test_overlapping_gaussians_take_the_max():
    targets = CenterFaceTargets(input_size=256)
    boxes = np.array([[40.0, 40.0, 140.0, 150.0], [60.0, 52.0, 150.0, 140.0]])
    lms, valid = np.zeros((2, 5, 2)), np.zeros((2, 5), bool)
    both = targets(boxes, lms, valid)["heatmap"]
    first = targets(boxes[:1], lms[:1], valid[:1])["heatmap"]
    second = targets(boxes[1:], lms[1:], valid[1:])["heatmap"]
    assert np.count_nonzero((first > 0) & (second > 0)) > 0  # they do overlap
    np.testing.assert_array_equal(both, np.maximum(first, second))


def test_more_faces_than_slots_keeps_the_largest():
    targets = CenterFaceTargets(input_size=128, max_objs=3)
    sizes = [8, 40, 16, 32, 24]
    corners = [10 + 20 * i for i in range(5)]
    boxes = np.array([[c, c, c + s, c + s] for c, s in zip(corners, sizes)], float)
    t = targets(boxes, np.zeros((5, 5, 2)), np.zeros((5, 5), bool))
    assert t["num_dropped"] == 2
    np.testing.assert_allclose(np.exp(t["scale"][:, 1]) * 4, [40, 32, 24], rtol=1e-6)
    assert np.count_nonzero(t["heatmap"] == 1.0) == 5  # every face keeps its peak


@pytest.mark.parametrize("w_px, h_px, weight", [(8, 8, 0.1), (8, 9, 15.0), (8, 20, 15.0), (12, 16, 10.0),
                                                 (16, 20, 10.0), (24, 24, 5.0), (16, 40, 5.0), (28, 28, 1.0)])
def test_size_weight_uses_output_grid_area(w_px, h_px, weight):
    """Areas in output cells^2 = w*h/16: 4, 4.5, 10, 12, 20, 36, 40, 49 (exact in binary floating point,
    so the <= boundaries are tested exactly)."""
    box = np.array([[50.0, 50.0, 50.0 + w_px, 50.0 + h_px]])
    t = CenterFaceTargets(input_size=128)(box, np.zeros((1, 5, 2)), np.zeros((1, 5), bool))
    assert t["size_weight"][0] == pytest.approx(weight)


def test_landmarks_of_tiny_boxes_are_masked():
    targets = CenterFaceTargets(input_size=64, landmark_min_area=8.0)
    boxes = np.array([[10.0, 10.0, 12.0, 14.0], [30.0, 30.0, 33.0, 33.0]])  # areas 8 and 9 px^2
    lms = np.concatenate([np.full((1, 5, 2), 11.0), np.full((1, 5, 2), 31.0)])
    t = targets(boxes, lms, np.ones((2, 5), bool))
    by_area = {round(float(np.exp(t["scale"][s]).prod() * 16)): s for s in range(2)}
    assert not t["landmark_mask"][by_area[8]].any()
    assert t["landmark_mask"][by_area[9]].all()


def test_no_faces_and_bad_shapes():
    targets = CenterFaceTargets(input_size=64)
    t = targets(np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros((0, 5), bool))
    assert not t["heatmap"].any() and not t["mask"].any()
    with pytest.raises(ValueError, match="one landmark set per box"):
        targets(np.zeros((2, 4)), np.zeros((1, 5, 2)), np.zeros((1, 5), bool))
    with pytest.raises(ValueError, match="multiples of stride"):
        CenterFaceTargets(input_size=(62, 64))
