"""Turning an original RGB image into a network input, and mapping results back (InputMeta: the affine).

`make_input` gives raw 0..255 RGB values in CHW float32 whose height and width are multiples of 32 (CenterFace's
input: no mean/std, docs/design.md "The official CenterFace model"; the CenterNet tasks place their BGR-normalised
input with the original's affine in src/inference/centernet_input.py and map back through the same InputMeta). Two
ways to get there:

* ``input_size=None`` (the official demo's way): scale the image by ``scale`` and pad bottom/right with
  zeros up to the next multiple of ``multiple``. No stretching, so the inverse is an exact scale.
* ``input_size=(H, W)`` (the old zoo's fixed 832x832 test): resize keeping the aspect ratio to fit inside
  ``(H, W)`` (times ``scale``, e.g. 0.999), centre it and pad with zeros.

Coordinates are continuous pixel coordinates (pixel ``i`` covers ``[i, i + 1)``), the convention in which
``cv2.resize`` maps a ``w``-wide image onto ``new_w`` pixels by the factor ``new_w / w``. The mapping
original -> input is therefore the affine ``x_in = sx * x + tx``, ``y_in = sy * y + ty`` stored in
:class:`InputMeta`; :func:`invert_points` and :func:`invert_boxes` undo it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputMeta:
    """How one original image became a network input.

    affine: (2, 3) float64, maps original pixel coordinates (x, y, 1) to input pixel coordinates.
    orig_hw: (height, width) of the original image.
    input_hw: (height, width) of the network input (multiples of 32 in practice).
    """

    affine: np.ndarray
    orig_hw: Tuple[int, int]
    input_hw: Tuple[int, int]


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def check_image(image, caller: str = "make_input") -> None:
    """ValueError (naming `caller`) unless `image` is a non-empty HxWx3 uint8 array."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"{caller}: image must be an HxWx3 RGB array, got shape {shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"{caller}: image must be uint8 (0..255 RGB), got dtype {image.dtype}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{caller}: image is empty, shape {image.shape}")


def _resized_size(orig_hw: Tuple[int, int], factor: float) -> Tuple[int, int]:
    """(height, width) of the image scaled by `factor`, at least one pixel each."""
    h, w = orig_hw
    return max(1, int(round(h * factor))), max(1, int(round(w * factor)))


_BOUNDED_SIZES = set()  # original sizes already reported by `bounded_scale` (one log line per size)


def bounded_scale(orig_hw: Tuple[int, int], scale: float, max_side: Optional[int], input_side, largest_side,
                  caller: str = "make_input") -> float:
    """The test scale of an original-size pass, lowered so that the network input's longer side is at most
    `max_side` (None or 0: unbounded). Memory and time grow with the input area (docs/performance.md "Memory":
    peak memory per megapixel), so a large photo is downscaled before the network; its InputMeta still maps results
    back to original pixels exactly.

    input_side(side, scale): the network input side a task makes of an image side at a scale;
    largest_side(max_side): the largest scaled image side whose input side fits in `max_side`.
    The first time an original size is bounded, one INFO line says so.
    """
    if not max_side:
        return scale
    longest = max(orig_hw)
    if input_side(longest, scale) <= max_side:
        return scale
    fitting = largest_side(int(max_side))
    if fitting < 1:
        raise ValueError(f"{caller}: max_input_side {max_side} leaves no room for an input")
    bounded = fitting / longest
    if (orig_hw, scale, max_side) not in _BOUNDED_SIZES:
        _BOUNDED_SIZES.add((orig_hw, scale, max_side))
        LOG.info("a %dx%d image at scale %g would make a network input over max_input_side %d px: tested at "
                 "scale %.4g instead (results are mapped back to the original pixels)", orig_hw[1], orig_hw[0],
                 scale, max_side, bounded)
    return bounded


def make_input(image: np.ndarray, input_size: Optional[Sequence[int]] = None, scale: float = 1.0,
               multiple: int = 32, max_side: Optional[int] = None) -> Tuple[np.ndarray, InputMeta]:
    """Network input (3, H, W) float32 raw RGB 0..255 and the :class:`InputMeta` to map results back.

    image: (h, w, 3) uint8 RGB.
    input_size: None to keep the image size (times `scale`) and pad to multiples of `multiple`;
        (H, W) to fit the image inside H x W keeping the aspect ratio (times `scale`), centred.
    max_side: with input_size None, the longest input side allowed (a multiple of `multiple`); a larger image
        is scaled down to it (`bounded_scale`). A fixed input_size is used as given.
    """
    check_image(image)
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"make_input: scale must be a positive number, got {scale}")
    if int(multiple) < 1:
        raise ValueError(f"make_input: multiple must be a positive integer, got {multiple}")
    orig_hw = (int(image.shape[0]), int(image.shape[1]))

    if input_size is None:
        scale = bounded_scale(orig_hw, scale, max_side,
                              input_side=lambda side, s: _round_up(max(1, int(round(side * s))), multiple),
                              largest_side=lambda limit: limit // multiple * multiple)
        new_hw = _resized_size(orig_hw, scale)
        input_hw = (_round_up(new_hw[0], multiple), _round_up(new_hw[1], multiple))
        top, left = 0, 0
    else:
        if len(input_size) != 2 or min(int(v) for v in input_size) < 1:
            raise ValueError(f"make_input: input_size must be (H, W) with positive ints, got {input_size}")
        input_hw = (int(input_size[0]), int(input_size[1]))
        fit = min(input_hw[0] / orig_hw[0], input_hw[1] / orig_hw[1]) * scale
        new_hw = _resized_size(orig_hw, fit)
        new_hw = (min(new_hw[0], input_hw[0]), min(new_hw[1], input_hw[1]))
        top, left = (input_hw[0] - new_hw[0]) // 2, (input_hw[1] - new_hw[1]) // 2

    if new_hw == orig_hw:
        resized = image
    else:
        resized = cv2.resize(image, (new_hw[1], new_hw[0]), interpolation=cv2.INTER_LINEAR)
    chw = np.zeros((3, input_hw[0], input_hw[1]), dtype=np.float32)
    chw[:, top:top + new_hw[0], left:left + new_hw[1]] = resized.transpose(2, 0, 1)

    # Per-axis factors of what cv2.resize actually did (rounding to whole pixels), so the inverse is exact.
    sx, sy = new_hw[1] / orig_hw[1], new_hw[0] / orig_hw[0]
    affine = np.array([[sx, 0.0, left], [0.0, sy, top]], dtype=np.float64)
    return chw, InputMeta(affine=affine, orig_hw=orig_hw, input_hw=input_hw)


def make_batch(inputs: Sequence[np.ndarray]) -> np.ndarray:
    """Stack (3, H_i, W_i) inputs into (N, 3, max H, max W), zero padding bottom/right.

    Bottom/right padding leaves every image's input coordinates unchanged, so each one's InputMeta holds.
    """
    if len(inputs) == 0:
        raise ValueError("make_batch: got an empty list of inputs")
    for i, chw in enumerate(inputs):
        if chw.ndim != 3 or chw.shape[0] != 3:
            raise ValueError(f"make_batch: input {i} must be (3, H, W), got shape {chw.shape}")
    height = max(chw.shape[1] for chw in inputs)
    width = max(chw.shape[2] for chw in inputs)
    batch = np.zeros((len(inputs), 3, height, width), dtype=np.float32)
    for i, chw in enumerate(inputs):
        batch[i, :, :chw.shape[1], :chw.shape[2]] = chw
    return batch


def flip_batch(chw: np.ndarray) -> np.ndarray:
    """(2, 3, H, W) batch [input, input mirrored left-right]: the flip test of tasks that merge
    the two maps (`Task.flip_in_batch`, CenterNet's flip test)."""
    chw = np.asarray(chw)
    if chw.ndim != 3 or chw.shape[0] != 3:
        raise ValueError(f"flip_batch: input must be (3, H, W), got shape {chw.shape}")
    return np.ascontiguousarray(np.stack([chw, chw[:, :, ::-1]]))


def invert_points(points_xy: np.ndarray, meta: InputMeta) -> np.ndarray:
    """Map (..., 2) input-pixel (x, y) points back to original-image pixels (float64)."""
    points = np.asarray(points_xy, dtype=np.float64)
    if points.shape[-1:] != (2,):
        raise ValueError(f"invert_points: points must have shape (..., 2), got {points.shape}")
    linear, shift = meta.affine[:, :2], meta.affine[:, 2]
    return (points - shift) @ np.linalg.inv(linear).T


def invert_boxes(boxes: np.ndarray, meta: InputMeta) -> np.ndarray:
    """Map (N, 4) input-pixel [x1, y1, x2, y2] boxes back to original-image pixels (float64).

    Uses the bounding box of the four mapped corners, which is exact for the scale + shift affines
    produced by :func:`make_input`.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"invert_boxes: boxes must have shape (N, 4), got {boxes.shape}")
    x1, y1, x2, y2 = boxes.T
    corners = np.stack([np.stack([x1, y1], -1), np.stack([x2, y1], -1),
                        np.stack([x1, y2], -1), np.stack([x2, y2], -1)], axis=1)
    mapped = invert_points(corners, meta)
    return np.concatenate([mapped.min(axis=1), mapped.max(axis=1)], axis=1)
