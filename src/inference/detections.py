"""Detections of one image (boxes, scores, keypoints, classes) and the operations every model shares on them:
selection, concatenation of test-time passes, hard/soft NMS (per class when there are classes), the original
CenterNet's best-K rule, horizontal flip back to the original image.

A model's decoder produces `Detections` in original-image pixels; its keypoint count comes from the model's
`KeypointSchema` (CenterFace 5 landmarks, CenterNet pose 17 joints, CenterNet detection none: (N, 0, 2)).
`keypoint_scores` is None for models that do not score their points (CenterFace) and (N, K) otherwise (CenterNet's
joint-heatmap peaks). `labels` is None for one-class models (faces, people) and (N,) contiguous class indices
otherwise (CenterNet detection's 80 COCO classes).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Sequence

import numpy as np

from .nms import nms as hard_nms
from .nms import soft_nms

__all__ = ["Detections", "NMS_METHODS", "apply_nms", "concatenate", "merge_detections", "keep_best",
           "flip_detections"]

NMS_METHODS = ("hard", "soft_linear", "soft_gaussian", "none")


@dataclass
class Detections:
    """boxes (N, 4) float32 [x1, y1, x2, y2]; scores (N,) float32; keypoints (N, K, 2) float32 (x, y);
    keypoint_scores (N, K) float32 or None; labels (N,) int64 class indices or None (one-class models)."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray
    keypoint_scores: Optional[np.ndarray] = None
    labels: Optional[np.ndarray] = None

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        keypoints = np.asarray(self.keypoints, dtype=np.float32)
        if keypoints.ndim != 3 or keypoints.shape[2] != 2:
            if keypoints.size == 0 and len(self.scores) == 0:
                keypoints = keypoints.reshape(0, 0, 2)
            else:
                raise ValueError(f"Detections: keypoints must have shape (N, K, 2), got {keypoints.shape}")
        self.keypoints = keypoints
        if self.keypoint_scores is not None:
            self.keypoint_scores = np.asarray(self.keypoint_scores, dtype=np.float32).reshape(
                len(keypoints), keypoints.shape[1])
        if not len(self.boxes) == len(self.scores) == len(self.keypoints):
            raise ValueError(f"Detections: boxes, scores and keypoints disagree in length: {len(self.boxes)}, "
                             f"{len(self.scores)}, {len(self.keypoints)}")
        if self.labels is not None:
            self.labels = np.asarray(self.labels).astype(np.int64, copy=False).reshape(-1)
            if len(self.labels) != len(self.scores):
                raise ValueError(f"Detections: {len(self.labels)} labels for {len(self.scores)} detections")

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def num_points(self) -> int:
        return int(self.keypoints.shape[1])

    @staticmethod
    def empty(num_points: int, scored: bool = False, labelled: bool = False) -> "Detections":
        return Detections(np.zeros((0, 4)), np.zeros((0,)), np.zeros((0, num_points, 2)),
                          np.zeros((0, num_points)) if scored else None, np.zeros(0, np.int64) if labelled else None)

    def select(self, index) -> "Detections":
        """The detections at `index` (integer array or boolean mask), in that order."""
        return Detections(self.boxes[index], self.scores[index], self.keypoints[index],
                          None if self.keypoint_scores is None else self.keypoint_scores[index],
                          None if self.labels is None else self.labels[index])

    def with_scores(self, scores) -> "Detections":
        """The same detections with new scores (Soft-NMS rescales them)."""
        return Detections(self.boxes, scores, self.keypoints, self.keypoint_scores, self.labels)

    def sorted(self) -> "Detections":
        """Best score first; equal scores keep their order."""
        return self.select(np.argsort(-self.scores, kind="stable"))


def apply_nms(dets: Detections, nms: str = "hard", nms_iou: float = 0.3, soft_sigma: float = 0.5,
              soft_min_score: float = 0.001) -> Detections:
    """`dets` after NMS, sorted by score descending.

    nms: "hard" (a box whose IoU with a kept one is > nms_iou is dropped), "soft_linear", "soft_gaussian"
    (Soft-NMS, Bodla et al. 2017; `soft_sigma`; boxes whose rescaled score falls below `soft_min_score` are
    dropped) or "none". With labels, each class is suppressed on its own (a box never suppresses another
    class's: the original CenterNet's per-class ``soft_nms`` in ``merge_outputs``).
    """
    if nms not in NMS_METHODS:
        raise ValueError(f"apply_nms: nms must be one of {NMS_METHODS}, got {nms!r}")
    if dets.labels is not None and nms != "none":
        classes = []
        for label in np.unique(dets.labels):
            members = replace(dets.select(np.flatnonzero(dets.labels == label)), labels=None)
            kept = apply_nms(members, nms, nms_iou, soft_sigma, soft_min_score)
            classes.append(replace(kept, labels=np.full(len(kept), label)))
        return concatenate(classes, dets.num_points, labelled=True).sorted()
    if nms == "hard":
        return dets.select(hard_nms(dets.boxes, dets.scores, nms_iou))
    if nms == "none":
        return dets.sorted()
    method = "linear" if nms == "soft_linear" else "gaussian"
    keep, new_scores = soft_nms(dets.boxes, dets.scores, method, nms_iou, soft_sigma, soft_min_score)
    return dets.select(keep).with_scores(new_scores).sorted()  # already non-increasing; made explicit


def concatenate(detections: Sequence[Detections], num_points: Optional[int] = None,
                labelled: bool = False) -> Detections:
    """All detections of several passes over one image, in the given order (`num_points` and `labelled` for an
    empty list)."""
    if len(detections) == 0:
        if num_points is None:
            raise ValueError("concatenate: an empty list needs num_points")
        return Detections.empty(num_points, labelled=labelled)
    scored = [d.keypoint_scores is not None for d in detections]
    if any(scored) and not all(scored):
        raise ValueError("concatenate: some passes have keypoint scores and others not")
    with_labels = [d.labels is not None for d in detections]
    if any(with_labels) and not all(with_labels):
        raise ValueError("concatenate: some passes have class labels and others not")
    return Detections(np.concatenate([d.boxes for d in detections]),
                      np.concatenate([d.scores for d in detections]),
                      np.concatenate([d.keypoints for d in detections]),
                      np.concatenate([d.keypoint_scores for d in detections]) if all(scored) else None,
                      np.concatenate([d.labels for d in detections]) if all(with_labels) else None)


def merge_detections(detections: Sequence[Detections], nms: str = "hard", nms_iou: float = 0.3,
                     soft_sigma: float = 0.5, soft_min_score: float = 0.001,
                     top_k: Optional[int] = None) -> Detections:
    """Multi-scale / flip test: concatenate the detections (in original pixels) of one image, then NMS.

    top_k: keep at most this many of the merged result (None = all).
    """
    merged = apply_nms(concatenate(detections), nms, nms_iou, soft_sigma, soft_min_score)
    return merged if top_k is None else merged.select(np.arange(min(top_k, len(merged))))


def keep_best(dets: Detections, k: int) -> Detections:
    """The original CenterNet's ``max_per_image`` rule: with more than `k` detections, keep those scoring at least
    the k-th best score (so detections tied with it are all kept), best first; otherwise all of them, sorted."""
    if int(k) < 1:
        raise ValueError(f"keep_best: k must be a positive integer, got {k}")
    dets = dets.sorted()
    if len(dets) <= k:
        return dets
    return dets.select(np.flatnonzero(dets.scores >= dets.scores[int(k) - 1]))


def flip_detections(dets: Detections, image_width: float, schema) -> Detections:
    """Detections of a horizontally flipped image mapped back to the unflipped image (x -> W - x).

    The schema's left/right pairs are swapped so that "left" keeps naming the same side of the object.
    """
    boxes = dets.boxes.copy()
    boxes[:, [0, 2]] = image_width - dets.boxes[:, [2, 0]]
    if dets.num_points == 0:  # boxes only (no schema needed)
        return Detections(boxes, dets.scores.copy(), dets.keypoints.copy(), None, dets.labels)
    order = list(schema.flip_order)
    scores = None if dets.keypoint_scores is None else dets.keypoint_scores[:, order]
    return Detections(boxes, dets.scores.copy(), schema.flip_points(dets.keypoints, image_width), scores,
                      dets.labels)
