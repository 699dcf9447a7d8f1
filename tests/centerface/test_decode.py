"""Tests for src/centerface/decode.py on hand-built head outputs whose decoded answer is known exactly.

Faces are chosen in pixels first and then encoded into the heads with the project convention written out
here (centre (cx, cy) -> grid (cx/4 - 0.5, cy/4 - 0.5), integer cell = floor, offset = remainder), so the
expected values do not come from the decoder.
"""
import json
import math

import numpy as np
import pytest

from src.centerface.decode import decode, detections_to_json
from src.inference.detections import apply_nms
from src.inference.preprocess import make_input

STRIDE = 4
TOL = 1e-4  # px; the decoder computes in float64 and returns float32 (~6e-5 px resolution below 1000 px)


def empty_heads(h, w):
    return {"heatmap": np.zeros((1, h, w), np.float32), "scale": np.zeros((2, h, w), np.float32),
            "offset": np.zeros((2, h, w), np.float32), "landmarks": np.zeros((10, h, w), np.float32)}


def place_face(heads, box_xyxy, points_xy, score):
    """Encode one face given in input pixels into the heads; returns its (row, col)."""
    x1, y1, x2, y2 = box_xyxy
    box_w, box_h = x2 - x1, y2 - y1
    gx, gy = (x1 + x2) / 2 / STRIDE - 0.5, (y1 + y2) / 2 / STRIDE - 0.5
    col, row = math.floor(gx), math.floor(gy)
    heads["heatmap"][0, row, col] = score
    heads["scale"][:, row, col] = [math.log(box_h / STRIDE), math.log(box_w / STRIDE)]
    heads["offset"][:, row, col] = [gy - row, gx - col]
    for j, (lx, ly) in enumerate(points_xy):
        heads["landmarks"][2 * j, row, col] = (ly - y1) / box_h
        heads["landmarks"][2 * j + 1, row, col] = (lx - x1) / box_w
    return row, col


FACE_BOX = (37.5, 21.25, 67.5, 61.25)  # w 30, h 40; centre (52.5, 41.25) -> cell (row 9, col 12)
FACE_POINTS = ((45.0, 33.0), (60.5, 32.0), (52.0, 42.75), (46.25, 52.0), (59.0, 51.5))


def test_single_face_decodes_exactly():
    heads = empty_heads(32, 32)
    assert place_face(heads, FACE_BOX, FACE_POINTS, 0.9) == (9, 12)
    dets = decode(**heads)
    assert len(dets) == 1
    np.testing.assert_allclose(dets.boxes[0], FACE_BOX, rtol=0, atol=TOL)
    np.testing.assert_allclose(dets.keypoints[0], FACE_POINTS, rtol=0, atol=TOL)
    assert dets.scores[0] == np.float32(0.9)
    assert dets.boxes.dtype == dets.scores.dtype == dets.keypoints.dtype == np.float32


def test_leading_batch_dim_of_one_is_accepted():
    heads = empty_heads(32, 32)
    place_face(heads, FACE_BOX, FACE_POINTS, 0.9)
    dets = decode(**{k: v[None] for k, v in heads.items()})
    np.testing.assert_allclose(dets.boxes[0], FACE_BOX, rtol=0, atol=TOL)


def test_scale_half_meta_maps_back_to_original_pixels():
    # Original 200x160 image at scale 0.5: input = original / 2 (input 128x96, heads 32x24).
    _, meta = make_input(np.zeros((200, 160, 3), np.uint8), scale=0.5)
    box = (61.0, 50.5, 121.0, 130.5)
    points = ((80.0, 75.0), (102.0, 74.0), (91.0, 95.0), (82.0, 112.0), (100.5, 111.0))
    heads = empty_heads(32, 24)
    place_face(heads, [v / 2 for v in box], [(x / 2, y / 2) for x, y in points], 0.8)
    dets = decode(**heads, meta=meta)
    np.testing.assert_allclose(dets.boxes[0], box, rtol=0, atol=TOL)
    np.testing.assert_allclose(dets.keypoints[0], points, rtol=0, atol=TOL)


def test_fixed_832_meta_maps_back_to_original_pixels():
    # Original h 400, w 300 into 832x832: x_in = 2.08 x + 104, y_in = 2.08 y (see test_preprocess).
    _, meta = make_input(np.zeros((400, 300, 3), np.uint8), input_size=(832, 832))
    box = (120.0, 150.0, 170.0, 215.0)
    points = ((135.0, 170.0), (156.0, 171.0), (146.0, 185.0), (137.0, 200.0), (155.0, 199.5))
    heads = empty_heads(208, 208)
    place_face(heads, [2.08 * box[0] + 104, 2.08 * box[1], 2.08 * box[2] + 104, 2.08 * box[3]],
               [(2.08 * x + 104, 2.08 * y) for x, y in points], 0.7)
    dets = decode(**heads, meta=meta)
    np.testing.assert_allclose(dets.boxes[0], box, rtol=0, atol=TOL)
    np.testing.assert_allclose(dets.keypoints[0], points, rtol=0, atol=TOL)


def test_boxes_are_clipped_after_both_corners_are_computed():
    heads = empty_heads(16, 16)  # input 64x64
    place_face(heads, (-10.0, 5.0, 20.0, 45.0), FACE_POINTS, 0.9)  # sticks out on the left
    place_face(heads, (40.0, 30.0, 80.0, 70.0), FACE_POINTS, 0.8)  # sticks out right and bottom
    dets = decode(**heads)
    # Clipping x1 first and then adding the width (deface) would give [0, 5, 30, 45].
    np.testing.assert_allclose(dets.boxes, [[0, 5, 20, 45], [40, 30, 64, 64]], rtol=0, atol=TOL)


def test_clipped_to_original_image_not_padding_and_empty_boxes_dropped():
    _, meta = make_input(np.zeros((50, 40, 3), np.uint8))  # input 64x64, image occupies 50x40
    heads = empty_heads(16, 16)
    place_face(heads, (30.0, 30.0, 50.0, 60.0), FACE_POINTS, 0.9)  # partly in the padding
    place_face(heads, (44.0, 4.0, 60.0, 20.0), FACE_POINTS, 0.8)  # entirely in the padding
    dets = decode(**heads, meta=meta)
    assert len(dets) == 1
    np.testing.assert_allclose(dets.boxes[0], [30, 30, 40, 50], rtol=0, atol=TOL)


def test_peaks_plateau_and_non_peaks():
    heads = empty_heads(16, 16)
    for col, score in ((3, 0.9), (4, 0.9), (5, 0.8)):  # a plateau of two, then a lower neighbour
        heads["heatmap"][0, 8, col] = score
        heads["scale"][:, 8, col] = math.log(2.0)  # 8x8 boxes centred at x = (col + 0.5) * 4
    dets = decode(**heads)
    assert len(dets) == 2 and np.all(dets.scores == np.float32(0.9))
    np.testing.assert_allclose(sorted(dets.boxes[:, 0]), [10, 14], atol=TOL)
    # The plateau boxes [10, 18] and [14, 22] overlap with IoU 32/96 = 1/3 > 0.3: hard NMS keeps the
    # lower flat index among equal scores (the decoder orders equal scores by flat index).
    dets = apply_nms(decode(**heads), "hard", nms_iou=0.3)
    assert len(dets) == 1
    np.testing.assert_allclose(dets.boxes[0], [10, 30, 18, 38], atol=TOL)


def _grid_of_peaks(scores):
    heads = empty_heads(32, 32)
    cells = []
    for i, score in enumerate(scores):
        row, col = 3 * (i // 8) + 1, 3 * (i % 8) + 1  # isolated cells, 3 apart
        heads["heatmap"][0, row, col] = score
        cells.append((row, col))
    return heads, cells


def test_top_k_keeps_the_best_sorted():
    scores = np.random.default_rng(3).permutation(np.linspace(0.1, 0.95, 20)).astype(np.float32)
    heads, _ = _grid_of_peaks(scores)
    dets = decode(**heads, top_k=5)
    np.testing.assert_array_equal(dets.scores, np.sort(scores)[::-1][:5])
    assert len(decode(**heads, top_k=None)) == 20


def test_score_threshold_is_strict():
    heads, cells = _grid_of_peaks(np.float32([0.04, 0.05, 0.06, 0.5]))
    dets = decode(**heads, score_thresh=0.05)
    np.testing.assert_array_equal(dets.scores, np.float32([0.5, 0.06]))


def test_empty_heatmap_gives_zero_detections_with_shapes():
    dets = decode(**empty_heads(8, 8))
    assert len(dets) == 0
    assert dets.boxes.shape == (0, 4) and dets.scores.shape == (0,) and dets.keypoints.shape == (0, 5, 2)
    assert detections_to_json(dets, "a.jpg") == {"image": "a.jpg", "detections": []}


def _two_overlapping_faces():
    heads = empty_heads(32, 32)
    place_face(heads, (20.0, 20.0, 60.0, 60.0), FACE_POINTS, 0.9)
    place_face(heads, (28.0, 20.0, 68.0, 60.0), FACE_POINTS, 0.6)  # IoU 32*40/(2*1600-1280) = 2/3
    return heads


def test_decode_keeps_overlaps_for_the_one_nms_of_the_machinery():
    """The decoder returns every peak above the threshold; the NMS (hard or soft) comes after all passes."""
    dets = decode(**_two_overlapping_faces())
    np.testing.assert_array_equal(dets.scores, np.float32([0.9, 0.6]))
    hard = apply_nms(dets, "hard", nms_iou=0.3)
    assert len(hard) == 1 and hard.scores[0] == np.float32(0.9)
    assert len(apply_nms(dets, "hard", nms_iou=0.7)) == 2
    linear = apply_nms(dets, "soft_linear", nms_iou=0.3)
    np.testing.assert_allclose(linear.scores, [0.9, 0.6 * (1 - 2 / 3)], rtol=1e-6)
    gauss = apply_nms(dets, "soft_gaussian", soft_sigma=0.5)
    np.testing.assert_allclose(gauss.scores, [0.9, 0.6 * math.exp(-(4 / 9) / 0.5)], rtol=1e-6)
    assert len(apply_nms(dets, "soft_linear", nms_iou=0.3, soft_min_score=0.3)) == 1  # 0.2 < 0.3 dropped


def test_detections_to_json_uses_python_floats():
    heads = empty_heads(32, 32)
    place_face(heads, FACE_BOX, FACE_POINTS, 0.9)
    record = detections_to_json(decode(**heads), "0_Parade_0.jpg")
    json.dumps(record)
    (item,) = record["detections"]
    assert record["image"] == "0_Parade_0.jpg"
    assert all(type(v) is float for v in item["bbox"]) and type(item["score"]) is float
    assert len(item["landmarks"]) == 5 and all(type(v) is float for p in item["landmarks"] for v in p)
    np.testing.assert_allclose(item["bbox"], FACE_BOX, atol=TOL)
    np.testing.assert_allclose(item["landmarks"], FACE_POINTS, atol=TOL)


def test_bad_heads_and_arguments_are_rejected():
    heads = empty_heads(8, 8)
    with pytest.raises(ValueError, match="landmarks"):
        decode(**{**heads, "landmarks": np.zeros((8, 8, 8))})
    with pytest.raises(ValueError, match="spatial"):
        decode(**{**heads, "offset": np.zeros((2, 8, 9))})
    with pytest.raises(ValueError, match="top_k"):
        decode(**heads, top_k=0)


