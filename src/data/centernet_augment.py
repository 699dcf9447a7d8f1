"""Training-time augmentation of every CenterNet task (object detection, multi-person pose), as the original
(docs/centernet.md "Training data and targets").

The original's ``datasets/sample/ctdet.py`` and ``multi_pose.py`` share one recipe (facts only, no code taken);
keypoints are optional (ctdet has none). One sample goes through:

1. window: centre ``c`` = image centre (w/2, h/2), size ``s`` = max(h, w); then either
   * random crop (default): ``s *= choice(0.6, 0.7, ..., 1.3)``, ``c = (randint[bx, w - bx), randint[by, h - by))``
     with the border ``crop_border(128, dim)`` (halve 128 until ``dim - border > border``), or
   * shift/scale (``rand_crop=False``): ``c += s * clip(N * shift, +-2 shift)`` per axis, then
     ``s *= clip(N * scale + 1, 1 - scale, 1 + scale)``;
2. rotation with probability ``aug_rot``: angle ``clip(N * rotate, +-2 rotate)`` degrees (off by default);
3. horizontal flip with probability ``flip_prob``: the image is mirrored (x -> W - x - 1, index convention),
   ``c_x -> W - c_x - 1``, boxes mirrored the same way (no class swap: ctdet's classes have no sides), joints
   mirrored and the flip pairs swapped;
4. ONE affine ``get_affine_transform(c, s, rot, (in_w, in_h))`` (see :func:`src.data.affine.get_affine_transform`), bilinear
   ``cv2.warpAffine`` with a zero border; /255;
5. colour (``color_aug``): brightness, contrast and saturation in random order, factors ``1 + U(-0.4, 0.4)``,
   then PCA lighting ``x += eigvec @ (eigval * N(0, 0.1))``; then ``(x - mean) / std`` and HWC -> CHW.

Coordinates follow the original's pixel-INDEX convention (pixel (i, j) centred at (j, i); no half-pixel
shift), which is also OpenCV's ``warpAffine`` convention: a point at pixel (x, y) of the source lands at
``A @ (x, y, 1)`` of the warped image. The flip is composed into the affine instead of copying a mirrored
image; sampling positions are the same (up to OpenCV's 1/32 px fixed-point rounding).

Colour semantics (the original's ``color_aug``): the gray image ``g0 = 0.114 B + 0.587 G + 0.299 R`` and its
mean ``m0`` are computed ONCE from the warped image before any colour op, and no clipping happens in between.
So contrast blends with ``m0`` and saturation with ``g0`` even when another op ran first. This differs from
CenterFace's :func:`src.data.augment.color_affine` (which re-evaluates the gray of the current image), hence
the separate :func:`centernet_color_affine`; both are exact per-pixel affine maps, applied in one ``cv2.transform``.
The PCA eigenvectors are reused from :mod:`src.data.augment`: their rows are BGR channels, the order of our
(OpenCV-loaded, BGR) images, so they are used as they are.

Outputs are in the network's frames: the image at the input resolution (CHW float32), boxes and joints at the
OUTPUT resolution (what :class:`src.data.center_targets.CenterTargets` and the pose targets consume). The
original maps boxes with the unrotated output affine and, for a rotated pose sample, then disables the centre
heatmap and every regression mask (only joint heatmaps train; ctdet has no rotation); we instead map boxes with
the rotated affine and return the axis-aligned box of the 4 rotated corners (its centre is the rotated box centre
exactly). Rotation is off by default, as in the original's published trainings.

Every random draw comes from the ``numpy.random.Generator`` passed to the call, in a fixed sequence (the
original's order: crop/shift draws, rotation coin [+ angle], flip coin, colour order, 3 factors, 3 lighting
coefficients). The original drew colours from one ``RandomState(123)`` per dataset copy (identical across
forked workers); per-sample generators avoid that.
"""
from dataclasses import dataclass

import cv2
import numpy as np

from src.data.augment import (BRIGHTNESS, CONTRAST, PCA_EIGVAL, PCA_EIGVEC_BGR_ROWS, SATURATION, ColorParams,
                              apply_affine)
from src.data.affine import compose_affine, get_affine_transform, horizontal_flip_affine
from src.data.center_targets import as_boxes, size_pair
__all__ = ["COCO_MEAN_BGR", "COCO_STD_BGR", "CenterNetTransforms", "CenterNetAugment", "crop_border",
           "centernet_color_affine"]

# COCO normalisation of the original (coco.py and coco_hp.py: the same numbers), on BGR images scaled to 0..1.
COCO_MEAN_BGR = (0.40789654, 0.44719302, 0.47026115)
COCO_STD_BGR = (0.28863828, 0.27408164, 0.27809835)
# The original's np.arange(0.6, 1.4, 0.1): the 8 values 0.6 + 0.1 k (same floating-point values).
CROP_SCALE_CHOICES = 0.6 + 0.1 * np.arange(8)
CROP_BORDER = 128
COLOR_JITTER = 0.4
LIGHTING_STD = 0.1
# cv2.COLOR_BGR2GRAY weights (ITU-R BT.601) in B, G, R order.
GRAY_WEIGHTS_BGR = np.array([0.114, 0.587, 0.299])


def crop_border(size, border=CROP_BORDER):
    """The original's random-crop margin for an image side of ``size`` px: ``border // i`` for the smallest
    power of two ``i`` with ``size - border // i > border // i`` (so the centre range is never empty)."""
    divisor = 1
    while size - border // divisor <= border // divisor:
        divisor *= 2
    return border // divisor


def centernet_color_affine(gray_mean, params, eigvec=PCA_EIGVEC_BGR_ROWS, eigval=PCA_EIGVAL):
    """The original's colour jitter + lighting as one affine ``x -> M x + b`` on a 0..1 BGR pixel ``x``.

    ``gray_mean`` is the mean gray level ``m0`` of the (0..1) image before colour augmentation; ``params`` a
    :class:`src.data.augment.ColorParams` (op order, factors indexed by op id, lighting coefficients).
    Brightness ``x -> a x``; contrast ``x -> a x + (1 - a) m0``; saturation ``x -> a x + (1 - a) g0`` where
    ``g0 = w . x_original`` is the gray of the pixel BEFORE any op (the original computes it once);
    lighting adds ``eigvec @ (eigval * alpha)``.
    """
    matrix = np.eye(3)
    offset = np.zeros(3)
    for op in params.order:
        factor = float(params.factors[op])
        if op == BRIGHTNESS:
            matrix, offset = factor * matrix, factor * offset
        elif op == CONTRAST:
            matrix, offset = factor * matrix, factor * offset + (1.0 - factor) * float(gray_mean)
        elif op == SATURATION:
            matrix = factor * matrix + (1.0 - factor) * np.outer(np.ones(3), GRAY_WEIGHTS_BGR)
            offset = factor * offset
        else:
            raise ValueError(f"centernet_color_affine: unknown colour op id {op}, expected 0, 1 or 2")
    offset = offset + np.asarray(eigvec) @ (np.asarray(eigval) * np.asarray(params.lighting))
    return matrix, offset


@dataclass(frozen=True)
class CenterNetTransforms:
    """A sampled geometric transform.

    center, scale, rotation (degrees), flipped: the original's ``c``, ``s``, ``rot`` and flip flag (``c`` in the
    coordinates of the mirrored image when flipped, as the original keeps it).
    input_affine / output_affine: 2x3 float64 maps from ORIGINAL (unmirrored) image pixels to network-input /
    output pixels, flip included (output = input * output_res / input_res).
    """
    center: np.ndarray
    scale: float
    rotation: float
    flipped: bool
    input_affine: np.ndarray
    output_affine: np.ndarray


def _flip_order(flip_pairs, num_joints):
    order = list(range(num_joints))
    for left, right in flip_pairs:
        if not (0 <= left < num_joints and 0 <= right < num_joints):
            raise ValueError(f"CenterNetAugment: flip pair ({left}, {right}) outside the {num_joints} joints")
        order[left], order[right] = right, left
    return order


class CenterNetAugment:
    """CenterNet training augmentation (see the module docstring for the recipe and conventions).

    Args:
        input_res, output_res: (height, width) of the network input / output (or one int); same aspect ratio.
        rand_crop: the original's default random crop; False selects the shift/scale variant.
        scale, shift: the shift/scale variant's parameters (original defaults 0.4, 0.1).
        aug_rot, rotate: rotation probability and angle spread in degrees (original defaults 0, 0).
        flip_prob: probability of a horizontal flip.
        color_aug: colour jitter + PCA lighting (the original's default; its --no_color_aug turns it off).
        mean, std: per-channel BGR normalisation of the 0..1 image.
        flip_pairs: (left, right) keypoint index pairs swapped by a flip (none by default: objects without
            keypoints; COCO_PERSON.flip_pairs for people).

    ``__call__(image_bgr uint8 HxWx3, boxes (N,4) xyxy, keypoints (N,J,3) [x, y, v] or None, rng)`` returns
    ``(image float32 (3, in_h, in_w) normalised BGR, boxes (N,4) float32, keypoints (N,J,3) float32 or None,
    transforms: CenterNetTransforms)``; boxes and keypoint x, y are in OUTPUT pixels, not clipped, one row per
    input object (``v`` kept; the x, y of a ``v == 0`` keypoint are transformed too and mean nothing).
    """

    def __init__(self, input_res=(512, 512), output_res=(128, 128), rand_crop=True, scale=0.4, shift=0.1,
                 aug_rot=0.0, rotate=0.0, flip_prob=0.5, color_aug=True, mean=COCO_MEAN_BGR, std=COCO_STD_BGR,
                 flip_pairs=()):
        self.input_res = size_pair(input_res, "input_res", "CenterNetAugment")
        self.output_res = size_pair(output_res, "output_res", "CenterNetAugment")
        if self.input_res[0] * self.output_res[1] != self.input_res[1] * self.output_res[0]:
            raise ValueError(f"CenterNetAugment: input_res {self.input_res} and output_res {self.output_res} must have "
                             f"the same aspect ratio")
        self.rand_crop = bool(rand_crop)
        self.scale = float(scale)
        self.shift = float(shift)
        if not 0.0 <= self.scale < 1.0:
            raise ValueError(f"CenterNetAugment: scale must be in [0, 1) (window factor in [1 - scale, 1 + scale]), "
                             f"got {scale}")
        self.aug_rot = float(aug_rot)
        self.rotate = float(rotate)
        self.flip_prob = float(flip_prob)
        self.color_aug = bool(color_aug)
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if self.mean.shape != (3,) or self.std.shape != (3,) or not np.all(self.std > 0):
            raise ValueError(f"CenterNetAugment: mean and std must be 3 BGR values with std > 0, got {mean}, {std}")
        self.flip_pairs = tuple((int(a), int(b)) for a, b in flip_pairs)

    # ----------------------------------------------------------------- sampling (all rng draws)
    def sample_transforms(self, height, width, rng):
        """Draw centre, scale, rotation and flip for a ``height`` x ``width`` image (the original's order)."""
        center = np.array([width / 2.0, height / 2.0])
        scale = float(max(height, width))
        if self.rand_crop:
            scale *= float(CROP_SCALE_CHOICES[rng.integers(len(CROP_SCALE_CHOICES))])
            border_x, border_y = crop_border(width), crop_border(height)
            center[0] = rng.integers(border_x, width - border_x)
            center[1] = rng.integers(border_y, height - border_y)
        else:
            center[0] += scale * np.clip(rng.standard_normal() * self.shift, -2 * self.shift, 2 * self.shift)
            center[1] += scale * np.clip(rng.standard_normal() * self.shift, -2 * self.shift, 2 * self.shift)
            scale *= float(np.clip(rng.standard_normal() * self.scale + 1, 1 - self.scale, 1 + self.scale))
        rotation = 0.0
        if rng.random() < self.aug_rot:
            rotation = float(np.clip(rng.standard_normal() * self.rotate, -2 * self.rotate, 2 * self.rotate))
        flipped = bool(rng.random() < self.flip_prob)
        if flipped:
            center[0] = width - center[0] - 1
        return self.make_transforms(center, scale, rotation, flipped, width)

    def make_transforms(self, center, scale, rotation, flipped, width):
        """The :class:`CenterNetTransforms` of given window parameters (``center`` in mirrored coordinates when
        ``flipped``, as drawn by :meth:`sample_transforms`) for an image ``width`` px wide."""
        in_h, in_w = self.input_res
        out_h, out_w = self.output_res
        input_affine = get_affine_transform(center, scale, rotation, (in_w, in_h))
        output_affine = get_affine_transform(center, scale, rotation, (out_w, out_h))
        if flipped:
            mirror = horizontal_flip_affine(width)
            input_affine = compose_affine(input_affine, mirror)
            output_affine = compose_affine(output_affine, mirror)
        return CenterNetTransforms(np.asarray(center, dtype=np.float64).copy(), float(scale), float(rotation),
                              bool(flipped), input_affine, output_affine)

    def sample_color(self, rng):
        """Draw the colour op order, the 3 factors (in execution order) and the 3 lighting coefficients."""
        order = tuple(int(v) for v in rng.permutation(3))
        factors = np.zeros(3)
        for op in order:
            factors[op] = 1.0 + rng.uniform(-COLOR_JITTER, COLOR_JITTER)
        lighting = rng.normal(0.0, LIGHTING_STD, size=3)
        return ColorParams(order, factors, lighting)

    # ------------------------------------------------------------------ deterministic application
    def transform_annotations(self, transforms, boxes, keypoints):
        """Boxes (N,4) and keypoints (N,J,3) or None of the original image -> output pixels (float32).

        A box becomes the axis-aligned box of its 4 mapped corners (without rotation: the 2 mapped corners,
        as the original's ``W - x2 - 1, W - x1 - 1`` mirror then affine); keypoints are mapped and, when
        flipped, the flip pairs swapped (whole rows, visibility included)."""
        matrix = transforms.output_affine
        x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
        corners = np.stack([np.stack([x1, y1], 1), np.stack([x2, y1], 1), np.stack([x1, y2], 1),
                            np.stack([x2, y2], 1)], axis=1)
        mapped = apply_affine(matrix, corners)
        out_boxes = np.concatenate([mapped.min(axis=1), mapped.max(axis=1)], axis=1)
        if keypoints is None:
            return out_boxes.astype(np.float32), None
        out_keypoints = keypoints.astype(np.float64, copy=True)
        out_keypoints[..., :2] = apply_affine(matrix, keypoints[..., :2])
        if transforms.flipped:
            out_keypoints = out_keypoints[:, _flip_order(self.flip_pairs, keypoints.shape[1])]
        return out_boxes.astype(np.float32), out_keypoints.astype(np.float32)

    def normalize(self, warped, color):
        """uint8 BGR HxWx3 -> float32 CHW ``(colour(x / 255) - mean) / std``; ``color`` None skips the colour
        augmentation. One cv2.transform pass: all steps are per-pixel affine maps."""
        matrix, offset = np.eye(3), np.zeros(3)
        if color is not None:
            gray_mean = float(GRAY_WEIGHTS_BGR @ np.asarray(cv2.mean(warped)[:3])) / 255.0
            matrix, offset = centernet_color_affine(gray_mean, color)
        inv_std = 1.0 / self.std
        full = np.concatenate([matrix * inv_std[:, None] / 255.0, ((offset - self.mean) * inv_std)[:, None]], axis=1)
        out = cv2.transform(warped.astype(np.float32), full.astype(np.float32))
        return np.ascontiguousarray(out.transpose(2, 0, 1))

    def __call__(self, image, boxes, keypoints, rng):
        image, boxes, keypoints = self._validate(image, boxes, keypoints, rng)
        height, width = image.shape[:2]
        transforms = self.sample_transforms(height, width, rng)
        color = self.sample_color(rng) if self.color_aug else None
        in_h, in_w = self.input_res
        warped = cv2.warpAffine(image, transforms.input_affine, (in_w, in_h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        out_boxes, out_keypoints = self.transform_annotations(transforms, boxes, keypoints)
        return self.normalize(warped, color), out_boxes, out_keypoints, transforms

    def _validate(self, image, boxes, keypoints, rng):
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"CenterNetAugment: rng must be a numpy.random.Generator, got {type(rng).__name__}")
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
                and image.shape[2] == 3 and image.shape[0] > 0 and image.shape[1] > 0):
            raise ValueError(f"CenterNetAugment: image must be a non-empty HxWx3 uint8 BGR array, got "
                             f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}")
        boxes = as_boxes(boxes, "CenterNetAugment", np.float64)
        if keypoints is None:
            return image, boxes, None
        keypoints = np.asarray(keypoints, dtype=np.float64)
        if keypoints.size == 0 and len(boxes) == 0 and keypoints.ndim != 3:  # e.g. [] for an image without persons
            keypoints = keypoints.reshape(0, max((max(pair) + 1 for pair in self.flip_pairs), default=0), 3)
        if keypoints.ndim != 3 or keypoints.shape[0] != len(boxes) or keypoints.shape[2] != 3:
            raise ValueError(f"CenterNetAugment: keypoints must have shape ({len(boxes)}, J, 3) [x, y, v] for "
                             f"{len(boxes)} boxes, got {keypoints.shape}")
        _flip_order(self.flip_pairs, keypoints.shape[1])
        return image, boxes, keypoints
