"""Drawing of a posed person (src/data/person_skeleton.py): orthographic projection to image pixels, clothing
and skin colours, and the painter's-algorithm drawing of limbs, trunk and head with the facial cues that tell
which way the person faces. Every shape is drawn on the image (anti-aliased) and, with its part id, on a label
canvas (src/data/raster.py's Painter), from which src/data/synthetic_pose.py labels joint visibility.

Left and right: the cues are mirror-equivariant (see synthetic_pose.py's docstring): the face on the front of
the head and hair on its back, a V neckline on the front of the trunk, feet pointing forward, and depth (parts
drawn far to near, darker with distance).
"""
import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from .person_skeleton import HEAD_SEMI_AXES, JOINT, RADIUS, Figure3D
from .raster import Painter
from .synthetic_scene import HAIR_COLOURS, SKIN_TONES, jitter_colour


# ----------------------------------------------------------------------------------------------- parts
PART_IDS = {"trunk": 1, "neck": 2, "head": 3, "left_upper_arm": 4, "right_upper_arm": 5, "left_forearm": 6,
            "right_forearm": 7, "left_hand": 8, "right_hand": 9, "left_thigh": 10, "right_thigh": 11,
            "left_shank": 12, "right_shank": 13, "left_foot": 14, "right_foot": 15}


# ----------------------------------------------------------------------------------------------- projection
class ImageMap:
    """Orthographic camera -> image pixels: drop z, y up -> down, roll clockwise by roll_deg, scale, shift."""

    def __init__(self, scale: float, roll_deg: float, offset=(0.0, 0.0)):
        c, s = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
        self.linear = scale * np.array([[c, -s], [s, c]]) @ np.array([[1.0, 0.0], [0.0, -1.0]])
        self.offset = np.asarray(offset, np.float64)
        self.scale = scale

    def points(self, points3: np.ndarray) -> np.ndarray:
        """(..., 3) camera points -> (..., 2) image x, y."""
        return np.asarray(points3)[..., :2] @ self.linear.T + self.offset

    def ellipse(self, centre3: np.ndarray, axes3: Sequence[np.ndarray]) -> Tuple[np.ndarray, float, float, float]:
        """Image ellipse (centre, semi-major, semi-minor, angle in degrees for cv2) of the orthographic shadow of
        the ellipse/ellipsoid with semi-axis vectors `axes3` (2 for a planar ellipse, 3 for an ellipsoid)."""
        vectors = np.array([self.linear @ np.asarray(a)[:2] for a in axes3])       # (n, 2)
        shape = vectors.T @ vectors
        eigenvalues, eigenvectors = np.linalg.eigh(shape)
        major = eigenvectors[:, 1]
        return (self.points(centre3), math.sqrt(max(eigenvalues[1], 0.0)), math.sqrt(max(eigenvalues[0], 0.0)),
                math.degrees(math.atan2(major[1], major[0])))


def figure_extent(figure: Figure3D, image_map: ImageMap) -> np.ndarray:
    """[x1, y1, x2, y2] of everything drawn for `figure` under `image_map` (limb radii included)."""
    ends = np.concatenate([np.array([start for start, _ in figure.capsules.values()]),
                           np.array([end for _, end in figure.capsules.values()]), figure.trunk])
    radii = np.array([RADIUS["neck" if name == "neck" else name.split("_", 1)[1]] for name in figure.capsules])
    radii = np.concatenate([radii, radii, np.zeros(len(figure.trunk))]) * image_map.scale
    head_axes = (figure.head_rotation * np.array(HEAD_SEMI_AXES)).T          # rows: semi-axis vectors
    centre, semi_major, _, _ = image_map.ellipse(figure.head_centre, list(head_axes))
    points = np.concatenate([image_map.points(ends), centre[None]])
    # ears may stick out of the head outline by up to 0.015 H
    radii = np.concatenate([radii, [semi_major + 0.015 * image_map.scale]])
    return np.concatenate([(points - radii[:, None]).min(0), (points + radii[:, None]).max(0)])


# ----------------------------------------------------------------------------------------------- style, drawing
@dataclass
class PersonStyle:
    """RGB colours of one person and clothing cut."""
    skin: np.ndarray
    hair: np.ndarray
    shirt: np.ndarray
    trousers: np.ndarray
    shoes: np.ndarray
    long_sleeves: bool
    shorts: bool


TROUSER_COLOURS = np.array([[40, 60, 110], [30, 30, 35], [150, 130, 95], [90, 90, 95], [70, 50, 40]], np.float64)


def sample_person_style(rng: np.random.Generator) -> PersonStyle:
    skin = jitter_colour(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))], 15)
    hair = jitter_colour(rng, HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], 12)
    if rng.random() < 0.15:                                  # hat
        hair = rng.uniform(0, 255, 3)
    trousers = (jitter_colour(rng, TROUSER_COLOURS[rng.integers(len(TROUSER_COLOURS))], 20) if rng.random() < 0.6
                else rng.uniform(0, 255, 3))
    return PersonStyle(skin=skin, hair=hair, shirt=rng.uniform(0, 255, 3), trousers=trousers,
                       shoes=jitter_colour(rng, np.array([35.0, 30.0, 30.0]), 30),
                       long_sleeves=bool(rng.random() < 0.5), shorts=bool(rng.random() < 0.2))


def _shade(depth: float) -> float:
    """Colour factor by depth (camera z in H units): far parts darker (0.7), near parts full colour."""
    return 0.7 + 0.3 * min(max((depth + 0.12) / 0.24, 0.0), 1.0)


class _PersonPainter(Painter):
    """The shared painter (image + part canvas) with the limb capsule."""

    def capsule(self, start, end, radius, colour, part, outline=None):
        width = max(int(round(2 * radius)), 1)
        if outline is not None and radius >= 2.5:          # a darker rim separates overlapping same-coloured limbs
            self.line(start, end, width + 2, outline, part)
        self.line(start, end, width, colour, part)


def _draw_head(painter: _PersonPainter, figure: Figure3D, image_map: ImageMap, joints_px: np.ndarray,
               style: PersonStyle) -> None:
    """Hair-coloured head ellipsoid, face patch, ears, eyes, nose and mouth where the head shows them."""
    part, scale, rotation = PART_IDS["head"], image_map.scale, figure.head_rotation
    shade = _shade(float(figure.head_centre[2]))
    a, b, c = HEAD_SEMI_AXES
    centre, semi_a, semi_b, angle = image_map.ellipse(figure.head_centre, [rotation[:, 0] * a, rotation[:, 1] * b,
                                                                           rotation[:, 2] * c])
    painter.ellipse(centre, semi_a, semi_b, angle, style.hair * shade, part)
    face_normal_z = float(rotation[2, 2])
    if face_normal_z > -0.1:
        # face patch: a planar ellipse on the front of the head, below the hair line
        patch_centre = figure.head_centre + rotation @ np.array([0.0, -0.01, 0.55 * c])
        painter.ellipse(*image_map.ellipse(patch_centre, [rotation[:, 0] * 0.8 * a, rotation[:, 1] * 0.75 * b]),
                        style.skin * shade, part)
    for name in ("left_ear", "right_ear"):
        if figure.face_point_shows(name):
            up_angle = image_map.ellipse(figure.head_centre, [rotation[:, 1]])[3]     # long axis along the head
            painter.ellipse(joints_px[JOINT[name]], max(0.015 * scale, 0.8), max(0.009 * scale, 0.6), up_angle,
                            style.skin * 0.8 * shade, part)
    if figure.face_point_shows("nose") and face_normal_z > 0.2:
        mouth = [figure.head_centre + rotation @ np.array([sx * 0.014, -0.047, 0.046]) for sx in (-1, 1)]
        painter.capsule(image_map.points(mouth[0]), image_map.points(mouth[1]), max(0.002 * scale, 0.5),
                        style.skin * np.array([0.75, 0.42, 0.45]), part)
    for name in ("left_eye", "right_eye"):
        if figure.face_point_shows(name):
            if scale > 250:
                painter.ellipse(joints_px[JOINT[name]], 0.011 * scale, 0.007 * scale, 0.0, (235.0, 235.0, 235.0), part)
            radius = max(0.0065 * scale, 0.6)
            painter.ellipse(joints_px[JOINT[name]], radius, radius, 0.0, (30.0, 25.0, 20.0), part)
    if figure.face_point_shows("nose"):
        radius = max(0.009 * scale, 0.6)
        painter.ellipse(joints_px[JOINT["nose"]], radius, radius, 0.0, style.skin * 0.62 * shade, part)


def draw_person(image: np.ndarray, figure: Figure3D, image_map: ImageMap, joints_px: np.ndarray,
                style: PersonStyle, extent: Optional[np.ndarray] = None) -> Tuple[np.ndarray, Tuple[int, int]]:
    """Draw the figure on `image`, parts far to near, limbs between the integer joints `joints_px` (17, 2).
    extent: figure_extent(figure, image_map) if already known. Returns (part canvas uint8 with part ids,
    (x0, y0) of the canvas in the image): the drawn pixels inside the image."""
    height, width = image.shape[:2]
    extent = figure_extent(figure, image_map) if extent is None else extent
    x0, y0 = max(int(math.floor(extent[0])) - 2, 0), max(int(math.floor(extent[1])) - 2, 0)
    x1, y1 = min(int(math.ceil(extent[2])) + 3, width), min(int(math.ceil(extent[3])) + 3, height)
    canvas = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.uint8)
    if canvas.size == 0:
        return canvas, (x0, y0)
    painter = _PersonPainter(image, canvas, (x0, y0))
    colours = {"upper_arm": style.shirt, "forearm": style.shirt if style.long_sleeves else style.skin,
               "hand": style.skin, "thigh": style.trousers, "shank": style.skin if style.shorts else style.trousers,
               "foot": style.shoes, "neck": style.skin}
    joint_of = {"upper_arm": ("shoulder", "elbow"), "forearm": ("elbow", "wrist"), "thigh": ("hip", "knee"),
                "shank": ("knee", "ankle")}
    # (depth key, name): a small bias keeps the trunk under limbs at equal depth and the head on top
    order = [(float((a[2] + b[2]) / 2) + (0.03 if name == "neck" else 0.0), name)
             for name, (a, b) in figure.capsules.items()]
    order += [(float(figure.trunk[:, 2].mean()) - 0.05, "trunk"), (float(figure.head_centre[2]) + 0.06, "head")]
    for depth, name in sorted(order):
        if name == "trunk":
            shade = _shade(depth + 0.05)
            corners = image_map.points(figure.trunk).astype(np.float32)
            painter.polygon(cv2.convexHull(corners)[:, 0, :], style.shirt * shade, PART_IDS["trunk"])
            if figure.trunk_front[2] > 0.25:
                painter.polygon(image_map.points(figure.neckline), style.skin * shade, PART_IDS["trunk"])
            continue
        if name == "head":
            _draw_head(painter, figure, image_map, joints_px, style)
            continue
        kind = "neck" if name == "neck" else name.split("_", 1)[1]
        side = name.split("_", 1)[0]
        start, end = figure.capsules[name]
        if kind in joint_of:            # limbs run exactly between the labelled (integer) joints
            start_px = joints_px[JOINT[f"{side}_{joint_of[kind][0]}"]]
            end_px = joints_px[JOINT[f"{side}_{joint_of[kind][1]}"]]
        else:
            start_px, end_px = image_map.points(start), image_map.points(end)
        colour = colours[kind] * _shade(depth)
        painter.capsule(start_px, end_px, RADIUS[kind] * image_map.scale, colour, PART_IDS[name],
                        outline=None if kind in ("hand", "neck") else colour * 0.55)
    return canvas, (x0, y0)

