"""Tests of src/data/raster.py: the two coordinate conventions (measured by the centroid of what is drawn), the
painter's image/canvas agreement at any canvas origin, polygons with holes, and ellipse polygons."""
import math

import numpy as np
import pytest

from src.data.raster import (AREA, PIXEL_INDEX, Painter, draw_ellipse, draw_line, ellipse_polygon, fill_polygon,
                             fill_polygons, fixed_point)


def centroid(mask):
    rows, cols = np.nonzero(mask)
    return cols.mean(), rows.mean()


def test_fixed_point_is_sixteenths_of_a_pixel_from_the_origin():
    assert fixed_point((3.0, 4.5)) == (48, 72)
    assert fixed_point((3.0, 4.5), AREA) == (40, 64)
    assert fixed_point((10.0, 20.0), (8, 16)) == (32, 64)          # a canvas that starts at pixel (8, 16)
    assert fixed_point((0.03125, -0.03125)) == (0, 0)              # half a sixteenth rounds to even


@pytest.mark.parametrize("centre", [(20.0, 17.0), (20.25, 17.5), (19.8125, 16.3125)])
def test_area_coordinates_are_pixel_index_coordinates_shifted_by_half_a_pixel(centre):
    """A disc centred at (x, y) covers pixels whose centres average (x, y) in pixel-index coordinates and
    (x - 0.5, y - 0.5) in area coordinates (pixel c spans [c, c + 1)); tolerance 0.15 px: OpenCV's 8-connected
    ellipse is biased by up to 0.11 px (measured at these centres). Any shape drawn at p in area coordinates is
    exactly the shape drawn at p - 0.5 in pixel-index coordinates."""
    centre = np.array(centre)
    for origin, offset in ((PIXEL_INDEX, 0.0), (AREA, 0.5)):
        disc = np.zeros((40, 40), np.uint8)
        draw_ellipse(disc, centre, 9.0, 9.0, 0.0, 1, antialias=False, origin=origin)
        np.testing.assert_allclose(centroid(disc), centre - offset, atol=0.15)
    square = np.array([[-7.0, -7.0], [7.0, -7.0], [7.0, 6.0], [-6.0, 7.0]])
    for draw in (lambda canvas, p, origin: draw_ellipse(canvas, p, 9.0, 4.0, 30.0, (1.0, 2.0, 3.0), origin=origin),
                 lambda canvas, p, origin: fill_polygon(canvas, p + square, (1.0, 2.0, 3.0), origin=origin),
                 lambda canvas, p, origin: draw_line(canvas, p - 5.0, p + 6.0, (1.0, 2.0, 3.0), 3, origin=origin)):
        area, index = np.zeros((40, 40, 3), np.float32), np.zeros((40, 40, 3), np.float32)
        draw(area, centre, AREA)
        draw(index, centre - 0.5, PIXEL_INDEX)
        assert area.any()
        np.testing.assert_array_equal(area, index)


def test_polygons_filled_together_make_holes():
    outer = ellipse_polygon((20.0, 20.0), 15.0, 15.0, 0.0, 64)
    inner = ellipse_polygon((20.0, 20.0), 7.0, 7.0, 0.0, 64)
    canvas = np.zeros((40, 40), np.uint8)
    fill_polygons(canvas, [outer, inner], 1, antialias=False)
    assert canvas[20, 20] == 0 and canvas[20, 9] == 1 and canvas[20, 31] == 1 and canvas[20, 2] == 0
    # annulus area pi (15^2 - 7^2) = 553; the 8-connected raster covers every touched pixel: ~1 px more per edge
    assert 553 <= canvas.sum() <= 553 + 2 * math.pi * (15 + 7) * 1.0


@pytest.mark.parametrize("angle", [0.0, 30.0, 117.0])
def test_ellipse_polygon_points_lie_on_the_ellipse(angle):
    points = ellipse_polygon((3.0, -2.0), 5.0, 2.0, angle, 37)
    t = math.radians(angle)
    d = points - [3.0, -2.0]
    u = d[:, 0] * math.cos(t) + d[:, 1] * math.sin(t)          # along the first semi-axis (clockwise on screen)
    v = -d[:, 0] * math.sin(t) + d[:, 1] * math.cos(t)
    np.testing.assert_allclose((u / 5.0) ** 2 + (v / 2.0) ** 2, 1.0, atol=1e-12)
    assert len(points) == 37


def test_painter_canvas_at_any_origin_equals_the_full_canvas_slice_and_image_covers_it():
    """What the painter puts on a canvas that starts at (x0, y0) is the same as on a full-size canvas, cut; the
    anti-aliased image changes on every canvas pixel and at most one pixel beyond."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        full_image = np.full((60, 70, 3), -1000.0, np.float32)
        full = np.zeros((60, 70), np.uint8)
        x0, y0 = int(rng.integers(0, 20)), int(rng.integers(0, 20))
        part_image = full_image.copy()
        part = np.zeros((60 - y0, 70 - x0), np.uint8)
        shapes = [("line", (rng.uniform(20, 50), rng.uniform(20, 40)), (rng.uniform(20, 50), rng.uniform(20, 40))),
                  ("ellipse", (rng.uniform(25, 45), rng.uniform(25, 35)), rng.uniform(2, 9)),
                  ("polygon", rng.uniform(20, 50, (5, 2)))]
        for painter in (Painter(full_image, full), Painter(part_image, part, (x0, y0))):
            for shape in shapes:
                if shape[0] == "line":
                    painter.line(shape[1], shape[2], 3, (10.0, 20.0, 30.0), 2)
                elif shape[0] == "ellipse":
                    painter.ellipse(shape[1], shape[2], shape[2] / 2, 33.0, (10.0, 20.0, 30.0), 3)
                else:
                    painter.polygon(shape[1], (10.0, 20.0, 30.0), 4)
        np.testing.assert_array_equal(part, full[y0:, x0:])
        np.testing.assert_array_equal(part_image, full_image)
        changed = np.any(full_image != -1000.0, axis=2)
        drawn = full > 0
        assert np.all(changed[drawn])
        grown = np.zeros_like(drawn)
        rows, cols = np.nonzero(drawn)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                grown[np.clip(rows + dy, 0, 59), np.clip(cols + dx, 0, 69)] = True
        assert not np.any(changed & ~grown)


def test_line_thickness_is_rounded_and_at_least_one_pixel():
    def line(thickness):
        canvas = np.zeros((20, 40), np.uint8)
        draw_line(canvas, (5.0, 10.0), (35.0, 10.0), 1, thickness, antialias=False)
        return canvas

    assert np.count_nonzero(line(0.2)[:, 20]) == 1
    np.testing.assert_array_equal(line(4.6), line(5))
    np.testing.assert_array_equal(line(4.4), line(4))
    assert np.count_nonzero(line(5)[:, 20]) > np.count_nonzero(line(2)[:, 20])
