"""Heatmap peaks, as every "objects as points" decoder finds them (CenterNet, Zhou et al. 2019).

A cell is a peak if it equals the maximum of its 3x3 neighbourhood (a 3x3 max-pool with stride 1), so every
cell of a flat plateau is a peak; the best peaks above a threshold are the detections' centres (and, for
CenterNet pose, the joint candidates of each joint heatmap). `top_k_peaks` is CenterNet's fixed-size top K over
all classes of a multi-channel heatmap (the original's ``_nms`` + ``_topk``).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

__all__ = ["max_pool_3x3", "top_peaks", "top_k_peaks"]


def max_pool_3x3(values: np.ndarray) -> np.ndarray:
    """3x3 max filter with stride 1 over the last two axes of a (..., h, w) map, borders padded with -inf
    (= max-pool, pad 1, channel by channel).

    Separable: a 1x3 max over rows then a 3x1 max over columns (4 comparisons per cell instead of 8).
    """
    pad = [(0, 0)] * (values.ndim - 2) + [(1, 1), (1, 1)]
    padded = np.pad(values, pad, mode="constant", constant_values=-np.inf)
    rows = np.maximum(np.maximum(padded[..., :-2], padded[..., 1:-1]), padded[..., 2:])
    return np.maximum(np.maximum(rows[..., :-2, :], rows[..., 1:-1, :]), rows[..., 2:, :])


def top_peaks(heat: np.ndarray, score_thresh: float, top_k: Optional[int]) -> Tuple[np.ndarray, np.ndarray]:
    """Flat indices and scores of the 3x3 peaks of a (h, w) map (or of each channel of a (C, h, w) map, flat index
    ``c * h * w + row * w + col``) with score > score_thresh, best first.

    At most `top_k` (None = all); equal scores are ordered by increasing flat index. Taking the threshold
    before the top-K gives the same set as top-K then threshold, with less sorting. (Testing only the
    cells above the threshold for being peaks was measured slower than pooling the whole map: 0.32 vs
    0.19 ms on a real 256x256 heatmap.)
    """
    flat = heat.reshape(-1)
    is_peak = (heat == max_pool_3x3(heat)).reshape(-1)
    candidates = np.flatnonzero(is_peak & (flat > score_thresh))
    order = np.argsort(-flat[candidates], kind="stable")
    if top_k is not None:
        order = order[:top_k]
    chosen = candidates[order]
    return chosen, flat[chosen]


def top_k_peaks(heat: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The original's ``_nms`` + ``_topk`` on a (C, h, w) map: non-peaks set to 0, the k largest values over all
    channels (its per-channel top K then top K of those selects the same values).

    Returns (channels, flat indices ``row * w + col`` within the channel, scores), best first, ties by increasing
    (channel, index) (torch leaves the tie order unspecified); k is capped at C * h * w. When fewer than k cells
    are positive peaks, the rest are filled with 0-score cells, as the original does: it always returns K
    entries. Fast path: positive peaks only (top_peaks with threshold 0).
    """
    if heat.ndim != 3:
        raise ValueError(f"top_k_peaks: heat must have shape (C, h, w), got {heat.shape}")
    cells = heat.shape[1] * heat.shape[2]
    k = min(int(k), heat.size)
    index, scores = top_peaks(heat, 0.0, k)
    if len(index) < k:
        suppressed = np.where(heat == max_pool_3x3(heat), heat, 0).reshape(-1)
        index = np.argsort(-suppressed, kind="stable")[:k]
        scores = suppressed[index]
    channels, index = np.divmod(index, cells)
    return channels, index, scores
