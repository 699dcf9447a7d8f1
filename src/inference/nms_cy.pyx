# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled twins of the numpy NMS in ``nms.py`` (same rules, same arithmetic order, same keep order).

Called through ``src.inference.nms.nms`` / ``soft_nms``, which validate and convert the inputs
(C-contiguous float64 boxes (N, 4) and scores (N,), intp order).
"""
import numpy as np

from libc.math cimport exp


cdef inline double _iou(const double[:, ::1] boxes, const double[::1] areas, Py_ssize_t i,
                        Py_ssize_t j) noexcept nogil:
    # Same operations, in the same order, as nms.iou_one_to_many, so both give bit-identical IoUs.
    cdef double inter_w = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
    cdef double inter_h = min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1])
    cdef double inter, union
    if inter_w < 0.0:
        inter_w = 0.0
    if inter_h < 0.0:
        inter_h = 0.0
    inter = inter_w * inter_h
    union = areas[i] + areas[j] - inter
    if union > 0.0:
        return inter / union
    return 0.0


cdef double[::1] _areas(const double[:, ::1] boxes):
    cdef Py_ssize_t n = boxes.shape[0], i
    cdef double[::1] areas = np.empty(n, dtype=np.float64)
    for i in range(n):
        areas[i] = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
    return areas


def hard_nms(const double[:, ::1] boxes, const Py_ssize_t[::1] order, double iou_thresh):
    """Greedy NMS visiting boxes in `order`; returns kept indices (intp) in visiting order."""
    cdef Py_ssize_t n = order.shape[0], a, b, i, k = 0
    cdef double[::1] areas = _areas(boxes)
    cdef unsigned char[::1] suppressed = np.zeros(n, dtype=np.uint8)
    keep_arr = np.empty(n, dtype=np.intp)
    cdef Py_ssize_t[::1] keep = keep_arr
    with nogil:
        for a in range(n):
            if suppressed[a]:
                continue
            i = order[a]
            keep[k] = i
            k += 1
            for b in range(a + 1, n):
                if suppressed[b]:
                    continue
                if not (_iou(boxes, areas, i, order[b]) <= iou_thresh):
                    suppressed[b] = 1
    return keep_arr[:k]


def soft_nms(const double[:, ::1] boxes, double[::1] scores, int method, double iou_thresh, double sigma,
             double min_score):
    """Soft-NMS (method 1 linear, 2 gaussian), rescaling `scores` in place.

    Returns (kept indices intp, their rescaled scores float64) in keep order.
    """
    cdef Py_ssize_t n = boxes.shape[0], m = 0, a, pos, best, j, k = 0, alive_next
    cdef double best_score, iou, weight
    cdef double[::1] areas = _areas(boxes)
    cdef Py_ssize_t[::1] alive = np.empty(n, dtype=np.intp)
    keep_arr = np.empty(n, dtype=np.intp)
    kept_scores_arr = np.empty(n, dtype=np.float64)
    cdef Py_ssize_t[::1] keep = keep_arr
    cdef double[::1] kept_scores = kept_scores_arr
    with nogil:
        for a in range(n):
            if scores[a] >= min_score:
                alive[m] = a
                m += 1
        while m > 0:
            # Highest current score; strict '>' keeps the lowest index among ties, like np.argmax.
            pos = 0
            best_score = scores[alive[0]]
            for a in range(1, m):
                if scores[alive[a]] > best_score:
                    best_score = scores[alive[a]]
                    pos = a
            best = alive[pos]
            keep[k] = best
            kept_scores[k] = best_score
            k += 1
            # Rescale the others and compact the survivors, keeping increasing index order.
            alive_next = 0
            for a in range(m):
                if a == pos:
                    continue
                j = alive[a]
                iou = _iou(boxes, areas, best, j)
                if method == 1:
                    weight = 1.0 - iou if iou > iou_thresh else 1.0
                else:
                    weight = exp(-(iou * iou) / sigma)
                scores[j] = scores[j] * weight
                if scores[j] >= min_score:
                    alive[alive_next] = j
                    alive_next += 1
            m = alive_next
    return keep_arr[:k], kept_scores_arr[:k]
