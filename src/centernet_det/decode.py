"""Decoding the CenterNet object-detection heads of one image into boxes, scores and classes, in numpy.

Follows the original xingyizhou/CenterNet test path (``detectors/ctdet.py``, ``models/decode.py ctdet_decode``,
``utils/post_process.py ctdet_post_process``); facts carried over, code our own.

Heads (output stride 4): ``hm (C,H,W)`` class-centre logits (sigmoid at decode), ``wh (2,H,W) = (w, h)`` in output
cells, or ``(2C,H,W)`` with ``cat_spec_wh`` (channels ``2c, 2c+1`` = (w, h) for class c), ``reg (2,H,W) = (dx, dy)``
sub-cell centre offset.

Pipeline (the maps come from src/inference/head_maps.py: the sigmoid on hm, and for the flip test hm and wh
averaged with the mirrored pass flipped back, reg from the unflipped image):

1. :func:`ctdet_decode`: 3x3 peaks of hm, top K over ALL classes (the original's per-class top K then top K of
   those, which selects the same values); box = (col + reg_x, row + reg_y) -+ wh / 2 in output cells.
2. :func:`det_detections`: output cells -> original pixels through the InputMeta of
   src/inference/centernet_input.py (both corners through the inverse affine, as ``transform_preds``), as
   :class:`~src.inference.detections.Detections` with ``labels``.
3. Several test scales: per-class Soft-NMS and the best 100 (src/centernet_det/task.py ``merge``, the original's
   ``merge_outputs``).
"""
from __future__ import annotations

from typing import Mapping, NamedTuple

import numpy as np

from src.inference.detections import Detections
from src.inference.peaks import top_k_peaks
from src.inference.preprocess import InputMeta, invert_points

__all__ = ["HEAD_NAMES", "CtdetDecoding", "ctdet_decode", "det_detections"]

HEAD_NAMES = ("hm", "wh", "reg")  # the network's output order


class CtdetDecoding(NamedTuple):
    """ctdet_decode output in output-grid coordinates (float64), best score first, N = min(K, C*H*W):
    boxes (N, 4) [x1, y1, x2, y2]; scores (N,); classes (N,) int64."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray


def _map(value, name, channels=None) -> np.ndarray:
    value = np.asarray(value)
    if value.ndim == 4 and value.shape[0] == 1:
        value = value[0]
    if value.ndim != 3 or (channels is not None and value.shape[0] != channels):
        want = "C" if channels is None else channels
        raise ValueError(f"ctdet_decode: {name} must have shape ({want}, H, W) or (1, {want}, H, W), got {value.shape}")
    return value.astype(np.float64)


def ctdet_decode(hm, wh, reg=None, K: int = 100, cat_spec_wh: bool = False) -> CtdetDecoding:
    """Objects of ONE image from its maps (hm after the sigmoid), as the original's ``ctdet_decode``.

    * Centres: 3x3 max-pool peaks of every class channel of hm (a cell is a peak if it equals its
      neighbourhood maximum, so every cell of a plateau is one), the K best over all classes; when fewer than
      K cells are positive peaks the rest are 0-score cells, as the original's topk on the suppressed map.
    * Box: ``(col + reg_x, row + reg_y) -+ wh / 2``; without a reg head ``col + 0.5, row + 0.5`` (the original).
      With cat_spec_wh the size is read from the detected class's channel pair.
    """
    if int(K) < 1:
        raise ValueError(f"ctdet_decode: K must be a positive integer, got {K}")
    hm = _map(hm, "hm")
    num_classes = hm.shape[0]
    wh = _map(wh, "wh", 2 * num_classes if cat_spec_wh else 2)
    maps = {"wh": wh}
    if reg is not None:
        maps["reg"] = _map(reg, "reg", 2)
    for name, value in maps.items():
        if value.shape[1:] != hm.shape[1:]:
            raise ValueError(f"ctdet_decode: {name} is {value.shape[1:]} spatially, hm is {hm.shape[1:]}")
    width = hm.shape[2]
    classes, index, scores = top_k_peaks(hm, int(K))
    rows, cols = np.divmod(index, width)
    if reg is not None:
        cx, cy = cols + maps["reg"][0, rows, cols], rows + maps["reg"][1, rows, cols]
    else:
        cx, cy = cols + 0.5, rows + 0.5
    size_channel = 2 * classes if cat_spec_wh else np.zeros_like(classes)
    half_w, half_h = wh[size_channel, rows, cols] / 2, wh[size_channel + 1, rows, cols] / 2
    boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
    return CtdetDecoding(boxes, scores.astype(np.float64), classes.astype(np.int64))


def det_detections(maps: Mapping[str, np.ndarray], meta: InputMeta, K: int = 100, score_thresh: float = 0.0,
                   down_ratio: int = 4, cat_spec_wh: bool = False) -> Detections:
    """Objects of one image in ORIGINAL-image pixels, best score first, with their classes (``labels``).

    maps: {"hm", "wh"[, "reg"]} (C, H, W) after the sigmoid on hm (src/inference/head_maps.py). meta: from
    :func:`src.inference.centernet_input.centernet_input` (its input size must be the maps' size times down_ratio).
    Box corners are multiplied by down_ratio and mapped through the inverse of meta.affine, as the original's
    ``ctdet_post_process`` (no clipping to the image). Detections with score >= score_thresh are kept (0 keeps
    all K, which the original writes to its COCO results).
    """
    if int(down_ratio) < 1:
        raise ValueError(f"det_detections: down_ratio must be a positive integer, got {down_ratio}")
    unknown = sorted(set(maps) - set(HEAD_NAMES))
    if unknown or "hm" not in maps or "wh" not in maps:
        raise ValueError(f"det_detections: maps {sorted(maps)}: expected hm, wh and optionally reg")
    hm = _map(maps["hm"], "hm")
    map_hw = tuple(int(v) * int(down_ratio) for v in hm.shape[1:])
    if map_hw != tuple(meta.input_hw):
        raise ValueError(f"det_detections: maps of {hm.shape[1:]} x down_ratio {down_ratio} = {map_hw} do not match "
                         f"the input size {tuple(meta.input_hw)} of meta")
    decoded = ctdet_decode(maps["hm"], maps["wh"], maps.get("reg"), K=K, cat_spec_wh=cat_spec_wh)
    corners = invert_points(decoded.boxes.reshape(-1, 2, 2) * down_ratio, meta)
    # A negative predicted size (an untrained or diverged network) would give x2 < x1; the original writes such
    # boxes as they are. Ordering the corners changes nothing for w, h >= 0 and keeps every box valid.
    corners = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
    dets = Detections(corners, decoded.scores, np.zeros((len(corners), 0, 2)), labels=decoded.classes)
    return dets.select(dets.scores >= score_thresh).sorted()
