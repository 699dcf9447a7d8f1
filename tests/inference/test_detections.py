"""Tests for src/inference/detections.py: flip back with the keypoint schema, merging passes, NMS order."""
import numpy as np
import pytest

from src.data.keypoints import COCO_PERSON, FACE_LANDMARKS
from src.inference.detections import (Detections, apply_nms, concatenate, flip_detections, keep_best,
                                      merge_detections)


def test_flip_detections_by_hand_and_involution():
    dets = Detections(np.float32([[10, 20, 40, 60]]), np.float32([0.7]),
                      np.float32([[[15, 30], [35, 31], [25, 40], [17, 50], [33, 51]]]))
    flipped = flip_detections(dets, 100, FACE_LANDMARKS)
    np.testing.assert_array_equal(flipped.boxes, [[60, 20, 90, 60]])
    np.testing.assert_array_equal(flipped.keypoints, [[[65, 31], [85, 30], [75, 40], [67, 51], [83, 50]]])
    twice = flip_detections(flipped, 100, FACE_LANDMARKS)
    np.testing.assert_array_equal(twice.boxes, dets.boxes)
    np.testing.assert_array_equal(twice.keypoints, dets.keypoints)


def test_merge_detections_concatenates_then_nms_sorted():
    lm = np.zeros((1, 5, 2))
    a = Detections([[0, 0, 10, 10]], [0.5], lm)
    b = Detections([[1, 0, 11, 10], [50, 50, 60, 60]], [0.8, 0.6], np.zeros((2, 5, 2)))
    merged = merge_detections([a, b], nms="hard", nms_iou=0.3)
    np.testing.assert_array_equal(merged.scores, np.float32([0.8, 0.6]))
    np.testing.assert_array_equal(merged.boxes, [[1, 0, 11, 10], [50, 50, 60, 60]])
    assert len(merge_detections([a, b], nms="none")) == 3
    assert len(merge_detections([a, b], nms="none", top_k=2)) == 2
    with pytest.raises(ValueError, match="num_points"):
        merge_detections([])
    assert len(concatenate([], num_points=5)) == 0
    assert np.all(np.diff(apply_nms(merge_detections([a, b], nms="none")).scores) <= 0)


def test_flip_with_keypoint_scores_swaps_scores_with_their_points():
    points = np.arange(34, dtype=np.float32).reshape(1, 17, 2)
    scores = np.linspace(0, 1, 17, dtype=np.float32).reshape(1, 17)
    dets = Detections([[1, 2, 30, 40]], [0.9], points, scores)
    flipped = flip_detections(dets, 50, COCO_PERSON)
    # left_eye (1) and right_eye (2) trade places: the flipped left eye is the mirrored right eye
    assert flipped.keypoints[0, 1, 0] == 50 - points[0, 2, 0] and flipped.keypoints[0, 1, 1] == points[0, 2, 1]
    assert flipped.keypoint_scores[0, 1] == scores[0, 2] and flipped.keypoint_scores[0, 0] == scores[0, 0]
    np.testing.assert_array_equal(flip_detections(flipped, 50, COCO_PERSON).keypoint_scores, scores)


def test_soft_nms_rescales_scores_and_keeps_keypoints_with_their_boxes():
    points = np.float32([[[1, 1]], [[2, 2]], [[3, 3]]])
    dets = Detections([[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]], [0.5, 0.9, 0.7], points,
                      np.float32([[0.1], [0.2], [0.3]]))
    kept = apply_nms(dets, "soft_linear", nms_iou=0.3)
    # identical boxes: IoU 1 -> the weaker one falls to 0 and is dropped (below 0.001)
    np.testing.assert_allclose(kept.scores, [0.9, 0.7])
    np.testing.assert_array_equal(kept.keypoints[:, 0, 0], [2, 3])
    np.testing.assert_array_equal(kept.keypoint_scores[:, 0], np.float32([0.2, 0.3]))


def test_mixed_scored_and_unscored_passes_are_an_error():
    a = Detections([[0, 0, 1, 1]], [0.5], np.zeros((1, 2, 2)), np.zeros((1, 2)))
    b = Detections([[0, 0, 1, 1]], [0.5], np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="keypoint scores"):
        concatenate([a, b])


def _labelled(boxes, scores, labels):
    return Detections(boxes, scores, np.zeros((len(scores), 0, 2)), labels=labels)


def test_nms_suppresses_within_a_class_only():
    """Two identical boxes of different classes both stay; of the same class the weaker one goes (hard) or is
    decayed by exp(-iou^2 / sigma) (Gaussian Soft-NMS)."""
    box = [10, 10, 50, 50]
    dets = _labelled([box, box, box, [100, 100, 120, 130]], [0.9, 0.8, 0.7, 0.6], [3, 5, 3, 3])
    hard = apply_nms(dets, "hard", nms_iou=0.5)
    assert hard.labels.tolist() == [3, 5, 3] and np.allclose(hard.scores, [0.9, 0.8, 0.6])
    soft = apply_nms(dets, "soft_gaussian", soft_sigma=0.5)
    np.testing.assert_allclose(soft.scores, [0.9, 0.8, 0.6, 0.7 * np.exp(-1 / 0.5)], rtol=1e-6)
    assert soft.labels.tolist() == [3, 5, 3, 3]
    none = apply_nms(dets, "none")
    assert len(none) == 4 and none.labels.tolist() == [3, 5, 3, 3]


def test_keep_best_keeps_the_ties_with_the_kth_score():
    dets = _labelled(np.tile([0, 0, 1, 1], (6, 1)), [0.2, 0.9, 0.5, 0.5, 0.5, 0.1], [0, 1, 2, 3, 4, 5])
    assert keep_best(dets, 3).labels.tolist() == [1, 2, 3, 4]  # the 3rd score 0.5 is shared by three
    assert keep_best(dets, 2).labels.tolist() == [1, 2, 3, 4]
    assert keep_best(dets, 1).labels.tolist() == [1]
    assert keep_best(dets, 10).labels.tolist() == [1, 2, 3, 4, 0, 5]
    with pytest.raises(ValueError, match="positive"):
        keep_best(dets, 0)


def test_labels_follow_select_concatenate_and_flip():
    a = _labelled([[0, 0, 1, 1]], [0.5], [7])
    b = _labelled([[2, 2, 4, 4], [1, 1, 3, 3]], [0.9, 0.1], [1, 2])
    merged = concatenate([a, b])
    assert merged.labels.tolist() == [7, 1, 2] and merged.sorted().labels.tolist() == [1, 7, 2]
    flipped = flip_detections(merged, 10, None)
    np.testing.assert_array_equal(flipped.boxes[1], [6, 2, 8, 4])
    assert flipped.labels.tolist() == [7, 1, 2]
    with pytest.raises(ValueError, match="class labels"):
        concatenate([a, Detections([[0, 0, 1, 1]], [0.5], np.zeros((1, 0, 2)))])
    assert len(concatenate([], num_points=0, labelled=True).labels) == 0
    with pytest.raises(ValueError, match="labels for"):
        _labelled([[0, 0, 1, 1]], [0.5], [1, 2])
