"""Tests for src/inference/draw.py: what gets drawn where, and atomic image saving."""
import cv2
import numpy as np
import pytest

from src.data.keypoints import COCO_PERSON, FACE_LANDMARKS
from src.inference.detections import Detections
from src.inference.draw import BOX_COLOR, EDGE_COLOR, draw_detections, save_image

LANDMARK_COLORS = FACE_LANDMARKS.colors


def _one_face():
    points = [[40, 40], [60, 40], [50, 50], [42, 62], [58, 62]]
    return Detections([[30, 30, 71, 81]], [0.87], [points])


def test_draws_box_and_distinct_landmark_colours_on_a_copy():
    image = np.zeros((120, 100, 3), np.uint8)
    drawn = draw_detections(image, _one_face(), FACE_LANDMARKS, show_scores=False)
    assert not image.any(), "the input image must not be modified"
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    assert tuple(drawn[55, 30]) == BOX_COLOR and tuple(drawn[30, 50]) == BOX_COLOR  # left and top edges
    assert tuple(drawn[81, 50]) == BOX_COLOR and tuple(drawn[55, 71]) == BOX_COLOR  # bottom and right edges
    for (x, y), color in zip(_one_face().keypoints[0].astype(int), LANDMARK_COLORS):
        assert tuple(drawn[y, x]) == color
    assert len(set(LANDMARK_COLORS)) == 5 and BOX_COLOR not in LANDMARK_COLORS
    assert not drawn[100:, :].any()  # nothing outside the face


def test_score_label_is_drawn_above_the_box():
    image = np.zeros((120, 100, 3), np.uint8)
    with_score = draw_detections(image, _one_face(), FACE_LANDMARKS, show_scores=True)
    without = draw_detections(image, _one_face(), FACE_LANDMARKS, show_scores=False)
    assert (with_score[:30] != without[:30]).any() and (with_score[82:] == without[82:]).all()


def test_no_detections_returns_equal_copy():
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    drawn = draw_detections(image, Detections.empty(5), FACE_LANDMARKS)
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


def test_skeleton_edges_are_drawn_and_low_scoring_joints_are_not():
    """A person whose joints sit on a horizontal line: every edge between drawn joints is a line on that row;
    with min_keypoint_score the joints (and edges) scoring below it disappear."""
    image = np.zeros((60, 200, 3), np.uint8)
    points = np.stack([np.linspace(10, 190, 17), np.full(17, 30.0)], axis=1)[None]
    scores = np.ones((1, 17), np.float32)
    scores[0, 9:] = 0.05
    dets = Detections([[5, 5, 195, 55]], [0.9], points, scores)
    drawn = draw_detections(image, dets, COCO_PERSON, show_scores=False)
    # edge (5, 6) joins two joints 11.25 px apart: the pixel half-way is an edge pixel, not a joint
    middle = int(round((points[0, 5, 0] + points[0, 6, 0]) / 2))
    assert tuple(drawn[30, middle]) == EDGE_COLOR
    hidden = draw_detections(image, dets, COCO_PERSON, show_scores=False, min_keypoint_score=0.1)
    x15 = int(round(points[0, 15, 0]))
    assert tuple(drawn[30, x15]) != (0, 0, 0) and tuple(hidden[30, x15]) == (0, 0, 0)


def _crowd(scale):
    """20 persons of 12-40 px on a 128 px image (times `scale`), as a pose eval of a small image draws them."""
    rng = np.random.default_rng(0)
    xy, wh = rng.uniform(0, 100, (20, 2)), rng.uniform(12, 40, (20, 2))
    boxes = np.c_[xy, np.minimum(xy + wh, 127)] * scale
    return Detections(boxes, np.sort(rng.uniform(0.3, 1, 20))[::-1], np.zeros((20, 5, 2)))


def test_score_labels_do_not_bury_a_small_image():
    """Measured on this crowd: labels covered 30% of the 128 px image (2.6% of the same scene at 1000 px); with the
    font shrinking below 500 px and no label wider than its box, 14.5%. Bound 20%: between the two."""
    covered = {}
    for side in (128, 1000):
        image = np.zeros((side, side, 3), np.uint8)
        dets = _crowd(side / 128)
        labelled = draw_detections(image, dets, None, show_scores=True)
        plain = draw_detections(image, dets, None, show_scores=False)
        covered[side] = (labelled != plain).any(axis=2).mean()
    assert covered[128] < 0.20 and covered[1000] < 0.05
    # a box narrower than its label gets none
    one = Detections([[10, 40, 18, 60]], [0.9], np.zeros((1, 5, 2)))
    image = np.zeros((128, 128, 3), np.uint8)
    assert (draw_detections(image, one, None, show_scores=True) == draw_detections(image, one, None,
                                                                                   show_scores=False)).all()
