"""Tests for src/data/gaussian.py: the CornerNet radius against brute force, CenterNet's published radius."""
import math

import numpy as np
import pytest

from src.data.gaussian import gaussian_radius, legacy_gaussian_radius


def box_iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda x: (x[2] - x[0]) * (x[3] - x[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def brute_force_radius(h, w, overlap, step):
    """Largest r on a grid such that moving the corners by r keeps IoU >= overlap in CornerNet's three
    configurations (shifted box, shrunk box, grown box), with IoU computed on actual boxes."""
    gt = (0.0, 0.0, w, h)
    best = 0.0
    for r in np.arange(0.0, min(h, w), step):
        cases = [(r, r, w + r, h + r), (r, r, w - r, h - r), (-r, -r, w + r, h + r)]
        if all(box_iou(gt, c) >= overlap for c in cases):
            best = r
        else:
            break
    return best


@pytest.mark.parametrize("h, w, overlap", [(10, 10, 0.7), (3, 40, 0.7), (25, 8, 0.5), (60, 61, 0.9), (25, 30, 0.7),
                                           (1.5, 2.5, 0.7)])
def test_radius_matches_brute_force(h, w, overlap):
    step = min(h, w) / 4000
    assert gaussian_radius(h, w, overlap) == pytest.approx(brute_force_radius(h, w, overlap, step), abs=step)


def centernet_published_radius(h, w, o):
    """CenterNet's gaussian_radius as published (three cases with their root choices)."""
    b1, c1 = h + w, w * h * (1 - o) / (1 + o)
    r1 = (b1 + math.sqrt(b1 ** 2 - 4 * c1)) / 2
    b2, c2 = 2 * (h + w), (1 - o) * w * h
    r2 = (b2 + math.sqrt(b2 ** 2 - 16 * c2)) / 2
    a3, b3, c3 = 4 * o, -2 * o * (h + w), (o - 1) * w * h
    r3 = (b3 + math.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def test_legacy_radius_reproduces_centernet_and_is_larger():
    for h, w in [(10, 10), (3, 40), (100, 70)]:
        assert legacy_gaussian_radius(h, w, 0.7) == pytest.approx(centernet_published_radius(h, w, 0.7))
        assert legacy_gaussian_radius(h, w, 0.7) > 2.5 * gaussian_radius(h, w, 0.7)
