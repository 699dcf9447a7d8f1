"""Tests for src/inference/preprocess.py: input geometry, pixel placement, the exact inverse mapping, and the
max_input_side bound."""
import cv2
import numpy as np
import pytest

from src.inference.preprocess import InputMeta, flip_batch, invert_boxes, invert_points, make_batch, make_input


def _image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _forward(points_xy, meta):
    """Original -> input with the affine written out by hand (independent of invert_points)."""
    a = meta.affine
    x, y = points_xy[..., 0], points_xy[..., 1]
    return np.stack([a[0, 0] * x + a[0, 1] * y + a[0, 2], a[1, 0] * x + a[1, 1] * y + a[1, 2]], -1)


def test_default_keeps_pixels_top_left_and_pads_to_multiple_of_32():
    image = _image(100, 70)
    chw, meta = make_input(image)
    assert chw.dtype == np.float32 and chw.shape == (3, 128, 96)
    np.testing.assert_array_equal(chw[:, :100, :70], image.transpose(2, 0, 1).astype(np.float32))
    assert not chw[:, 100:, :].any() and not chw[:, :, 70:].any()
    np.testing.assert_array_equal(meta.affine, [[1, 0, 0], [0, 1, 0]])
    assert meta.orig_hw == (100, 70) and meta.input_hw == (128, 96)


def test_exact_multiple_gets_no_padding():
    chw, meta = make_input(_image(64, 96))
    assert chw.shape == (3, 64, 96) and meta.input_hw == (64, 96)


def test_scale_half_geometry():
    chw, meta = make_input(_image(200, 160), scale=0.5)
    assert chw.shape == (3, 128, 96)  # 100 -> 128, 80 -> 96
    np.testing.assert_array_equal(meta.affine, [[0.5, 0, 0], [0, 0.5, 0]])
    assert not chw[:, 100:, :].any() and not chw[:, :, 80:].any()


def test_fixed_832_geometry_by_hand():
    # h=400, w=300: fit = min(832/400, 832/300) = 2.08 -> 832 x 624, centred: left = (832-624)//2 = 104.
    _, meta = make_input(_image(400, 300), input_size=(832, 832))
    np.testing.assert_allclose(meta.affine, [[2.08, 0, 104], [0, 2.08, 0]], rtol=0, atol=1e-12)
    # scale 0.999: fit 2.07792 -> 831.168 -> 831 rows, 623.376 -> 623 cols; top 0, left (832-623)//2 = 104.
    chw, meta = make_input(_image(400, 300), input_size=(832, 832), scale=0.999)
    np.testing.assert_allclose(meta.affine, [[623 / 300, 0, 104], [0, 831 / 400, 0]], rtol=0, atol=1e-12)
    assert chw.shape == (3, 832, 832) and meta.input_hw == (832, 832)
    assert not chw[:, :, :104].any() and not chw[:, :, 104 + 623:].any() and not chw[:, 831:, :].any()


@pytest.mark.parametrize("kwargs", [dict(scale=0.5), dict(scale=1.7), dict(input_size=(832, 832)),
                                    dict(input_size=(832, 832), scale=0.999), dict(input_size=(320, 640))])
def test_bright_square_lands_where_the_affine_says(kwargs):
    """Pixels and the affine agree: a white square maps onto the affine image of its corners (+-1 px)."""
    image = np.zeros((240, 180, 3), np.uint8)
    x1, y1, x2, y2 = 40, 60, 120, 180  # exclusive right/bottom
    image[y1:y2, x1:x2] = 255
    chw, meta = make_input(image, **kwargs)
    (ix1, iy1), (ix2, iy2) = _forward(np.array([[x1, y1], [x2, y2]], float), meta)
    bright = chw[0] > 127
    ys, xs = np.nonzero(bright)
    assert abs(xs.min() - ix1) <= 1 and abs(xs.max() + 1 - ix2) <= 1
    assert abs(ys.min() - iy1) <= 1 and abs(ys.max() + 1 - iy2) <= 1


@pytest.mark.parametrize("kwargs", [dict(), dict(scale=0.5), dict(scale=1.3), dict(input_size=(832, 832)),
                                    dict(input_size=(832, 832), scale=0.999), dict(input_size=(300, 900))])
def test_forward_then_invert_is_identity(kwargs):
    _, meta = make_input(_image(123, 77), **kwargs)
    points = np.random.default_rng(1).uniform(-50, 200, (6, 5, 2))
    np.testing.assert_allclose(invert_points(_forward(points, meta), meta), points, rtol=0, atol=1e-9)
    boxes = np.array([[3.5, 7.25, 40.0, 90.5], [0, 0, 77, 123]])
    corners = _forward(boxes.reshape(-1, 2, 2), meta).reshape(-1, 4)
    np.testing.assert_allclose(invert_boxes(corners, meta), boxes, rtol=0, atol=1e-9)


def test_invert_boxes_by_hand():
    meta = InputMeta(affine=np.array([[2.0, 0, 10], [0, 4.0, -8]]), orig_hw=(10, 10), input_hw=(32, 32))
    np.testing.assert_allclose(invert_boxes(np.array([[10, -8, 30, 32]]), meta), [[0, 0, 10, 10]])


def test_make_batch_pads_bottom_right():
    a, _ = make_input(_image(40, 70, 1))
    b, _ = make_input(_image(90, 30, 2))
    batch = make_batch([a, b])
    assert batch.shape == (2, 3, 96, 96) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[0, :, :64, :96], a)
    np.testing.assert_array_equal(batch[1, :, :96, :32], b)
    assert not batch[0, :, 64:].any() and not batch[1, :, :, 32:].any()


@pytest.mark.parametrize("bad, match", [(np.zeros((10, 10), np.uint8), "HxWx3"),
                                        (np.zeros((10, 10, 4), np.uint8), "HxWx3"),
                                        (np.zeros((10, 10, 3), np.float32), "uint8"),
                                        (np.zeros((0, 10, 3), np.uint8), "empty")])
def test_bad_images_are_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        make_input(bad)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="scale"):
        make_input(_image(8, 8), scale=0)
    with pytest.raises(ValueError, match="input_size"):
        make_input(_image(8, 8), input_size=(832,))
    with pytest.raises(ValueError, match="shape"):
        invert_points(np.zeros((3, 3)), make_input(_image(8, 8))[1])
    with pytest.raises(ValueError, match="empty"):
        make_batch([])


# ---------------------------------------------------------------- max_input_side

def test_a_large_image_is_bounded_to_max_side_by_hand():
    image = _image(600, 1000)
    chw, meta = make_input(image, max_side=512)
    # scale 512 / 1000: the width becomes 512, the height round(600 * 0.512) = 307 -> padded to 320
    assert chw.shape == (3, 320, 512) and meta.input_hw == (320, 512) and meta.orig_hw == (600, 1000)
    np.testing.assert_allclose(meta.affine, [[0.512, 0, 0], [0, 307 / 600, 0]], rtol=0, atol=1e-15)
    expected = cv2.resize(image, (512, 307), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    np.testing.assert_array_equal(chw[:, :307, :512], expected)
    assert not chw[:, 307:].any()
    corners = np.array([[0.0, 0.0], [1000.0, 600.0], [123.25, 456.5]])
    np.testing.assert_allclose(invert_points(_forward(corners, meta), meta), corners, atol=1e-9)


@pytest.mark.parametrize("hw, scale, max_side, expected_hw", [
    ((600, 1000), 1.0, 1024, (608, 1024)),   # fits: unchanged
    ((600, 1000), 0.5, 512, (320, 512)),     # 500 -> 512 fits: unchanged
    ((600, 1000), 2.0, 512, (320, 512)),     # 2000 -> bounded to 512
    ((1000, 600), 1.0, 512, (512, 320)),     # portrait: the height is the longer side
    ((4000, 33), 1.0, 1024, (1024, 32)),     # a thin strip keeps at least one pixel, padded to 32
])
def test_bound_keeps_every_input_side_within_max_side(hw, scale, max_side, expected_hw):
    chw, meta = make_input(_image(*hw), scale=scale, max_side=max_side)
    assert meta.input_hw == expected_hw and max(chw.shape[1:]) <= max_side
    unbounded = make_input(_image(*hw), scale=scale)[1]
    assert (meta.input_hw == unbounded.input_hw) == (max(unbounded.input_hw) <= max_side)


def test_bound_leaves_small_images_and_fixed_canvases_alone():
    small = _image(100, 70)
    for max_side in (None, 0, 128):
        chw, meta = make_input(small, max_side=max_side)
        np.testing.assert_array_equal(chw, make_input(small)[0])
    big = _image(900, 1300)
    chw, meta = make_input(big, input_size=(832, 832), max_side=512)  # a fixed canvas is used as given
    assert meta.input_hw == (832, 832)
    np.testing.assert_array_equal(chw, make_input(big, input_size=(832, 832))[0])


def test_bound_is_logged_once_per_image_size(caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="src.inference.preprocess"):
        for _ in range(3):
            make_input(_image(700, 1111), max_side=256)
        make_input(_image(701, 1111), max_side=256)
        make_input(_image(100, 70), max_side=256)  # not bounded: no line
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "a 1111x700 image" in lines[0] and "a 1111x701 image" in lines[1]
    assert all("max_input_side 256" in line for line in lines)


def test_flip_batch_mirrors_width():
    chw = np.random.default_rng(0).standard_normal((3, 6, 7)).astype(np.float32)
    batch = flip_batch(chw)
    assert batch.shape == (2,) + chw.shape and batch.flags.c_contiguous
    np.testing.assert_array_equal(batch[0], chw)
    np.testing.assert_array_equal(batch[1], chw[:, :, ::-1])


def test_flip_batch_rejects_non_chw():
    with pytest.raises(ValueError, match="flip_batch"):
        flip_batch(np.zeros((4, 8, 8), np.float32))
