"""Training-time augmentation for face detection (boxes + 5 landmarks).

One sample goes through: choice of a window in the source image with the input's aspect ratio
(data-anchor sampling or a random crop), an optional horizontal flip, ONE affine warp of that window to
the network input size, colour jitter (brightness, contrast, saturation in random order) and PCA
lighting.

Coordinates are continuous pixel coordinates: pixel (i, j) covers [j, j+1) x [i, i+1), its centre is
(j + 0.5, i + 0.5), boxes are float [x1, y1, x2, y2] with exclusive right/bottom (w = x2 - x1). A
horizontal flip of a W-wide image maps x to W - x. All geometry is a 2x3 matrix ``A`` acting on such
coordinates; :func:`warp_image` converts it to OpenCV's pixel-centre convention, so pixels and
annotations move identically.

Every random draw comes from the ``numpy.random.Generator`` passed to the call (never global state).
The sequence of draws per sample is fixed, so the same generator state gives the same output.

Sources of the recipe (facts only, no code taken):
- PyramidBox data-anchor sampling (Tang et al., ECCV 2018): pick a face, anchor sizes 16..512
  (powers of two), nearest anchor index i, target anchor index uniform in {0..min(5, i+1)}, target
  size in [anchor/2, anchor*2]; we draw it log-uniformly (``anchor * 2**U(-1, 1)``) as the old
  MindSpore zoo's sampler did (it came from EXTD). PaddlePaddle's PyramidBox reader applies it with
  probability 0.5 and the other half uses ordinary crops: that is our default too.
- CenterNet/old MindSpore zoo colour augmentation: brightness/contrast/saturation factor 1+U(-0.4, 0.4)
  in random order, then lighting ``x += eig_vec @ (eig_val * N(0, 0.1))`` on 0..1 images.
"""
from dataclasses import dataclass

import cv2
import numpy as np

ANCHOR_SIZES = (16, 32, 64, 128, 256, 512)
# Landmark order: left eye, right eye, nose, left mouth corner, right mouth corner.
LANDMARK_FLIP_PAIRS = ((0, 1), (3, 4))

# PCA of ImageNet pixel colours (0..1 scale) as used by CornerNet/CenterNet and the old MindSpore zoo.
# Those projects load images with OpenCV, so the ROWS of their eigenvector matrix are channels in BGR
# order (columns are components). Evidence: fb.resnet.torch publishes the same AlexNet-style PCA for
# RGB images with rows R,G,B = [-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140],
# [-0.5836, -0.6948, 0.4203]; CornerNet's first row [-0.5875, -0.6956, 0.4134] matches that B row and
# its last row matches the R row. Our images are RGB, so we reverse the rows.
PCA_EIGVAL = np.array([0.2141788, 0.01817699, 0.00341571])
PCA_EIGVEC_BGR_ROWS = np.array([[-0.58752847, -0.69563484, 0.41340352],
                                [-0.5832747, 0.00994535, -0.81221408],
                                [-0.56089297, 0.71832671, 0.41158938]])
PCA_EIGVEC_RGB = PCA_EIGVEC_BGR_ROWS[::-1].copy()
# ITU-R BT.601 luma weights (what cv2.COLOR_RGB2GRAY uses), in RGB order.
GRAY_WEIGHTS_RGB = np.array([0.299, 0.587, 0.114])

BRIGHTNESS, CONTRAST, SATURATION = 0, 1, 2


@dataclass(frozen=True)
class Geometry:
    """A sampled geometric transform: ``matrix`` (2x3, continuous source -> output coordinates)."""
    matrix: np.ndarray
    flipped: bool
    anchor_sampled: bool


@dataclass(frozen=True)
class ColorParams:
    """A sampled colour transform: op order (BRIGHTNESS/CONTRAST/SATURATION ids), their factors
    (indexed by op id) and the 3 PCA lighting coefficients."""
    order: tuple
    factors: np.ndarray
    lighting: np.ndarray


def apply_affine(matrix, points):
    """Apply a 2x3 affine to points of shape (..., 2) (continuous coordinates)."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def window_affine(x0, y0, scale, out_width, flip):
    """Affine taking the source window with top-left (x0, y0) to the output, scaled by ``scale``,
    then mirrored horizontally in an ``out_width``-wide output when ``flip``."""
    if flip:
        return np.array([[-scale, 0.0, out_width + scale * x0], [0.0, scale, -scale * y0]])
    return np.array([[scale, 0.0, -scale * x0], [0.0, scale, -scale * y0]])


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


def warp_image(image, matrix, out_size, border_value=(0, 0, 0), antialias_below=0.5):
    """Warp ``image`` (HxWxC uint8) by the continuous-coordinate affine ``matrix`` (no rotation) into
    ``out_size`` = (height, width), bilinear. When the scale is below ``antialias_below``, the visible
    source region is first shrunk with area averaging (cv2.INTER_AREA) so that strong downscaling does
    not alias; the remaining warp then has a scale near 1."""
    out_h, out_w = out_size
    matrix = np.asarray(matrix, dtype=np.float64)
    scale_x, scale_y = abs(matrix[0, 0]), abs(matrix[1, 1])
    if antialias_below and max(scale_x, scale_y) < antialias_below:
        image, matrix = _preshrink(image, matrix, out_size, scale_x, scale_y)
    # OpenCV maps pixel centres at integer positions: idx_out = A (idx_in + 0.5) - 0.5.
    cv_matrix = matrix.copy()
    cv_matrix[:, 2] += matrix[:, :2] @ np.array([0.5, 0.5]) - 0.5
    return cv2.warpAffine(image, cv_matrix, (out_w, out_h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(v) for v in border_value))


def _preshrink(image, matrix, out_size, scale_x, scale_y):
    """Crop the source region seen by the output (plus a 2 px margin), shrink it by about the warp's
    scale with INTER_AREA, and return it with the residual affine (exact in continuous coordinates)."""
    out_h, out_w = out_size
    height, width = image.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    corners = apply_affine(inverse, np.array([[0, 0], [out_w, 0], [0, out_h], [out_w, out_h]], float))
    x_lo = int(np.clip(np.floor(corners[:, 0].min()) - 2, 0, width))
    x_hi = int(np.clip(np.ceil(corners[:, 0].max()) + 2, 0, width))
    y_lo = int(np.clip(np.floor(corners[:, 1].min()) - 2, 0, height))
    y_hi = int(np.clip(np.ceil(corners[:, 1].max()) + 2, 0, height))
    new_w = max(1, int(round((x_hi - x_lo) * scale_x)))
    new_h = max(1, int(round((y_hi - y_lo) * scale_y)))
    if x_hi <= x_lo or y_hi <= y_lo:  # window entirely outside the image: nothing to shrink
        return image, matrix
    region = cv2.resize(image[y_lo:y_hi, x_lo:x_hi], (new_w, new_h), interpolation=cv2.INTER_AREA)
    factor_x, factor_y = new_w / (x_hi - x_lo), new_h / (y_hi - y_lo)
    # source point p = diag(1/f) q + (x_lo, y_lo) for a point q of the shrunk region
    residual = np.empty((2, 3))
    residual[:, 0] = matrix[:, 0] / factor_x
    residual[:, 1] = matrix[:, 1] / factor_y
    residual[:, 2] = matrix[:, 2] + matrix[:, :2] @ np.array([x_lo, y_lo], float)
    return region, residual


def color_affine(mean_rgb, params, eigvec=PCA_EIGVEC_RGB, eigval=PCA_EIGVAL):
    """The colour jitter + lighting of ``params`` as one per-pixel affine map ``x -> M x + b`` on RGB
    0..255 values, for an image whose mean colour is ``mean_rgb``.

    Brightness (x*a), saturation (a*x + (1-a)*gray(x)) and contrast (a*x + (1-a)*mean(gray)) are all
    affine in the colour vector; contrast's offset needs the mean gray of the current image, which is
    the gray of the transformed mean colour. Composing them is exact (no clipping happens in between,
    as in CenterNet) and lets one cv2.transform pass do the whole colour augmentation."""
    matrix = np.eye(3)
    offset = np.zeros(3)
    mean_rgb = np.asarray(mean_rgb, dtype=np.float64)
    for op in params.order:
        factor = float(params.factors[op])
        if op == BRIGHTNESS:
            matrix, offset = factor * matrix, factor * offset
        elif op == CONTRAST:
            mean_gray = GRAY_WEIGHTS_RGB @ (matrix @ mean_rgb + offset)
            matrix, offset = factor * matrix, factor * offset + (1.0 - factor) * mean_gray
        else:
            blend = factor * np.eye(3) + (1.0 - factor) * np.outer(np.ones(3), GRAY_WEIGHTS_RGB)
            matrix, offset = blend @ matrix, blend @ offset
    offset = offset + 255.0 * (eigvec @ (eigval * params.lighting))
    return matrix, offset


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
        self.color_jitter = float(color_jitter)
        self.lighting_std = float(lighting_std)
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
        order = tuple(int(v) for v in rng.permutation(3))
        factors = 1.0 + rng.uniform(-self.color_jitter, self.color_jitter, size=3)
        lighting = rng.normal(0.0, self.lighting_std, size=3) if self.lighting_std > 0 else np.zeros(3)
        return ColorParams(order, factors, lighting)

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
            for left, right in LANDMARK_FLIP_PAIRS:
                new_landmarks[:, [left, right]] = new_landmarks[:, [right, left]]
                new_valid[:, [left, right]] = new_valid[:, [right, left]]
        with np.errstate(invalid="ignore"):  # NaN landmarks compare False -> invalid
            in_image = ((new_landmarks[..., 0] >= 0) & (new_landmarks[..., 0] <= out_w)
                        & (new_landmarks[..., 1] >= 0) & (new_landmarks[..., 1] <= out_h))
        new_valid &= in_image
        return (new_boxes[kept].astype(np.float32), new_landmarks.astype(np.float32), new_valid, kept)

    def apply_color(self, image_uint8, params):
        """Colour jitter + lighting on a uint8 RGB image -> float32 RGB clipped to 0..255."""
        image = image_uint8.astype(np.float32)
        if self.color_jitter == 0 and self.lighting_std == 0:
            return image
        mean_rgb = cv2.mean(image_uint8)[:3]
        matrix, offset = color_affine(mean_rgb, params)
        out = cv2.transform(image, np.hstack([matrix, offset[:, None]]).astype(np.float32))
        # clip to 0..255 (two in-place thresholds are ~8x faster than np.clip here)
        cv2.threshold(out, 255.0, 255.0, cv2.THRESH_TRUNC, dst=out)
        cv2.threshold(out, 0.0, 0.0, cv2.THRESH_TOZERO, dst=out)
        return out

    def __call__(self, image, boxes, landmarks, landmark_valid, rng):
        boxes, landmarks, landmark_valid = _validate(image, boxes, landmarks, landmark_valid)
        geometry = self.sample_geometry(image.shape[0], image.shape[1], boxes, rng)
        color = self.sample_color(rng)
        warped = warp_image(image, geometry.matrix, self.input_size, self.border_value, self.antialias_below)
        out_boxes, out_landmarks, out_valid, _ = self.transform_annotations(geometry, boxes, landmarks,
                                                                            landmark_valid)
        return self.apply_color(warped, color), out_boxes, out_landmarks, out_valid
