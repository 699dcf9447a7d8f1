"""CenterNet's centre/scale affine maps (the original's `utils/image.py get_affine_transform`), shared by every
CenterNet task's training augmentation (`get_affine_transform` with rotation, `horizontal_flip_affine`,
`compose_affine`) and test-time input (`center_scale_affine`, the rotation-free closed form).

All maps are (2, 3) float64 in the original's pixel-INDEX convention (pixel (i, j) centred at (j, i), no
half-pixel shift), which is also OpenCV's `warpAffine` convention.
"""
from typing import Sequence

import numpy as np

__all__ = ["get_affine_transform", "center_scale_affine", "horizontal_flip_affine", "compose_affine"]


def get_affine_transform(center, scale, rotation, output_wh):
    """2x3 float64 affine of the original's ``get_affine_transform(c, s, rot, output_size)`` (our derivation).

    The original fixes three point pairs: ``c -> (W/2, H/2)``; ``c + R(rot) (0, -s/2) -> (W/2, H/2 - W/2)``;
    and a third point at a right angle of each pair. A map taking a segment to a segment and preserving the
    right angle and orientation is a similarity: uniform scale ``W / s`` and rotation by ``-rot`` about ``c``,
    ``x -> (W/s) R(-rot) (x - c) + (W/2, H/2)`` with ``R(t) = [[cos t, -sin t], [sin t, cos t]]``.
    ``rotation`` is in degrees, ``output_wh`` = (W, H).
    """
    out_w, out_h = float(output_wh[0]), float(output_wh[1])
    scale = float(scale)
    if not scale > 0:
        raise ValueError(f"get_affine_transform: scale must be > 0, got {scale}")
    theta = np.deg2rad(float(rotation))
    cos, sin = np.cos(theta), np.sin(theta)
    linear = (out_w / scale) * np.array([[cos, sin], [-sin, cos]])
    center = np.asarray(center, dtype=np.float64).reshape(2)
    translation = np.array([out_w / 2.0, out_h / 2.0]) - linear @ center
    return np.concatenate([linear, translation[:, None]], axis=1)


def horizontal_flip_affine(width):
    """The mirror of a ``width``-wide image in index convention: x -> width - 1 - x."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])


def compose_affine(outer, inner):
    """The 2x3 affine ``outer o inner`` (apply ``inner`` first)."""
    return np.concatenate([outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]], axis=1)


def center_scale_affine(center_xy: Sequence[float], source_width: float,
                        output_wh: Sequence[int]) -> np.ndarray:
    """(2, 3) float64 affine of the original's ``get_affine_transform(center, s, rot=0, output_size)``.

    Uniform scale ``k = output_w / source_width`` and the shift sending ``center_xy`` to
    ``(output_w / 2, output_h / 2)`` (see the module docstring for the derivation).
    """
    cx, cy = float(center_xy[0]), float(center_xy[1])
    out_w, out_h = float(output_wh[0]), float(output_wh[1])
    if not source_width > 0:
        raise ValueError(f"center_scale_affine: source_width must be > 0, got {source_width}")
    k = out_w / float(source_width)
    return np.array([[k, 0.0, out_w / 2 - k * cx], [0.0, k, out_h / 2 - k * cy]], dtype=np.float64)
