"""Heatmap targets shared by the models: CornerNet's Gaussian radius and max-merged Gaussian peaks.

Gaussian radius: CornerNet's rule (Law & Deng, ECCV 2018) -- the largest r such that a box whose
corners move by r keeps IoU >= min_overlap with the ground truth, in each of three cases -- computed on
the box size in grid cells, r = max(0, floor(r)), sigma = (2r + 1) / 6. We solve the three quadratics
with their correct (smaller, positive) roots. CenterNet's ``gaussian_radius`` (and the old zoo) takes
wrong roots: in cases 1 and 2 the larger root (never the minimum, so harmless), and in case 3 it
divides by 2 instead of 2a = 8*min_overlap, which makes its radius 4*min_overlap (2.8x) too large
and makes that case decide. ``legacy_gaussian_radius`` reproduces that behaviour exactly (its case 3 is
always the minimum of the three published cases): it is what the published CenterFace and CenterNet models
were trained with, and what CenterNet pose always uses.
"""
import math
from functools import lru_cache

import numpy as np

__all__ = ["gaussian_radius", "legacy_gaussian_radius", "gaussian_kernel", "draw_gaussian"]


def gaussian_radius(height, width, min_overlap=0.7):
    """Correct CornerNet radius (float, same units as height/width); see module docstring.

    Case 1 (one corner in, one out: box shifted by r in x and y):
        (h - r)(w - r) / (2hw - (h - r)(w - r)) = o  ->  r^2 - (h + w) r + hw (1 - o)/(1 + o) = 0
    Case 2 (both corners in: box shrunk by r on every side):
        (h - 2r)(w - 2r) / (hw) = o                 ->  4 r^2 - 2 (h + w) r + (1 - o) hw = 0
    Case 3 (both corners out: box grown by r on every side):
        hw / ((h + 2r)(w + 2r)) = o                 ->  4o r^2 + 2o (h + w) r - (1 - o) hw = 0
    Cases 1 and 2 take the smaller root (IoU falls as r grows from 0), case 3 the positive root.
    """
    h, w, o = float(height), float(width), float(min_overlap)
    b1, c1 = h + w, h * w * (1 - o) / (1 + o)
    r1 = (b1 - math.sqrt(max(b1 * b1 - 4 * c1, 0.0))) / 2
    b2, c2 = 2 * (h + w), (1 - o) * h * w
    r2 = (b2 - math.sqrt(max(b2 * b2 - 16 * c2, 0.0))) / 8
    a3, b3, c3 = 4 * o, 2 * o * (h + w), -(1 - o) * h * w
    r3 = (-b3 + math.sqrt(b3 * b3 - 4 * a3 * c3)) / (2 * a3)
    return min(r1, r2, r3)


def legacy_gaussian_radius(height, width, min_overlap=0.7):
    """The radius CenterNet / the old MindSpore zoo effectively use: their case-3 root divided by 2
    instead of 2a (their cases 1 and 2 take the large root and never win the minimum)."""
    h, w, o = float(height), float(width), float(min_overlap)
    a3, b3, c3 = 4 * o, 2 * o * (h + w), -(1 - o) * h * w
    return (-b3 + math.sqrt(b3 * b3 - 4 * a3 * c3)) / 2


@lru_cache(maxsize=256)
def gaussian_kernel(radius):
    """(2r+1)^2 float32 kernel exp(-(dx^2 + dy^2) / (2 sigma^2)), sigma = (2r+1)/6, peak exactly 1."""
    sigma = (2 * radius + 1) / 6.0
    d = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2 * sigma * sigma)).astype(np.float32)
    kernel.setflags(write=False)
    return kernel


def draw_gaussian(heatmap, row, col, radius):
    """Max-merge the radius-``radius`` kernel centred at (row, col) into the 2-D ``heatmap``."""
    kernel = gaussian_kernel(radius)
    h, w = heatmap.shape
    top, bottom = min(row, radius), min(h - row, radius + 1)
    left, right = min(col, radius), min(w - col, radius + 1)
    if bottom <= 0 or right <= 0 or top < 0 or left < 0:
        return
    window = heatmap[row - top:row + bottom, col - left:col + right]
    np.maximum(window, kernel[radius - top:radius + bottom, radius - left:radius + right], out=window)
