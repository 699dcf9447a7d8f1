"""Tests for src/inference/draw.py: what gets drawn where, and atomic image saving."""
import cv2
import numpy as np
import pytest

from src.inference.decode import Detections
from src.inference.draw import BOX_COLOR, LANDMARK_COLORS, draw_detections, save_image


def _one_face():
    points = [[40, 40], [60, 40], [50, 50], [42, 62], [58, 62]]
    return Detections([[30, 30, 71, 81]], [0.87], [points])


def test_draws_box_and_distinct_landmark_colours_on_a_copy():
    image = np.zeros((120, 100, 3), np.uint8)
    drawn = draw_detections(image, _one_face(), show_scores=False)
    assert not image.any(), "the input image must not be modified"
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    assert tuple(drawn[55, 30]) == BOX_COLOR and tuple(drawn[30, 50]) == BOX_COLOR  # left and top edges
    assert tuple(drawn[81, 50]) == BOX_COLOR and tuple(drawn[55, 71]) == BOX_COLOR  # bottom and right edges
    for (x, y), color in zip(_one_face().landmarks[0].astype(int), LANDMARK_COLORS):
        assert tuple(drawn[y, x]) == color
    assert len(set(LANDMARK_COLORS)) == 5 and BOX_COLOR not in LANDMARK_COLORS
    assert not drawn[100:, :].any()  # nothing outside the face


def test_score_label_is_drawn_above_the_box():
    image = np.zeros((120, 100, 3), np.uint8)
    with_score = draw_detections(image, _one_face(), show_scores=True)
    without = draw_detections(image, _one_face(), show_scores=False)
    assert (with_score[:30] != without[:30]).any() and (with_score[82:] == without[82:]).all()


def test_no_detections_returns_equal_copy():
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    drawn = draw_detections(image, Detections.empty())
    np.testing.assert_array_equal(drawn, image)
    assert drawn is not image


def test_save_image_round_trip_png_atomic(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    path = save_image(tmp_path / "sub" / "out.png", image)
    back = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(back, image)  # PNG is lossless and the RGB order is kept
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["out.png"]  # no temp file left
    save_image(path, np.zeros_like(image))  # overwrite in place
    assert not cv2.imread(str(path)).any()


def test_save_image_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="suffix|encode"):
        save_image(tmp_path / "out.notaformat", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        save_image(tmp_path / "out.png", np.zeros((4, 4), np.uint8))
    assert list(tmp_path.iterdir()) == []
