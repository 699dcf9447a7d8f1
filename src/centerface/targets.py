"""CenterFace training targets on the stride-4 output grid, in the project's (official) head layout.

For an input of H x W pixels the grid is h = H/4, w = W/4. A face with box [x1, y1, x2, y2] (input
pixels, exclusive right/bottom) has centre (cx, cy); on the grid it sits at (cx/4 - 0.5, cy/4 - 0.5)
(the decode adds 0.5 back: ``cx = (col + off_x + 0.5) * 4``). Its cell is the floor of that, clipped
into the map, and the offset is the remainder, so decoding the targets gives back the box exactly.

Per image (``max_objs`` regression slots, filled largest box first):
  heatmap (1,h,w)     Gaussian peak 1.0 at each face's cell, max-merged (all faces, even beyond
                      max_objs, so a dropped face is never taught as background)
  ind (max_objs,)     row * w + col of the cell; mask (max_objs,) 1 for used slots
  scale (max_objs,2)  [log(box_h/4), log(box_w/4)]
  offset (max_objs,2) [off_y, off_x]
  landmarks (max_objs,10)      channel 2j = (ly_j - y1)/box_h, 2j+1 = (lx_j - x1)/box_w
  landmark_mask (max_objs,10)  1 where landmark j is valid and the box area > ``landmark_min_area``
                               (input pixels^2; the old zoo tested its pre-affine annotation box,
                               bbox w*h <= 8 -> masked, i.e. roughly input pixels)
  size_weight (max_objs,)      weight by box area in OUTPUT-GRID cells^2 (the old zoo computed it on
                               the box mapped to the 128x128 output): <=4: 0.1, <=10: 15, <=20: 10,
                               <=40: 5, else 1. So faces of about 8..25 input px are boosted and
                               faces under ~8 px (area <= 4 cells) nearly ignored.

Gaussian radius and peaks: src/data/gaussian.py (``legacy_radius`` picks CenterNet's published radius).
"""
import math

import numpy as np

from src.data.gaussian import draw_gaussian, gaussian_radius, legacy_gaussian_radius

SIZE_WEIGHT_STEPS = ((4.0, 0.1), (10.0, 15.0), (20.0, 10.0), (40.0, 5.0))


def size_weight(area_cells):
    """Old-zoo weight for a box of ``area_cells`` output-grid cells^2 (see module docstring)."""
    for limit, weight in SIZE_WEIGHT_STEPS:
        if area_cells <= limit:
            return weight
    return 1.0


class CenterFaceTargets:
    """Map augmented (boxes, landmarks, landmark_valid) to fixed-shape CenterFace target arrays.

    Args:
        input_size: (height, width) of the network input (multiples of ``stride``), or one int.
        stride: output stride (4 for CenterFace).
        max_objs: regression slots per image; extra faces (smallest first) only get heatmap peaks.
        min_overlap: CornerNet IoU used for the Gaussian radius.
        landmark_min_area: landmarks of boxes with area <= this (input pixels^2) are masked.
        legacy_radius: use CenterNet's (buggy, ~2.8x larger) radius instead of the correct one.

    ``__call__(boxes (N,4) xyxy input px, landmarks (N,5,2) xy, landmark_valid (N,5))`` returns a dict
    with keys heatmap, ind, mask, scale, offset, landmarks, landmark_mask, size_weight (see module
    docstring) and num_dropped (int: faces beyond max_objs without regression targets). Boxes of zero
    width or height are ignored.
    """

    ARRAY_KEYS = ("heatmap", "ind", "mask", "scale", "offset", "landmarks", "landmark_mask", "size_weight")

    def __init__(self, input_size=(512, 512), stride=4, max_objs=64, min_overlap=0.7,
                 landmark_min_area=8.0, legacy_radius=False):
        if isinstance(input_size, int):
            input_size = (input_size, input_size)
        height, width = (int(v) for v in input_size)
        if height % stride or width % stride or height <= 0 or width <= 0:
            raise ValueError(f"input_size {input_size} must be positive multiples of stride {stride}")
        self.input_size = (height, width)
        self.stride = int(stride)
        self.output_size = (height // stride, width // stride)
        self.max_objs = int(max_objs)
        self.min_overlap = float(min_overlap)
        self.landmark_min_area = float(landmark_min_area)
        self.radius_fn = legacy_gaussian_radius if legacy_radius else gaussian_radius

    def empty(self):
        """Zero targets (no faces)."""
        h, w = self.output_size
        n = self.max_objs
        return {"heatmap": np.zeros((1, h, w), np.float32), "ind": np.zeros(n, np.int32),
                "mask": np.zeros(n, np.float32), "scale": np.zeros((n, 2), np.float32),
                "offset": np.zeros((n, 2), np.float32), "landmarks": np.zeros((n, 10), np.float32),
                "landmark_mask": np.zeros((n, 10), np.float32), "size_weight": np.zeros(n, np.float32),
                "num_dropped": 0}

    def __call__(self, boxes, landmarks, landmark_valid):
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        landmarks = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
        landmark_valid = np.asarray(landmark_valid, dtype=bool).reshape(-1, 5)
        if not len(boxes) == len(landmarks) == len(landmark_valid):
            raise ValueError(f"targets need one landmark set per box: {len(boxes)} boxes, "
                             f"{len(landmarks)} landmarks, {len(landmark_valid)} landmark_valid rows")
        out = self.empty()
        box_w, box_h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        usable = np.flatnonzero((box_w > 0) & (box_h > 0))
        # largest first, stable so equal areas keep annotation order
        usable = usable[np.argsort(-(box_w * box_h)[usable], kind="stable")]
        out["num_dropped"] = max(0, len(usable) - self.max_objs)
        grid_h, grid_w = self.output_size
        s = float(self.stride)
        for slot, k in enumerate(usable):
            gx = (boxes[k, 0] + boxes[k, 2]) / (2 * s) - 0.5
            gy = (boxes[k, 1] + boxes[k, 3]) / (2 * s) - 0.5
            col = min(max(int(math.floor(gx)), 0), grid_w - 1)
            row = min(max(int(math.floor(gy)), 0), grid_h - 1)
            radius = max(0, int(self.radius_fn(box_h[k] / s, box_w[k] / s, self.min_overlap)))
            draw_gaussian(out["heatmap"][0], row, col, radius)
            if slot >= self.max_objs:
                continue
            out["ind"][slot] = row * grid_w + col
            out["mask"][slot] = 1.0
            out["scale"][slot] = (math.log(box_h[k] / s), math.log(box_w[k] / s))
            out["offset"][slot] = (gy - row, gx - col)
            out["size_weight"][slot] = size_weight(box_w[k] * box_h[k] / (s * s))
            if box_w[k] * box_h[k] > self.landmark_min_area:
                valid = landmark_valid[k]
                rel_y = (landmarks[k, :, 1] - boxes[k, 1]) / box_h[k]
                rel_x = (landmarks[k, :, 0] - boxes[k, 0]) / box_w[k]
                out["landmarks"][slot, 0::2] = np.where(valid, rel_y, 0.0)
                out["landmarks"][slot, 1::2] = np.where(valid, rel_x, 0.0)
                out["landmark_mask"][slot, 0::2] = valid
                out["landmark_mask"][slot, 1::2] = valid
        return out
