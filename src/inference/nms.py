"""Non-maximum suppression for [x1, y1, x2, y2] boxes: greedy hard NMS and Soft-NMS.

Public functions use the compiled twins from ``nms_cy.pyx`` when the extension is built
(``python setup.py build_ext --inplace``) and the numpy implementations below otherwise; both follow the
same rules, so they return the same keep order (tests/inference/test_nms.py checks it):

* IoU uses continuous coordinates: area = (x2 - x1) * (y2 - y1), no +1; IoU is 0 when the union is 0.
* Candidates are visited by score descending; equal scores are visited in increasing index order.
* Hard NMS drops a box whose IoU with an already kept box is > ``iou_thresh``.
* Soft-NMS (Bodla et al., "Soft-NMS", ICCV 2017, Algorithm 1) repeatedly keeps the highest-scoring
  remaining box M and rescales every other remaining box b_i: linear ``s_i *= 1 - iou(M, b_i)`` if
  ``iou > iou_thresh``; gaussian ``s_i *= exp(-iou(M, b_i)^2 / sigma)``. A box is kept iff its final
  score is >= ``min_score``. The keep list (not just the rescaled scores) is returned.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

try:
    from .nms_cy import hard_nms as _hard_nms_cy, soft_nms as _soft_nms_cy
except ImportError:  # extension not built: numpy fallback
    _hard_nms_cy = None
    _soft_nms_cy = None

SOFT_METHODS = {"linear": 1, "gaussian": 2}


def _as_inputs(boxes, scores, caller: str) -> Tuple[np.ndarray, np.ndarray]:
    boxes = np.ascontiguousarray(boxes, dtype=np.float64)
    scores = np.ascontiguousarray(scores, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{caller}: boxes must have shape (N, 4), got {boxes.shape}")
    if scores.shape != (boxes.shape[0],):
        raise ValueError(f"{caller}: scores must have shape ({boxes.shape[0]},), got {scores.shape}")
    if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
        raise ValueError(f"{caller}: boxes and scores must be finite (got NaN or inf)")
    return boxes, scores


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray, area: float, areas: np.ndarray) -> np.ndarray:
    """IoU of one box with each of `boxes` (continuous convention; 0 where the union is 0)."""
    inter_w = np.maximum(0.0, np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]))
    inter_h = np.maximum(0.0, np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]))
    inter = inter_w * inter_h
    union = area + areas - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _box_areas(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def nms_numpy(boxes: np.ndarray, scores: np.ndarray, iou_thresh: float) -> np.ndarray:
    """Greedy hard NMS in numpy; returns kept indices (int64) in score-descending order."""
    boxes, scores = _as_inputs(boxes, scores, "nms")
    areas = _box_areas(boxes)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        ious = iou_one_to_many(boxes[best], boxes[rest], areas[best], areas[rest])
        order = rest[ious <= iou_thresh]  # the Cython twin uses the same comparison
    return np.asarray(keep, dtype=np.int64)


def soft_nms_numpy(boxes: np.ndarray, scores: np.ndarray, method: str = "linear", iou_thresh: float = 0.3,
                   sigma: float = 0.5, min_score: float = 0.001) -> Tuple[np.ndarray, np.ndarray]:
    """Soft-NMS in numpy; returns (kept indices int64, their rescaled scores float64), in keep order."""
    boxes, scores = _as_inputs(boxes, scores, "soft_nms")
    method_id = _method_id(method, sigma)
    areas = _box_areas(boxes)
    current = scores.copy()
    alive = np.flatnonzero(current >= min_score)  # increasing index order: argmax picks the lowest index
    keep, kept_scores = [], []
    while alive.size:
        pos = int(np.argmax(current[alive]))
        best = alive[pos]
        keep.append(best)
        kept_scores.append(current[best])
        rest = np.delete(alive, pos)
        ious = iou_one_to_many(boxes[best], boxes[rest], areas[best], areas[rest])
        if method_id == 1:
            weights = np.where(ious > iou_thresh, 1.0 - ious, 1.0)
        else:
            weights = np.exp(-(ious * ious) / sigma)
        current[rest] = current[rest] * weights
        alive = rest[current[rest] >= min_score]
    return np.asarray(keep, dtype=np.int64), np.asarray(kept_scores, dtype=np.float64)


def _method_id(method: str, sigma: float) -> int:
    if method not in SOFT_METHODS:
        raise ValueError(f"soft_nms: method must be one of {sorted(SOFT_METHODS)}, got {method!r}")
    if method == "gaussian" and not sigma > 0:
        raise ValueError(f"soft_nms: sigma must be > 0 for the gaussian method, got {sigma}")
    return SOFT_METHODS[method]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thresh: float) -> np.ndarray:
    """Greedy hard NMS; kept indices (int64) in score-descending order. Cython when built, else numpy."""
    if _hard_nms_cy is None:
        return nms_numpy(boxes, scores, iou_thresh)
    boxes, scores = _as_inputs(boxes, scores, "nms")
    order = np.argsort(-scores, kind="stable").astype(np.intp)
    return np.asarray(_hard_nms_cy(boxes, order, float(iou_thresh)), dtype=np.int64)


def soft_nms(boxes: np.ndarray, scores: np.ndarray, method: str = "linear", iou_thresh: float = 0.3,
             sigma: float = 0.5, min_score: float = 0.001) -> Tuple[np.ndarray, np.ndarray]:
    """Soft-NMS; (kept indices int64, their rescaled scores float64) in keep order (scores non-increasing).

    method: "linear" (uses iou_thresh) or "gaussian" (uses sigma). Cython when built, else numpy.
    """
    if _soft_nms_cy is None:
        return soft_nms_numpy(boxes, scores, method, iou_thresh, sigma, min_score)
    boxes, scores = _as_inputs(boxes, scores, "soft_nms")
    keep, kept_scores = _soft_nms_cy(boxes, scores.copy(), _method_id(method, sigma), float(iou_thresh),
                                     float(sigma), float(min_score))
    return np.asarray(keep, dtype=np.int64), np.asarray(kept_scores, dtype=np.float64)
