# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled twin of `dependency.evaluate.overlaps` (same results, bit for bit).

IoU of the official WIDER FACE MATLAB tool (boxoverlap.m): boxes are corners [x1, y1, x2, y2] with
x2 = x + w, and widths/heights get +1 pixel (w = x2 - x1 + 1); a pair whose +1 intersection width or
height is <= 0 has IoU 0. The arithmetic is written in the same order as the numpy twin so that the
two give identical doubles (no -ffast-math, no FMA on the default x86-64 target).
"""
import numpy as np

cimport numpy as cnp
from libc.math cimport INFINITY

cnp.import_array()


cdef inline double _iou(double ax1, double ay1, double ax2, double ay2,
                        double bx1, double by1, double bx2, double by2) noexcept nogil:
    cdef double iw = (ax2 if ax2 < bx2 else bx2) - (ax1 if ax1 > bx1 else bx1) + 1.0
    cdef double ih = (ay2 if ay2 < by2 else by2) - (ay1 if ay1 > by1 else by1) + 1.0
    if iw <= 0.0 or ih <= 0.0:
        return 0.0
    cdef double inter = iw * ih
    cdef double area_a = (ax2 - ax1 + 1.0) * (ay2 - ay1 + 1.0)
    cdef double area_b = (bx2 - bx1 + 1.0) * (by2 - by1 + 1.0)
    return inter / (area_a + area_b - inter)


def box_overlaps(const double[:, ::1] boxes, const double[:, ::1] query):
    """(N, K) IoU matrix between corner boxes `boxes` (N, 4) and `query` (K, 4), +1 convention."""
    cdef Py_ssize_t n = boxes.shape[0], k = query.shape[0], i, j
    out_arr = np.zeros((n, k), dtype=np.float64)
    cdef double[:, ::1] out = out_arr
    with nogil:
        for i in range(n):
            for j in range(k):
                out[i, j] = _iou(boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3],
                                 query[j, 0], query[j, 1], query[j, 2], query[j, 3])
    return out_arr


def max_overlaps_by_image(const double[:, ::1] pred_boxes, const cnp.int64_t[::1] pred_start,
                          const double[:, ::1] gt_boxes, const cnp.int64_t[::1] gt_start):
    """For every prediction, the best IoU with a GT box of its own image and that box's global index.

    Image i owns predictions pred_start[i]:pred_start[i+1] and GT boxes gt_start[i]:gt_start[i+1].
    Ties keep the first GT (MATLAB `max`); NaN IoUs are skipped (MATLAB `max` ignores NaN). A
    prediction with no comparable GT box gets IoU -inf and index -1.
    """
    cdef Py_ssize_t n_images = pred_start.shape[0] - 1, img, p, g, best_g
    cdef double best, iou
    n_pred = pred_boxes.shape[0]
    max_iou_arr = np.full(n_pred, -np.inf, dtype=np.float64)
    gt_index_arr = np.full(n_pred, -1, dtype=np.int64)
    cdef double[::1] max_iou = max_iou_arr
    cdef cnp.int64_t[::1] gt_index = gt_index_arr
    with nogil:
        for img in range(n_images):
            for p in range(pred_start[img], pred_start[img + 1]):
                best = -INFINITY
                best_g = -1
                for g in range(gt_start[img], gt_start[img + 1]):
                    iou = _iou(gt_boxes[g, 0], gt_boxes[g, 1], gt_boxes[g, 2], gt_boxes[g, 3],
                               pred_boxes[p, 0], pred_boxes[p, 1], pred_boxes[p, 2], pred_boxes[p, 3])
                    if iou > best:
                        best = iou
                        best_g = g
                max_iou[p] = best
                gt_index[p] = best_g
    return max_iou_arr, gt_index_arr
