"""Box IoU with the official WIDER FACE convention, and per-prediction best GT match within an image.

The official MATLAB tool (eval_tools/boxoverlap.m) turns [x, y, w, h] into corners with x2 = x + w and
then counts widths as x2 - x1 + 1, so a w x h box covers (w + 1) x (h + 1) pixels; a pair whose +1
intersection width or height is <= 0 has IoU 0. We keep that convention so APs match the published ones.

`box_overlaps.pyx` is the compiled twin; the public functions here use it when it is built and fall
back to the numpy versions below otherwise. Both give identical doubles (same arithmetic order).
"""
import numpy as np

try:
    from dependency.evaluate.box_overlaps import box_overlaps as _box_overlaps_cy
    from dependency.evaluate.box_overlaps import max_overlaps_by_image as _max_overlaps_by_image_cy
except ImportError:  # extension not built: `python setup.py build_ext --inplace`
    _box_overlaps_cy = None
    _max_overlaps_by_image_cy = None

CYTHON_AVAILABLE = _box_overlaps_cy is not None


def xywh_to_corners(boxes_xywh):
    """[x, y, w, h] -> [x1, y1, x2, y2] with x2 = x + w (the official tool's corners), float64."""
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


def box_overlaps_np(boxes, query):
    """(N, K) IoU matrix between corner boxes (N, 4) and (K, 4), +1 pixel convention (numpy twin)."""
    a = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)[:, None, :]
    b = np.asarray(query, dtype=np.float64).reshape(-1, 4)[None, :, :]
    iw = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1.0
    ih = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1.0
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0] + 1.0) * (a[..., 3] - a[..., 1] + 1.0)
    area_b = (b[..., 2] - b[..., 0] + 1.0) * (b[..., 3] - b[..., 1] + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (area_a + area_b - inter)
    iou[(iw <= 0.0) | (ih <= 0.0)] = 0.0
    return iou


def max_overlaps_by_image_np(pred_boxes, pred_start, gt_boxes, gt_start):
    """Numpy twin of the compiled `max_overlaps_by_image` (see `max_overlaps_by_image`)."""
    pred_boxes = np.asarray(pred_boxes, dtype=np.float64)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64)
    max_iou = np.full(len(pred_boxes), -np.inf)
    gt_index = np.full(len(pred_boxes), -1, dtype=np.int64)
    for img in range(len(pred_start) - 1):
        p0, p1 = pred_start[img], pred_start[img + 1]
        g0, g1 = gt_start[img], gt_start[img + 1]
        if p0 == p1 or g0 == g1:
            continue
        iou = box_overlaps_np(pred_boxes[p0:p1], gt_boxes[g0:g1])
        iou[np.isnan(iou)] = -np.inf  # MATLAB `max` ignores NaN
        best = np.argmax(iou, axis=1)  # first maximum on ties, like MATLAB `max`
        best_iou = iou[np.arange(p1 - p0), best]
        max_iou[p0:p1] = best_iou
        gt_index[p0:p1] = np.where(best_iou > -np.inf, best + g0, -1)
    return max_iou, gt_index


def box_overlaps(boxes, query, use_cython=True):
    """(N, K) IoU matrix between corner boxes [x1, y1, x2, y2] (N, 4) and (K, 4), +1 convention."""
    if use_cython and CYTHON_AVAILABLE:
        return _box_overlaps_cy(_as_c_double(boxes), _as_c_double(query))
    return box_overlaps_np(boxes, query)


def max_overlaps_by_image(pred_boxes, pred_start, gt_boxes, gt_start, use_cython=True):
    """Best GT IoU and global GT index for every prediction, comparing only boxes of the same image.

    pred_boxes (N, 4) and gt_boxes (M, 4) are corners; image i owns pred_boxes[pred_start[i]:
    pred_start[i+1]] and gt_boxes[gt_start[i]:gt_start[i+1]] (offset arrays of length n_images + 1).
    Ties keep the first GT box and NaN IoUs are skipped, as MATLAB `max` does. Returns (max_iou (N,)
    float64, gt_index (N,) int64); a prediction whose image has no GT box gets (-inf, -1).
    """
    pred_start = np.ascontiguousarray(pred_start, dtype=np.int64)
    gt_start = np.ascontiguousarray(gt_start, dtype=np.int64)
    if len(pred_start) != len(gt_start):
        raise ValueError(f"pred_start has {len(pred_start)} entries but gt_start has {len(gt_start)}; "
                         "expected one offset per image plus one for both")
    if use_cython and CYTHON_AVAILABLE:
        return _max_overlaps_by_image_cy(_as_c_double(pred_boxes), pred_start, _as_c_double(gt_boxes), gt_start)
    return max_overlaps_by_image_np(pred_boxes, pred_start, gt_boxes, gt_start)


def _as_c_double(boxes):
    return np.ascontiguousarray(np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
