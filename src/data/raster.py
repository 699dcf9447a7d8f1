"""Sub-pixel drawing with OpenCV for the synthetic data generators, and a painter that draws every shape on an
image (anti-aliased) and on a label canvas (owner codes, 8-connected, no anti-aliasing) at once.

Coordinates are floats drawn with 1/16 pixel precision (cv2's `shift`: 4 fractional bits). A call takes
`origin`, the coordinates of the centre of the canvas's pixel (0, 0). Two conventions are in use:
  - pixel-index coordinates, origin (0, 0): pixel (col, row) has its centre at (col, row), as in CenterNet's
    pipeline (flip x -> W - 1 - x); the person and object generators. A label canvas that covers only a part
    of the image, from pixel (x0, y0) on, is drawn with origin (x0, y0);
  - area coordinates, origin AREA = (0.5, 0.5): pixel (col, row) spans [col, col + 1) x [row, row + 1), as in
    WIDER FACE's boxes; the face generator.
Colours are RGB sequences (any numbers) or one number for a one-channel canvas.
"""
import math
from typing import Sequence, Tuple

import cv2
import numpy as np

SHIFT = 4                       # cv2 sub-pixel bits: 1/16 pixel precision
ONE = 1 << SHIFT
AREA = (0.5, 0.5)               # origin of area coordinates
PIXEL_INDEX = (0.0, 0.0)        # origin of pixel-index coordinates


def fixed_point(point, origin=PIXEL_INDEX) -> Tuple[int, int]:
    """(x, y) -> cv2 fixed-point pixel-centre coordinates."""
    return int(round((float(point[0]) - origin[0]) * ONE)), int(round((float(point[1]) - origin[1]) * ONE))


def _cv_colour(colour):
    return colour if np.isscalar(colour) else tuple(float(v) for v in colour)


def _line_type(antialias: bool) -> int:
    return cv2.LINE_AA if antialias else cv2.LINE_8


def draw_ellipse(canvas, centre, semi_a, semi_b, angle_deg, colour, antialias=True, thickness=-1,
                 origin=PIXEL_INDEX) -> None:
    """Ellipse with semi-axes semi_a (along angle_deg, clockwise on screen) and semi_b; filled (thickness -1) or
    its outline `thickness` pixels wide."""
    axes = (max(int(round(semi_a * ONE)), 1), max(int(round(semi_b * ONE)), 1))
    cv2.ellipse(canvas, fixed_point(centre, origin), axes, angle_deg, 0, 360, _cv_colour(colour), thickness,
                _line_type(antialias), SHIFT)


def draw_line(canvas, start, end, colour, thickness, antialias=True, origin=PIXEL_INDEX) -> None:
    """A line with round caps, `thickness` pixels wide (rounded, at least 1)."""
    cv2.line(canvas, fixed_point(start, origin), fixed_point(end, origin), _cv_colour(colour),
             max(int(round(thickness)), 1), _line_type(antialias), SHIFT)


def fill_polygons(canvas, polygons: Sequence[np.ndarray], colour, antialias=True, origin=PIXEL_INDEX) -> None:
    """Fill the polygons ((n, 2) x, y each) together: a pixel covered by an odd number of them is filled, so a
    polygon inside another makes a hole."""
    fixed = [np.round((np.asarray(points, np.float64) - np.asarray(origin, np.float64)) * ONE).astype(np.int32)
             for points in polygons]
    cv2.fillPoly(canvas, fixed, _cv_colour(colour), _line_type(antialias), SHIFT)


def fill_polygon(canvas, points: np.ndarray, colour, antialias=True, origin=PIXEL_INDEX) -> None:
    fill_polygons(canvas, [points], colour, antialias, origin)


def ellipse_polygon(centre, semi_a, semi_b, angle_deg, corners: int = 48) -> np.ndarray:
    """(corners, 2) points on an ellipse (semi-axes as draw_ellipse), counter-clockwise on screen."""
    t = np.linspace(0.0, 2.0 * math.pi, corners, endpoint=False)
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    u, v = semi_a * np.cos(t), semi_b * np.sin(t)
    return np.stack([centre[0] + c * u - s * v, centre[1] + s * u + c * v], axis=1)


class Painter:
    """Draws every shape on the float RGB `image` (anti-aliased, pixel-index coordinates) and with an owner code
    on the integer `canvas` (8-connected, no anti-aliasing), which covers the image from pixel `origin` (x0, y0)
    on. The canvas then holds exactly the pixels the shapes cover, the image their anti-aliased look (up to one
    pixel beyond)."""

    def __init__(self, image: np.ndarray, canvas: np.ndarray, origin: Tuple[int, int] = (0, 0)):
        self.image, self.canvas = image, canvas
        self.shift = (float(origin[0]), float(origin[1]))

    def line(self, start, end, width: int, colour, code: int) -> None:
        draw_line(self.image, start, end, colour, width)
        draw_line(self.canvas, start, end, code, width, antialias=False, origin=self.shift)

    def ellipse(self, centre, semi_a: float, semi_b: float, angle: float, colour, code: int) -> None:
        draw_ellipse(self.image, centre, semi_a, semi_b, angle, colour)
        draw_ellipse(self.canvas, centre, semi_a, semi_b, angle, code, antialias=False, origin=self.shift)

    def polygons(self, polygons: Sequence[np.ndarray], colour, code: int) -> None:
        fill_polygons(self.image, polygons, colour)
        fill_polygons(self.canvas, polygons, code, antialias=False, origin=self.shift)

    def polygon(self, points: np.ndarray, colour, code: int) -> None:
        self.polygons([points], colour, code)
