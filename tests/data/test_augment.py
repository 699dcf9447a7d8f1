"""Tests for src/data/augment.py: pixel/annotation consistency of the warp, the fused colour transform vs a
sequential reference (RGB and BGR channel order), the PCA eigenvector order."""
import numpy as np
import pytest

from src.data.augment import (GRAY_WEIGHTS_RGB, PCA_EIGVAL, PCA_EIGVEC_BGR_ROWS, PCA_EIGVEC_RGB, ColorAugment,
                              ColorParams, apply_affine, color_affine, warp_image, window_affine)


@pytest.mark.parametrize("scale, flip", [(3.0, False), (1.3, True), (0.7, False), (0.3, True), (0.12, False)])
def test_warped_pixels_match_transformed_box(scale, flip):
    """A white rectangle drawn at a box lands where the affine sends the box: its centroid and area in
    the warped image match the transformed box. Bilinear sampling and area averaging are symmetric, so
    the centroid is off only by the sampling phase at the edges (<= 0.04 px measured); a half-pixel
    convention error would shift it by 0.5*|scale - 1| px >= 0.15 px for the direct warps (0.12 takes
    the area pre-shrink path, whose residual warp has scale ~1)."""
    height, width, out = 600, 700, (160, 192)
    image = np.zeros((height, width, 3), np.uint8)
    x1, y1, x2, y2 = 301, 257, 341, 301  # integer box, so the drawn rectangle is exact
    image[y1:y2, x1:x2] = 255
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    # window chosen so that the box lands inside the output
    x0 = cx - 0.37 * out[1] / scale
    y0 = cy - 0.55 * out[0] / scale
    matrix = window_affine(x0, y0, scale, out[1], flip)
    warped = warp_image(image, matrix, out)[..., 0].astype(np.float64) / 255.0
    mass = warped.sum()
    rows, cols = np.mgrid[0:out[0], 0:out[1]]
    centroid = np.array([(warped * (cols + 0.5)).sum() / mass, (warped * (rows + 0.5)).sum() / mass])
    expected_centre = apply_affine(matrix, [cx, cy])
    np.testing.assert_allclose(centroid, expected_centre, atol=0.08)
    np.testing.assert_allclose(mass, (x2 - x1) * (y2 - y1) * scale * scale, rtol=0.02)


def reference_color(image, params):
    """Sequential CenterNet-style colour augmentation on an RGB 0..255 float image, then clip."""
    x = image.astype(np.float64)
    for op in params.order:
        a = params.factors[op]
        gray = x @ GRAY_WEIGHTS_RGB
        if op == 0:
            x = x * a
        elif op == 1:
            x = x * a + (1 - a) * gray.mean()
        else:
            x = x * a + (1 - a) * gray[..., None]
    x = x + 255.0 * (PCA_EIGVEC_RGB @ (PCA_EIGVAL * params.lighting))
    return np.clip(x, 0, 255)


def test_fused_color_transform_matches_sequential_reference():
    """Tolerance 2e-3: float32 cv2.transform vs float64 reference on 0..255 values."""
    rng = np.random.default_rng(5)
    aug, bgr = ColorAugment(0.4, 0.1, "RGB"), ColorAugment(0.4, 0.1, "BGR")
    image = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    for _ in range(20):
        params = aug.sample(rng)
        expected = reference_color(image, params)
        np.testing.assert_allclose(aug.apply(image, params), expected, atol=2e-3)
        # the same colours given in BGR order come out in BGR order
        np.testing.assert_allclose(bgr.apply(image[..., ::-1].copy(), params), expected[..., ::-1], atol=2e-3)
    # each op alone, hand-checkable: contrast 0 maps every pixel to the mean gray
    flat = ColorParams((1, 0, 2), np.array([1.0, 0.0, 1.0]), np.zeros(3))
    matrix, offset = color_affine(image.reshape(-1, 3).mean(0), flat)
    expected_gray = (image.reshape(-1, 3).astype(float) @ GRAY_WEIGHTS_RGB).mean()
    np.testing.assert_allclose(matrix, 0.0, atol=1e-12)
    np.testing.assert_allclose(offset, expected_gray)


def test_pca_eigenvectors_are_reordered_to_rgb():
    """Rows of CornerNet's matrix are BGR; fb.resnet.torch publishes the (near-identical) RGB PCA.
    Tolerance 0.03 covers the two projects' slightly different ImageNet statistics."""
    fb_resnet_rgb = np.array([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140],
                              [-0.5836, -0.6948, 0.4203]])
    np.testing.assert_array_equal(PCA_EIGVEC_RGB, PCA_EIGVEC_BGR_ROWS[::-1])
    # eigenvector signs are arbitrary: compare up to a sign per column
    signs = np.sign(np.sum(PCA_EIGVEC_RGB * fb_resnet_rgb, axis=0))
    np.testing.assert_allclose(PCA_EIGVEC_RGB * signs, fb_resnet_rgb, atol=0.03)




def test_color_augment_off_is_the_identity_and_bad_arguments_are_rejected():
    image = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    off = ColorAugment(0.0, 0.0)
    np.testing.assert_array_equal(off.apply(image, off.sample(np.random.default_rng(0))), image.astype(np.float32))
    with pytest.raises(ValueError, match="channels"):
        ColorAugment(channels="GBR")
    with pytest.raises(ValueError, match=">= 0"):
        ColorAugment(color_jitter=-0.1)
