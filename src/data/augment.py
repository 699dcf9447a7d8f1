"""Augmentation building blocks shared by the models: affine geometry in continuous coordinates, a warp that
moves pixels and annotations identically, and CornerNet/CenterNet colour jitter + PCA lighting as one affine
colour map.

Coordinates are continuous pixel coordinates: pixel (i, j) covers [j, j+1) x [i, i+1), its centre is
(j + 0.5, i + 0.5), boxes are float [x1, y1, x2, y2] with exclusive right/bottom (w = x2 - x1). A
horizontal flip of a W-wide image maps x to W - x. All geometry is a 2x3 matrix ``A`` acting on such
coordinates; :func:`warp_image` converts it to OpenCV's pixel-centre convention, so pixels and
annotations move identically.

Every random draw comes from the ``numpy.random.Generator`` passed to the call (never global state).

Source of the colour recipe (facts only, no code taken): CenterNet/old MindSpore zoo colour augmentation:
brightness/contrast/saturation factor 1+U(-0.4, 0.4) in random order, then lighting
``x += eig_vec @ (eig_val * N(0, 0.1))`` on 0..1 images. The model-specific samplers (CenterFace's
data-anchor sampling, CenterNet's random scale and crop) live with their models.
"""
from dataclasses import dataclass

import cv2
import numpy as np

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


class ColorAugment:
    """Colour jitter (brightness, contrast, saturation in random order, factors 1 + U(-jitter, jitter)) and PCA
    lighting (coefficients N(0, lighting_std)) on uint8 images whose channels are in `channels` order ("RGB"
    or "BGR": the PCA eigenvectors and the gray weights follow the channels). A jitter and a std of 0 make it
    the identity."""

    def __init__(self, color_jitter=0.4, lighting_std=0.1, channels="RGB"):
        if channels not in ("RGB", "BGR"):
            raise ValueError(f"ColorAugment: channels must be 'RGB' or 'BGR', got {channels!r}")
        if color_jitter < 0 or lighting_std < 0:
            raise ValueError(f"ColorAugment: color_jitter and lighting_std must be >= 0, got {color_jitter}, "
                             f"{lighting_std}")
        self.color_jitter = float(color_jitter)
        self.lighting_std = float(lighting_std)
        self.channels = channels

    def sample(self, rng):
        """Draw the colour-jitter order and factors and the lighting coefficients."""
        order = tuple(int(v) for v in rng.permutation(3))
        factors = 1.0 + rng.uniform(-self.color_jitter, self.color_jitter, size=3)
        lighting = rng.normal(0.0, self.lighting_std, size=3) if self.lighting_std > 0 else np.zeros(3)
        return ColorParams(order, factors, lighting)

    def apply(self, image_uint8, params):
        """Colour jitter + lighting on a uint8 image -> float32 clipped to 0..255, same channel order."""
        image = image_uint8.astype(np.float32)
        if self.color_jitter == 0 and self.lighting_std == 0:
            return image
        if self.channels == "RGB":
            matrix, offset = color_affine(cv2.mean(image_uint8)[:3], params)
        else:  # the same map with channels reversed on both sides
            matrix, offset = color_affine(cv2.mean(image_uint8)[2::-1], params)
            matrix, offset = matrix[::-1, ::-1], offset[::-1]
        out = cv2.transform(image, np.hstack([matrix, offset[:, None]]).astype(np.float32))
        # clip to 0..255 (two in-place thresholds are ~8x faster than np.clip here)
        cv2.threshold(out, 255.0, 255.0, cv2.THRESH_TRUNC, dst=out)
        cv2.threshold(out, 0.0, 0.0, cv2.THRESH_TOZERO, dst=out)
        return out
