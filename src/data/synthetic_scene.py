"""Scene pieces shared by the synthetic data generators (faces: synthetic.py, people: synthetic_pose.py, objects:
synthetic_objects.py): image sizes, colours, the cluttered background, placement of boxes without too much
overlap (optionally crossing the image border), foreground occluders, the finish of an image (blur, darkening,
sensor noise), and the tight box / COCO polygons / COCO run-length encoding of a drawn mask.

Every function draws its random numbers from the generator it is given, in a fixed order: a scene is a
function of its generator's seed. Drawing uses src/data/raster.py's conventions (pixel-index coordinates,
origin (0, 0), unless a function says otherwise).
"""
import math
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple, TypeVar

import cv2
import numpy as np

from .raster import AREA, draw_ellipse, draw_line, fill_polygon

OCCLUDER_CODE = -1              # owner-map code of foreground occluders (0 is the background)

# Skin tones (RGB) from light to dark, hair colours; per face or person they are jittered.
SKIN_TONES = np.array([[255, 224, 196], [241, 194, 125], [234, 192, 160], [224, 172, 105], [200, 150, 120],
                       [198, 134, 66], [141, 85, 36], [92, 51, 23]], np.float64)
HAIR_COLOURS = np.array([[30, 25, 20], [60, 40, 25], [90, 60, 35], [200, 170, 100], [150, 150, 150],
                         [140, 60, 30]], np.float64)


# ----------------------------------------------------------------------------------------------- image, colours
def sample_image_size(rng: np.random.Generator, image_size: int) -> Tuple[int, int]:
    """(height, width): long side image_size x U(0.625, 1.25), short side 0.6..1 of it, 65 % landscape."""
    long_side = int(round(image_size * rng.uniform(0.625, 1.25)))
    short_side = int(round(long_side * rng.uniform(0.6, 1.0)))
    return (short_side, long_side) if rng.random() < 0.65 else (long_side, short_side)


def jitter_colour(rng: np.random.Generator, colour, amount: float) -> np.ndarray:
    """`colour` + U(-amount, amount) per channel, kept in 0..255 (float64)."""
    # np.minimum/np.maximum: np.clip's Python wrapper costs ~10x more on 3-element arrays
    return np.minimum(np.maximum(np.asarray(colour, np.float64) + rng.uniform(-amount, amount, 3), 0.0), 255.0)


def random_polygon(rng: np.random.Generator, cx: float, cy: float, radius: float, corners: int) -> np.ndarray:
    """(corners, 2): corners at sorted random angles around (cx, cy), at 0.5..1 x radius from it."""
    angles = np.sort(rng.uniform(0, 2 * math.pi, corners))
    radii = radius * rng.uniform(0.5, 1.0, corners)
    return np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)


def draw_background(rng: np.random.Generator, height: int, width: int, shapes: bool = True,
                    outlines: bool = True) -> np.ndarray:
    """Gradient, random shapes and lines (float32 RGB); shapes False: the gradient only; outlines False: every
    ellipse filled (30 % are 1-3 px outlines otherwise, which the object generator's rings must not look like;
    the same numbers are drawn). Drawn in area coordinates, as the face generator was written."""
    c0, c1 = rng.uniform(0, 255, 3).astype(np.float32), rng.uniform(0, 255, 3).astype(np.float32)
    phi = rng.uniform(0, 2 * math.pi)
    ramp_x = np.linspace(0, math.cos(phi), width, dtype=np.float32)
    ramp_y = np.linspace(0, math.sin(phi), height, dtype=np.float32)
    ramp = ramp_y[:, None] + ramp_x[None, :]
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    image = np.empty((height, width, 3), np.float32)
    for channel in range(3):    # per channel: ~6x faster than broadcasting over a last axis of length 3
        np.multiply(ramp, c1[channel] - c0[channel], out=image[..., channel])
        image[..., channel] += c0[channel]
    if not shapes:
        return image
    size = min(height, width)
    for _ in range(int(rng.integers(5, 25))):
        colour = tuple(float(v) for v in rng.uniform(0, 255, 3))
        cx, cy, radius = rng.uniform(0, width), rng.uniform(0, height), size * rng.uniform(0.03, 0.35)
        kind = rng.integers(4)
        if kind == 0:
            fill_polygon(image, random_polygon(rng, cx, cy, radius, 4), colour, origin=AREA)
        elif kind == 1:
            semi_b, angle = radius * rng.uniform(0.3, 1), rng.uniform(0, 180)
            thickness = -1 if rng.random() < 0.7 else int(rng.integers(1, 4))
            draw_ellipse(image, (cx, cy), radius, semi_b, angle, colour, thickness=thickness if outlines else -1,
                         origin=AREA)
        elif kind == 2:
            draw_line(image, (cx, cy), (rng.uniform(0, width), rng.uniform(0, height)), colour, rng.uniform(1, 6),
                      origin=AREA)
        else:
            fill_polygon(image, random_polygon(rng, cx, cy, radius, int(rng.integers(3, 8))), colour, origin=AREA)
    return image


# ----------------------------------------------------------------------------------------------- placement
def box_share(a, b) -> float:
    """Intersection area / area of the smaller of two [x1, y1, x2, y2] boxes (0 when they do not meet)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))


Placement = TypeVar("Placement")


def first_fit(propose: Callable[[], Tuple[Sequence[float], Placement]], placed: Sequence[Sequence[float]],
              max_share: float, attempts: int = 20) -> Optional[Placement]:
    """Call propose() -> (box [x1, y1, x2, y2], placement) up to `attempts` times; the placement of the first box
    that shares at most `max_share` of the smaller box with every box in `placed` (see box_share), else None."""
    for _ in range(attempts):
        box, placement = propose()
        if all(box_share(box, other) <= max_share for other in placed):
            return placement
    return None


def position_box(rng: np.random.Generator, box_w: float, box_h: float, width: int, height: int,
                 border_cut: bool) -> Tuple[float, float]:
    """Top-left corner of a box_w x box_h box: inside the image (when it fits), or with border_cut crossing one
    border with 35..80 % of the box (along that axis) inside."""
    x = rng.uniform(min(0.0, width - box_w), max(0.0, width - box_w))
    y = rng.uniform(min(0.0, height - box_h), max(0.0, height - box_h))
    if border_cut:
        inside = rng.uniform(0.35, 0.8)
        side = int(rng.integers(4))
        if side == 0:
            x = -(1 - inside) * box_w
        elif side == 1:
            x = width - inside * box_w
        elif side == 2:
            y = -(1 - inside) * box_h
        else:
            y = height - inside * box_h
    return x, y


def occluder_anchor(rng: np.random.Generator, box, size_range: Tuple[float, float]):
    """Where an occluder goes over the box [x1, y1, x2, y2]: (size = box height x U(size_range), centre x anywhere
    across the box, centre y in its lower 70 % (hands, tables, bags cover the lower part more often), RGB colour
    as a tuple)."""
    x1, y1, x2, y2 = box
    size = (y2 - y1) * rng.uniform(*size_range)
    cx, cy = rng.uniform(x1, x2), rng.uniform(y1 + 0.3 * (y2 - y1), y2)
    return size, cx, cy, tuple(float(v) for v in rng.uniform(0, 255, 3))


def draw_occluder(image: np.ndarray, owner: np.ndarray, box, rng: np.random.Generator) -> None:
    """A foreground shape (a rotated rectangle or a random polygon: table, sign, bag...) over part of the box
    [x1, y1, x2, y2]; its pixels become OCCLUDER_CODE in `owner`."""
    size, cx, cy, colour = occluder_anchor(rng, box, (0.2, 0.45))
    if rng.random() < 0.5:
        half_w, half_h, angle = size * rng.uniform(0.5, 1.2), size * rng.uniform(0.3, 0.7), rng.uniform(-20, 20)
        corners = cv2.boxPoints(((cx, cy), (2 * half_w, 2 * half_h), angle))
    else:
        corners = random_polygon(rng, cx, cy, size, int(rng.integers(3, 8)))
    fill_polygon(image, corners, colour)
    fill_polygon(owner, corners, OCCLUDER_CODE, antialias=False)


# ----------------------------------------------------------------------------------------------- finish
@dataclass
class Finish:
    """The look of a camera applied to a finished drawing: Gaussian blur (sigma, 0 = none), darkening (factor,
    1 = none) and grey sensor noise (float32 (H, W, 3), the same draw in the three channels)."""
    blur_sigma: float
    darken: float
    noise: np.ndarray

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Blur, darken, add the noise and round/saturate to uint8 (cv2.add does both in one pass; numpy's clip
        and broadcasting over a last axis of 3 cost ~10x more)."""
        if self.blur_sigma > 0:
            image = cv2.GaussianBlur(image, (0, 0), self.blur_sigma)
        if self.darken < 1:
            image = image * np.float32(self.darken)
        return cv2.add(image, self.noise, dtype=cv2.CV_8U)


def sample_finish(rng: np.random.Generator, height: int, width: int, effects: bool = True) -> Finish:
    """10 % of images blurred (sigma 0.5..1.2), 10 % darkened (x 0.4..0.7), all with noise of std 0..6 levels;
    effects False: no blur or darkening (the blur and darkening amounts are then not drawn)."""
    blur = rng.uniform(0.5, 1.2) if rng.random() < 0.1 and effects else 0.0
    darken = rng.uniform(0.4, 0.7) if rng.random() < 0.1 and effects else 1.0
    # grey sensor noise, one draw per pixel shared by the channels: uniform with std 0..6 (uniform draws cost a
    # fifth of normal ones)
    noise = rng.random((height, width), dtype=np.float32)
    noise -= np.float32(0.5)
    noise *= np.float32(rng.uniform(0.0, 6.0) * math.sqrt(12.0))
    return Finish(blur, darken, cv2.merge([noise, noise, noise]))


# ----------------------------------------------------------------------------------------------- masks
def tight_box(mask: np.ndarray, origin: Tuple[int, int] = (0, 0)) -> Optional[np.ndarray]:
    """[min col, min row, max col, max row] (float64) of the pixels set in `mask` placed at pixel `origin`
    (x0, y0), i.e. the span of their centres in pixel-index coordinates; None when none is set."""
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return None
    x0, y0 = origin
    return np.array([cols.min() + x0, rows.min() + y0, cols.max() + x0, rows.max() + y0], np.float64)


def mask_polygons(mask: np.ndarray, origin: Tuple[int, int] = (0, 0)) -> List[List[float]]:
    """COCO segmentation polygons (outer contours, simplified to 1 px) of a binary mask placed at `origin`."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        contour = cv2.approxPolyDP(contour, 1.0, True)[:, 0, :]
        if len(contour) >= 3:
            polygons.append([float(v) for v in (contour + np.array(origin)).ravel()])
    return polygons


def mask_rle(mask: np.ndarray) -> dict:
    """COCO's uncompressed run-length encoding of a whole-image binary mask (the form COCO uses for crowd
    regions): {"counts": run lengths in column-major order, starting with a run of 0s, "size": [height, width]}."""
    flat = np.asarray(mask, bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"counts": [int(v) for v in counts], "size": [int(mask.shape[0]), int(mask.shape[1])]}
