"""CenterFace training augmentation (boxes + 5 landmarks): a window of the source image with the input's
aspect ratio (data-anchor sampling or a random crop), an optional horizontal flip, ONE affine warp of that
window to the network input size, colour jitter and PCA lighting (src/data/augment.py, RGB).

Sources of the recipe (facts only, no code taken):
- PyramidBox data-anchor sampling (Tang et al., ECCV 2018): pick a face, anchor sizes 16..512
  (powers of two), nearest anchor index i, target anchor index uniform in {0..min(5, i+1)}, target
  size in [anchor/2, anchor*2]; we draw it log-uniformly (``anchor * 2**U(-1, 1)``) as the old
  MindSpore zoo's sampler did (it came from EXTD). PaddlePaddle's PyramidBox reader applies it with
  probability 0.5 and the other half uses ordinary crops: that is our default too.
The sequence of draws per sample is fixed (geometry, then colour), so the same generator state gives the
same output.
"""
from dataclasses import dataclass

import numpy as np

from src.data.augment import ColorAugment, apply_affine, warp_image, window_affine
from src.data.keypoints import FACE_LANDMARKS

ANCHOR_SIZES = (16, 32, 64, 128, 256, 512)


@dataclass(frozen=True)
class Geometry:
    """A sampled geometric transform: ``matrix`` (2x3, continuous source -> output coordinates)."""
    matrix: np.ndarray
    flipped: bool
    anchor_sampled: bool


def _uniform_in(rng, lo, hi):
    return lo if hi <= lo else float(rng.uniform(lo, hi))


def _anchor_window_start(face_lo, face_hi, window, image_extent, rng):
    """Window start along one axis for data-anchor sampling: the window must contain the chosen face
    (or, if the face is larger than the window, lie inside the face and contain its centre); among
    such positions prefer those keeping the window inside the image (less padding)."""
    centre = 0.5 * (face_lo + face_hi)
    if face_hi - face_lo <= window:
        lo, hi = face_hi - window, face_lo
    else:
        lo, hi = max(face_lo, centre - window), min(face_hi - window, centre)
    img_lo, img_hi = sorted((0.0, image_extent - window))
    if max(lo, img_lo) <= min(hi, img_hi):
        lo, hi = max(lo, img_lo), min(hi, img_hi)
    return _uniform_in(rng, lo, hi)


def _validate(image, boxes, landmarks, landmark_valid):
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
            and image.shape[2] == 3):
        raise ValueError(f"image must be a HxWx3 uint8 RGB array, got "
                         f"{getattr(image, 'dtype', type(image))} {getattr(image, 'shape', '')}")
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if np.size(boxes) else np.zeros((0, 4))
    num = len(boxes)
    landmarks = np.asarray(landmarks, dtype=np.float64)
    landmark_valid = np.asarray(landmark_valid, dtype=bool)
    if num == 0:
        landmarks, landmark_valid = landmarks.reshape(0, 5, 2), landmark_valid.reshape(0, 5)
    if landmarks.shape != (num, 5, 2):
        raise ValueError(f"landmarks must have shape ({num}, 5, 2) for {num} boxes, got {landmarks.shape}")
    if landmark_valid.shape != (num, 5):
        raise ValueError(f"landmark_valid must have shape ({num}, 5) for {num} boxes, "
                         f"got {landmark_valid.shape}")
    return boxes, landmarks, landmark_valid


class TrainAugment:
    """Random geometric + photometric augmentation to a fixed network input size.

    Args:
        input_size: (height, width) of the network input, or one int for a square.
        anchor_prob: probability of data-anchor sampling (else a random crop); needs >= 1 face.
        anchor_sizes: PyramidBox anchor sizes (input pixels).
        crop_scale: (lo, hi) random-crop window size as a fraction of the largest window of the input's
            aspect ratio that fits the image (for a square input: of the image's short side). The crop
            lies inside the image (border policy: no padding on the random-crop path). The old zoo
            instead took 0.6..0.95 of the LONG side with its centre >= s*{0.1,0.2,0.25} px from the
            edges, padding the rest, after always rescaling by anchor sampling.
        flip_prob: probability of a horizontal flip (landmark pairs (0,1), (3,4) swapped).
        min_box_size: faces whose clipped box is narrower or shorter than this (input pixels) are
            dropped.
        color_jitter: brightness/contrast/saturation factors are 1 + U(-color_jitter, color_jitter);
            0 disables them.
        lighting_std: std of the PCA lighting coefficients; 0 disables lighting.
        border_value: RGB fill for output pixels outside the source image.
        antialias_below: warp scales below this first shrink the source with area averaging.

    Call with (image_rgb uint8 HxWx3, boxes (N,4) xyxy, landmarks (N,5,2) xy, landmark_valid (N,5) bool,
    rng) -> (image float32 HxWx3 RGB in 0..255, boxes (M,4) float32, landmarks (M,5,2) float32,
    landmark_valid (M,5) bool). Kept faces are those whose transformed box centre lies in the output
    image and whose clipped box is at least ``min_box_size``; boxes are clipped to the output image.
    A landmark becomes invalid when it falls outside the output image (its face was cut by the
    window); hence a landmark inside its box stays inside its clipped box. Landmarks annotated
    outside their box keep their validity.
    """

    def __init__(self, input_size=(512, 512), anchor_prob=0.5, anchor_sizes=ANCHOR_SIZES,
                 crop_scale=(0.6, 0.95), flip_prob=0.5, min_box_size=2.0, color_jitter=0.4,
                 lighting_std=0.1, border_value=(0, 0, 0), antialias_below=0.5):
        if isinstance(input_size, int):
            input_size = (input_size, input_size)
        self.input_size = tuple(int(v) for v in input_size)
        if len(self.input_size) != 2 or min(self.input_size) <= 0:
            raise ValueError(f"input_size must be (height, width) > 0, got {input_size}")
        if not 0.0 < crop_scale[0] <= crop_scale[1] <= 1.0:
            raise ValueError(f"crop_scale must satisfy 0 < lo <= hi <= 1, got {crop_scale}")
        self.anchor_prob = float(anchor_prob)
        self.anchor_sizes = np.asarray(anchor_sizes, dtype=np.float64)
        self.crop_scale = (float(crop_scale[0]), float(crop_scale[1]))
        self.flip_prob = float(flip_prob)
        self.min_box_size = float(min_box_size)
        self.color = ColorAugment(color_jitter, lighting_std, "RGB")
        self.border_value = tuple(border_value)
        self.antialias_below = antialias_below

    # ----------------------------------------------------------------- sampling (all rng draws)
    def sample_geometry(self, height, width, boxes, rng):
        """Draw the window, scale and flip for a ``height`` x ``width`` image with ``boxes``."""
        out_h, out_w = self.input_size
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        widths = np.clip(boxes[:, 2] - boxes[:, 0], 0, None)
        sizes = np.sqrt(widths * np.clip(boxes[:, 3] - boxes[:, 1], 0, None))
        candidates = np.flatnonzero(sizes > 0)
        use_anchor = rng.random() < self.anchor_prob
        if use_anchor and len(candidates):
            face = candidates[rng.integers(len(candidates))]
            nearest = int(np.argmin(np.abs(self.anchor_sizes - sizes[face])))
            target_index = rng.integers(0, min(len(self.anchor_sizes) - 1, nearest + 1) + 1)
            target_size = self.anchor_sizes[target_index] * 2.0 ** rng.uniform(-1.0, 1.0)
            scale = target_size / sizes[face]
            win_w, win_h = out_w / scale, out_h / scale
            x1, y1, x2, y2 = boxes[face]
            x0 = _anchor_window_start(x1, x2, win_w, width, rng)
            y0 = _anchor_window_start(y1, y2, win_h, height, rng)
        else:
            use_anchor = False
            fraction = rng.uniform(*self.crop_scale)
            fit = min(width / out_w, height / out_h)
            win_w, win_h = fraction * fit * out_w, fraction * fit * out_h
            scale = out_w / win_w
            x0 = _uniform_in(rng, 0.0, width - win_w)
            y0 = _uniform_in(rng, 0.0, height - win_h)
        flip = bool(rng.random() < self.flip_prob)
        return Geometry(window_affine(x0, y0, scale, out_w, flip), flip, bool(use_anchor))

    def sample_color(self, rng):
        """Draw the colour-jitter order and factors and the lighting coefficients."""
        return self.color.sample(rng)

    # ------------------------------------------------------------------ deterministic application
    def transform_annotations(self, geometry, boxes, landmarks, landmark_valid):
        """Move annotations by ``geometry``; returns (boxes, landmarks, landmark_valid, kept_indices)."""
        out_h, out_w = self.input_size
        matrix = geometry.matrix
        corners = apply_affine(matrix, boxes.reshape(-1, 2, 2))  # (N, 2, 2): (x1,y1), (x2,y2)
        new_boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
        centre_x = 0.5 * (new_boxes[:, 0] + new_boxes[:, 2])
        centre_y = 0.5 * (new_boxes[:, 1] + new_boxes[:, 3])
        inside = (centre_x >= 0) & (centre_x < out_w) & (centre_y >= 0) & (centre_y < out_h)
        np.clip(new_boxes[:, 0::2], 0, out_w, out=new_boxes[:, 0::2])
        np.clip(new_boxes[:, 1::2], 0, out_h, out=new_boxes[:, 1::2])
        big_enough = ((new_boxes[:, 2] - new_boxes[:, 0] >= self.min_box_size)
                      & (new_boxes[:, 3] - new_boxes[:, 1] >= self.min_box_size))
        kept = np.flatnonzero(inside & big_enough)
        new_landmarks = apply_affine(matrix, landmarks[kept])
        new_valid = landmark_valid[kept].copy()
        if geometry.flipped:
            for left, right in FACE_LANDMARKS.flip_pairs:
                new_landmarks[:, [left, right]] = new_landmarks[:, [right, left]]
                new_valid[:, [left, right]] = new_valid[:, [right, left]]
        with np.errstate(invalid="ignore"):  # NaN landmarks compare False -> invalid
            in_image = ((new_landmarks[..., 0] >= 0) & (new_landmarks[..., 0] <= out_w)
                        & (new_landmarks[..., 1] >= 0) & (new_landmarks[..., 1] <= out_h))
        new_valid &= in_image
        return (new_boxes[kept].astype(np.float32), new_landmarks.astype(np.float32), new_valid, kept)

    def apply_color(self, image_uint8, params):
        """Colour jitter + lighting on a uint8 RGB image -> float32 RGB clipped to 0..255."""
        return self.color.apply(image_uint8, params)

    def __call__(self, image, boxes, landmarks, landmark_valid, rng):
        boxes, landmarks, landmark_valid = _validate(image, boxes, landmarks, landmark_valid)
        geometry = self.sample_geometry(image.shape[0], image.shape[1], boxes, rng)
        color = self.sample_color(rng)
        warped = warp_image(image, geometry.matrix, self.input_size, self.border_value, self.antialias_below)
        out_boxes, out_landmarks, out_valid, _ = self.transform_annotations(geometry, boxes, landmarks,
                                                                            landmark_valid)
        return self.apply_color(warped, color), out_boxes, out_landmarks, out_valid
