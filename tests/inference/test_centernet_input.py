"""Tests for src/inference/centernet_input.py against the original CenterNet pre_process formulas.

Expected affines are hand-computed from the original's rules (docs/centernet.md "Test path"); the original's
get_affine_transform is rebuilt here from its definition (three point pairs solved by cv2.getAffineTransform),
independently of the closed form in the module.
"""
from pathlib import Path

import cv2
import numpy as np
import pytest

from src.inference.centernet_input import COCO_MEAN_BGR, COCO_STD_BGR, centernet_input, input_geometry
from src.data.affine import center_scale_affine
from src.inference.preprocess import invert_points


def three_point_affine(center, source_width, output_wh):
    """The original's get_affine_transform(c, s, rot=0, output_size) from its three point pairs (float32 points,
    as the original): centre -> output centre; centre + (0, -s/2) -> (W/2, H/2 - W/2); third points complete a
    right angle (b + (-(a-b)_y, (a-b)_x))."""
    out_w, out_h = output_wh
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center
    src[1] = np.asarray(center, np.float32) + np.array([0, -0.5 * source_width], np.float32)
    dst[0] = [out_w * 0.5, out_h * 0.5]
    dst[1] = dst[0] + np.array([0, -0.5 * out_w], np.float32)
    for points in (src, dst):
        direction = points[0] - points[1]
        points[2] = points[1] + np.array([-direction[1], direction[0]], np.float32)
    return cv2.getAffineTransform(src, dst)


def original_pipeline(image_rgb, scale, keep_res, input_res=(512, 512), pad=31):
    """The original pre_process written from its rules (BGR image in, CHW float32 out) with the three-point
    affine; returns (chw, trans, c, s, input_hw)."""
    height, width = image_rgb.shape[:2]
    new_h, new_w = int(height * scale), int(width * scale)
    if keep_res:
        inp_h, inp_w = (new_h | pad) + 1, (new_w | pad) + 1
        center, source_width = (new_w // 2, new_h // 2), inp_w
    else:
        inp_h, inp_w = input_res
        center, source_width = (new_w / 2.0, new_h / 2.0), max(height, width)
    trans = three_point_affine(center, source_width, (inp_w, inp_h))
    resized = cv2.resize(np.ascontiguousarray(image_rgb[:, :, ::-1]), (new_w, new_h))
    warped = cv2.warpAffine(resized, trans, (inp_w, inp_h), flags=cv2.INTER_LINEAR)
    mean = np.array(COCO_MEAN_BGR, np.float32).reshape(1, 1, 3)
    std = np.array(COCO_STD_BGR, np.float32).reshape(1, 1, 3)
    chw = ((warped / 255.0 - mean) / std).astype(np.float32).transpose(2, 0, 1)
    return chw, trans, (inp_h, inp_w)


def _image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("center, source_width, output_wh", [
    ((200.0, 150.0), 400.0, (512, 512)),
    ((65, 48), 160, (160, 128)),
    ((200.5, 150.5), 401.0, (512, 384)),
    ((13.0, 250.5), 37.0, (128, 96)),
])
def test_closed_form_equals_three_point_construction(center, source_width, output_wh):
    expected = three_point_affine(center, source_width, output_wh)
    np.testing.assert_allclose(center_scale_affine(center, source_width, output_wh), expected, rtol=0, atol=1e-9)
    k = output_wh[0] / source_width  # uniform scale W / s_w on both axes, centre -> output centre
    np.testing.assert_allclose(expected[:, :2], [[k, 0], [0, k]], rtol=0, atol=1e-12)


@pytest.mark.parametrize("hw, scale, input_hw, affine", [
    # inp = (new | 31) + 1; c = (new_w // 2, new_h // 2); k = 1; shift = inp/2 - c; meta = shift + scale * x
    ((100, 150), 1.0, (128, 160), [[1, 0, 80 - 75], [0, 1, 64 - 50]]),
    ((97, 131), 1.0, (128, 160), [[1, 0, 80 - 65], [0, 1, 64 - 48]]),
    ((64, 96), 1.0, (96, 128), [[1, 0, 64 - 48], [0, 1, 48 - 32]]),  # exact multiples still grow by 32
    ((97, 131), 0.5, (64, 96), [[0.5, 0, 48 - 32], [0, 0.5, 32 - 24]]),  # new 48 x 65
    ((97, 131), 1.5, (160, 224), [[1.5, 0, 112 - 98], [0, 1.5, 80 - 72]]),  # new 145 x 196
])
def test_keep_res_geometry_by_hand(hw, scale, input_hw, affine):
    chw, meta = centernet_input(_image(*hw), scale=scale, keep_res=True)
    assert chw.shape == (3,) + input_hw and chw.dtype == np.float32
    assert meta.input_hw == input_hw and meta.orig_hw == hw
    np.testing.assert_allclose(meta.affine, affine, rtol=0, atol=1e-12)


@pytest.mark.parametrize("hw, scale, input_res, affine", [
    # k = W / max(h, w) of the ORIGINAL image; c = (new_w / 2, new_h / 2); meta = trans(scale * x)
    ((300, 400), 1.0, (512, 512), [[1.28, 0, 0], [0, 1.28, 64]]),
    ((300, 400), 0.5, (512, 512), [[0.64, 0, 256 - 128], [0, 0.64, 256 - 96]]),
    ((300, 400), 1.5, (512, 512), [[1.92, 0, 256 - 384], [0, 1.92, 256 - 288]]),
    ((301, 401), 1.0, (512, 512), [[512 / 401, 0, 0], [0, 512 / 401, 25600 / 401]]),
    ((300, 400), 1.0, (384, 512), [[1.28, 0, 0], [0, 1.28, 0]]),  # input_res is (height, width)
])
def test_fixed_res_geometry_by_hand(hw, scale, input_res, affine):
    chw, meta = centernet_input(_image(*hw), scale=scale, input_res=input_res)
    assert chw.shape == (3,) + tuple(input_res) and meta.input_hw == tuple(input_res)
    np.testing.assert_allclose(meta.affine, affine, rtol=0, atol=1e-12)


@pytest.mark.parametrize("hw", [(480, 640), (301, 401), (640, 359), (97, 131)])
@pytest.mark.parametrize("scale", [0.5, 1.0, 1.5])
@pytest.mark.parametrize("keep_res", [False, True])
def test_input_equals_original_pipeline(hw, scale, keep_res):
    # Exact: the same cv2 calls on the same pixels; the closed-form affine differs from the three-point one by
    # < 1e-13, far below warpAffine's 1/32-pixel fixed-point grid (measured: 0 differing values on all cases).
    image = _image(*hw, seed=hw[0])
    chw, meta = centernet_input(image, scale=scale, keep_res=keep_res)
    expected, trans, input_hw = original_pipeline(image, scale, keep_res)
    assert meta.input_hw == input_hw
    np.testing.assert_array_equal(chw, expected)
    np.testing.assert_allclose(input_geometry(hw, scale, keep_res)[2], trans, rtol=0, atol=1e-9)


def test_normalisation_is_bgr_mean_std_and_border_is_zero_pixels():
    image = np.empty((40, 60, 3), np.uint8)
    image[:] = (10, 200, 50)  # R, G, B
    chw, meta = centernet_input(image, keep_res=True)  # 64 x 64, image at x 2..61, y 12..51
    mean, std = np.array(COCO_MEAN_BGR, np.float32), np.array(COCO_STD_BGR, np.float32)
    bgr = np.array([50, 200, 10], np.float64)
    inside = ((bgr / 255.0 - mean) / std).astype(np.float32)
    border = ((0.0 - mean) / std).astype(np.float32)
    np.testing.assert_allclose(meta.affine, [[1, 0, 2], [0, 1, 12]])
    np.testing.assert_array_equal(chw[:, 30, 30], inside)
    np.testing.assert_array_equal(chw[:, 0, 0], border)
    np.testing.assert_array_equal(chw[:, 63, 63], border)


def test_a_dot_lands_where_the_affine_says_keep_res():
    image = np.zeros((97, 131, 3), np.uint8)
    image[40, 70] = 255  # (x 70, y 40)
    chw, meta = centernet_input(image, keep_res=True)
    x, y = meta.affine @ [70, 40, 1]
    rows, cols = np.nonzero(chw[0] > chw[0, 0, 0])
    assert list(zip(rows, cols)) == [(int(y), int(x))] and (x, y) == (85, 56)


@pytest.mark.parametrize("scale", [0.5, 0.75, 1.0, 1.5])
@pytest.mark.parametrize("keep_res", [False, True])
def test_a_blob_lands_where_the_affine_says(scale, keep_res):
    # A smooth blob's intensity centroid survives bilinear resampling (residual measured < 0.01 px). cv2.resize
    # maps x -> (x + 0.5) * scale - 0.5 (pixel centres); the original's convention (kept in meta) is x * scale,
    # so the blob is expected k * (scale - 1) / 2 input pixels away from meta(x0, y0), k = affine scale / scale.
    h, w, x0, y0 = 300, 400, 151.0, 97.0
    yy, xx = np.mgrid[0:h, 0:w]
    blob = np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * 5.0 ** 2))
    image = np.repeat(np.round(blob * 255).astype(np.uint8)[:, :, None], 3, axis=2)
    chw, meta = centernet_input(image, scale=scale, keep_res=keep_res)
    value = chw[0].astype(np.float64) * COCO_STD_BGR[0] + COCO_MEAN_BGR[0]  # back to 0..1 (blue channel)
    rows, cols = np.mgrid[0:value.shape[0], 0:value.shape[1]]
    centroid = np.array([(value * cols).sum(), (value * rows).sum()]) / value.sum()
    k = meta.affine[0, 0] / scale
    expected = meta.affine @ [x0, y0, 1] + k * (scale - 1) / 2
    np.testing.assert_allclose(centroid, expected, rtol=0, atol=0.03)


@pytest.mark.parametrize("hw, scale, keep_res", [((300, 400), 1.0, False), ((300, 400), 0.5, False),
                                                  ((97, 131), 1.5, True), ((480, 640), 0.75, True)])
def test_output_affine_inverse_equals_input_affine_inverse_times_down_ratio(hw, scale, keep_res):
    # The original maps decoded output points back with the inverse of the affine built for the OUTPUT size
    # (inp // 4), then divides by scale; one InputMeta does the same with points * 4.
    _, meta = centernet_input(_image(*hw), scale=scale, keep_res=keep_res)
    new_h, new_w = int(hw[0] * scale), int(hw[1] * scale)
    inp_h, inp_w = meta.input_hw
    if keep_res:
        center, source_width = (new_w // 2, new_h // 2), inp_w
    else:
        center, source_width = (new_w / 2.0, new_h / 2.0), max(hw)
    out_inverse = cv2.invertAffineTransform(three_point_affine(center, source_width, (inp_w // 4, inp_h // 4)))
    points = np.random.default_rng(1).uniform(-5, 140, (20, 2))
    original = (points @ out_inverse[:, :2].T + out_inverse[:, 2]) / scale
    np.testing.assert_allclose(invert_points(points * 4, meta), original, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"image_rgb": np.zeros((10, 10), np.uint8)}, "HxWx3"),
    ({"image_rgb": np.zeros((10, 10, 3), np.float32)}, "uint8"),
    ({"image_rgb": np.zeros((0, 10, 3), np.uint8)}, "empty"),
    ({"scale": 0.0}, "scale"),
    ({"scale": float("nan")}, "scale"),
    ({"scale": 0.01}, "shrinks"),
    ({"keep_res": True, "pad": 30}, "pad"),
    ({"input_res": (512,)}, "input_res"),
    ({"input_res": (0, 512)}, "input_res"),
    ({"std": (1.0, 0.0, 1.0)}, "std"),
    ({"mean": (0.4, 0.4)}, "mean"),
])
def test_bad_input_raises_one_line_value_error(kwargs, message):
    args = {"image_rgb": np.zeros((20, 30, 3), np.uint8)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message) as info:
        centernet_input(**args)
    assert "\n" not in str(info.value)


def test_keep_res_bound_equals_the_scale_that_fits_and_fixed_res_is_unbounded():
    """max_input_side: with keep_res the input side is (int(side * s) | 31) + 1, so a 512 px
    bound allows a scaled side of at most 511: the 1000 px side is tested at scale 511 / 1000 (hand-computed),
    exactly as if that scale had been asked for."""
    image = _image(600, 1000)
    chw, meta = centernet_input(image, keep_res=True, max_side=512)
    assert meta.input_hw == (320, 512)  # int(600 * 0.511) = 306 -> 320; int(1000 * 0.511) = 511 -> 512
    chw_at, meta_at = centernet_input(image, scale=511 / 1000, keep_res=True)
    np.testing.assert_array_equal(chw, chw_at)
    np.testing.assert_array_equal(meta.affine, meta_at.affine)
    small = _image(200, 300)
    np.testing.assert_array_equal(centernet_input(small, keep_res=True, max_side=512)[0],
                                  centernet_input(small, keep_res=True)[0])
    fixed, fixed_meta = centernet_input(image, keep_res=False, max_side=256)  # the 512x512 input is used as given
    assert fixed_meta.input_hw == (512, 512)
    np.testing.assert_array_equal(fixed, centernet_input(image, keep_res=False)[0])


def test_the_pose_model_bounds_its_original_size_input_lower_than_centerface():
    """predict.py --config_path configs/centernet_pose.yaml --keep_res True on a 10000x8000 photo: the pose model's
    own bound (1536 px: DLA-34 with DCN needs 0.76 GB + 1.95 GB per megapixel, CenterFace 0.25 GB) applies, not
    CenterFace's 4096 (which gave a 4096x3296 input: 26 GB by that line)."""
    from src.inference.passes import plan_passes
    from src.model_utils.config import parse_config
    from src.tasks import get_task

    config = Path(__file__).resolve().parents[2] / "configs" / "centernet_pose.yaml"
    pose_cfg = parse_config(["--config_path", str(config), "--keep_res", "True"], script="predict")
    face_cfg = parse_config([], script="predict")
    assert (pose_cfg.max_input_side, face_cfg.max_input_side) == (1536, 4096)
    task = get_task(pose_cfg)
    options = task.inference_options("predict")
    photo = np.zeros((8000, 10000, 3), np.uint8)
    _, meta = task.make_input(photo, plan_passes(options, task.flip_in_batch)[0], options)
    assert max(meta.input_hw) == 1536 and meta.input_hw == (1248, 1536)  # 8000 * 0.1535 = 1228 -> (1228 | 31) + 1
