"""Test-time input of every CenterNet task (detection, multi-person pose), exactly as the original's
``BaseDetector.pre_process`` (shared by its ``CtdetDetector`` and ``MultiPoseDetector``).

Facts from xingyizhou/CenterNet (docs/centernet.md "Test path"; ``detectors/base_detector.py``, ``utils/image.py``):

* The image is first resized by ``scale`` to ``new_h = int(h * scale)``, ``new_w = int(w * scale)``
  (``cv2.resize``, bilinear; a no-op copy at scale 1).
* Fixed resolution (the default, ``keep_res=False``): input ``input_res`` (512x512),
  centre ``c = (new_w / 2, new_h / 2)`` and source width ``s = max(h, w)`` of the ORIGINAL image (not of the
  resized one: the original uses ``max(height, width)`` before scaling, so a test scale zooms the content
  inside the fixed 512x512 input; with ``max(new_h, new_w)`` multi-scale testing would do nothing).
* Keep resolution (``keep_res=True``): ``inp = (new | pad) + 1`` per side (``pad`` 31 for DLA: the next
  multiple of 32 strictly above, so 512 -> 544), ``c = (new_w // 2, new_h // 2)``, ``s = (inp_w, inp_h)``.
* ``trans = get_affine_transform(c, s, 0, (inp_w, inp_h))`` then ``cv2.warpAffine(..., INTER_LINEAR)`` with a
  zero border; ``(img / 255 - mean) / std`` on the BGR image; CHW float32.

``get_affine_transform`` (rotation 0) is defined by three point pairs: ``c -> (W/2, H/2)``,
``c + (0, -s_w/2) -> (W/2, H/2 - W/2)`` and a third point completing a right angle on each side
(``c + (-s_w/2, -s_w/2) -> (0, H/2 - W/2)``). The two source offsets ``(0, -s_w/2)``, ``(-s_w/2, 0)`` map
to ``(0, -W/2)``, ``(-W/2, 0)``, so the map is the uniform scale ``k = W / s_w`` (the width ratio on BOTH axes;
``s_h`` is never read) plus the translation that sends ``c`` to the output centre:
``x' = k (x - c_x) + W/2``, ``y' = k (y - c_y) + H/2``. :func:`src.data.affine.center_scale_affine` is that closed
form (tests/data/test_affine.py checks it against the three-point construction).

The returned :class:`~src.inference.preprocess.InputMeta` maps ORIGINAL-image pixel coordinates to input
pixels: ``affine = trans @ diag(scale, scale, 1)``, in the original's index convention (no half-pixel shift:
the original maps results back by the inverse affine and then divides by ``scale``). cv2.resize itself maps
``x -> (x + 0.5) * scale - 0.5``, so at a test scale other than 1 that convention puts results
``(1 - 1/scale) / 2`` original pixels off (-0.5 px at scale 0.5, +0.17 px at 1.5); kept for fidelity with the
published model's numbers (tests/inference/test_centernet_input.py measures it). The original inverts the
affine built for the OUTPUT size ``(inp_w // 4, inp_h // 4)``; when the input sides are multiples of the
down ratio that is exactly the input affine divided by 4, so one InputMeta serves both (points are multiplied
by the down ratio before :func:`~src.inference.preprocess.invert_points`).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from src.data.affine import center_scale_affine
from src.data.centernet_augment import COCO_MEAN_BGR, COCO_STD_BGR
from src.inference.preprocess import InputMeta, bounded_scale, check_image

__all__ = ["COCO_MEAN_BGR", "COCO_STD_BGR", "input_geometry", "centernet_input"]


def _check_pad(pad: int) -> int:
    pad = int(pad)
    if pad < 0 or (pad + 1) & pad:
        raise ValueError(f"centernet_input: pad must be 2^n - 1 (31 for DLA, 127 for Hourglass), got {pad}")
    return pad


def input_geometry(orig_hw: Tuple[int, int], scale: float = 1.0, keep_res: bool = False,
                   input_res: Sequence[int] = (512, 512), pad: int = 31):
    """Sizes and affine of the original's pre_process for an image of ``orig_hw`` at test ``scale``.

    Returns ``(resized_hw, input_hw, trans)``: the size after the scale resize, the network input size
    (height, width) and the (2, 3) affine from RESIZED-image pixels to input pixels.
    """
    height, width = int(orig_hw[0]), int(orig_hw[1])
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"centernet_input: scale must be a positive number, got {scale}")
    new_h, new_w = int(height * scale), int(width * scale)
    if new_h < 1 or new_w < 1:
        raise ValueError(f"centernet_input: scale {scale} shrinks the {height}x{width} image to {new_h}x{new_w} pixels")
    if keep_res:
        pad = _check_pad(pad)
        inp_h, inp_w = (new_h | pad) + 1, (new_w | pad) + 1
        center = (new_w // 2, new_h // 2)
        source_width = inp_w  # s = (inp_w, inp_h); only s_w is read -> k = 1
    else:
        if len(input_res) != 2 or min(int(v) for v in input_res) < 1:
            raise ValueError(f"centernet_input: input_res must be (height, width) positive ints, got {input_res}")
        inp_h, inp_w = int(input_res[0]), int(input_res[1])
        center = (new_w / 2.0, new_h / 2.0)
        source_width = max(height, width)  # of the ORIGINAL image, as the original (see module docstring)
    trans = center_scale_affine(center, source_width, (inp_w, inp_h))
    return (new_h, new_w), (inp_h, inp_w), trans


def centernet_input(image_rgb: np.ndarray, scale: float = 1.0, keep_res: bool = False,
               input_res: Sequence[int] = (512, 512), pad: int = 31, mean: Sequence[float] = COCO_MEAN_BGR,
               std: Sequence[float] = COCO_STD_BGR, max_side: Optional[int] = None) -> Tuple[np.ndarray, InputMeta]:
    """Network input (3, H, W) float32 = BGR ``(x / 255 - mean) / std`` and the InputMeta mapping back.

    image_rgb: (h, w, 3) uint8 RGB. scale: test scale (the original's ``--test_scales``). keep_res: keep the
    image size padded by ``pad`` (``--keep_res``) instead of the fixed ``input_res`` (height, width).
    mean, std: BGR order. The arithmetic follows the original (float64, cast to float32 at the end).
    max_side: with keep_res, the longest input side allowed; a larger image is tested at the lower scale that
    fits (src.inference.preprocess.bounded_scale; the original has no such bound). input_res is used as given.
    """
    check_image(image_rgb, "centernet_input")
    if keep_res:
        pad = _check_pad(pad)
        scale = bounded_scale(image_rgb.shape[:2], scale, max_side, caller="centernet_input",
                              input_side=lambda side, s: (int(side * s) | pad) + 1,
                              largest_side=lambda limit: limit // (pad + 1) * (pad + 1) - 1)
    mean32 = np.asarray(mean, dtype=np.float32).reshape(-1)
    std32 = np.asarray(std, dtype=np.float32).reshape(-1)
    if mean32.shape != (3,) or std32.shape != (3,) or not (std32 > 0).all():
        raise ValueError(f"centernet_input: mean and std must be 3 numbers (BGR), std > 0; got {mean}, {std}")

    orig_hw = (int(image_rgb.shape[0]), int(image_rgb.shape[1]))
    (new_h, new_w), (inp_h, inp_w), trans = input_geometry(orig_hw, scale, keep_res, input_res, pad)
    if (new_h, new_w) == orig_hw:
        resized = image_rgb  # cv2.resize to the same size is a copy
    else:
        resized = cv2.resize(image_rgb, (new_w, new_h))  # default INTER_LINEAR, as the original
    warped = cv2.warpAffine(resized, trans, (inp_w, inp_h), flags=cv2.INTER_LINEAR)  # zero border
    # (x / 255 - mean) / std in float64 then float32, as the original, tabulated for the 256 byte values:
    # identical numbers, ~10x faster than the arithmetic over the whole image.
    table = ((np.arange(256) / 255.0 - mean32[:, None]) / std32[:, None]).astype(np.float32)  # (3 BGR, 256)
    chw = np.empty((3, inp_h, inp_w), dtype=np.float32)
    for channel in range(3):  # BGR channel c is RGB channel 2 - c
        np.take(table[channel], warped[:, :, 2 - channel], out=chw[channel])

    affine = trans @ np.array([[scale, 0.0, 0.0], [0.0, scale, 0.0], [0.0, 0.0, 1.0]])
    return chw, InputMeta(affine=affine, orig_hw=orig_hw, input_hw=(inp_h, inp_w))

