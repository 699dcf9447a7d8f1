"""Tests for src/centerface/augment.py: geometry properties over many random draws (anchor sampling, crops,
flips), determinism, bad input."""
import numpy as np
import pytest

from src.centerface.augment import TrainAugment
from src.data.augment import apply_affine

# float32 outputs of coordinates up to ~1000 px carry ~1e-4 px rounding; 1e-3 px leaves margin.
COORD_TOL = 1e-3


def random_scene(rng, max_faces=8):
    """Random image size, boxes (some partly outside the image) and landmarks inside their boxes."""
    height, width = int(rng.integers(80, 700)), int(rng.integers(80, 700))
    num = int(rng.integers(0, max_faces + 1))
    size = np.exp(rng.uniform(np.log(3), np.log(0.8 * min(height, width)), size=num))
    aspect = rng.uniform(0.6, 1.6, size=num)
    w, h = size * np.sqrt(aspect), size / np.sqrt(aspect)
    x1 = rng.uniform(-0.2 * w, width - 0.8 * w)
    y1 = rng.uniform(-0.2 * h, height - 0.8 * h)
    boxes = np.stack([x1, y1, x1 + w, y1 + h], axis=1)
    frac = rng.uniform(0, 1, size=(num, 5, 2))
    landmarks = boxes[:, None, :2] + frac * np.stack([w, h], axis=1)[:, None, :]
    valid = rng.random((num, 5)) < 0.8
    return height, width, boxes.reshape(-1, 4), landmarks.reshape(-1, 5, 2), valid.reshape(-1, 5)


def expected_kept(matrix, boxes, out_size, min_box_size):
    """Independent prediction of the kept faces and their output boxes from the sampled affine."""
    out_h, out_w = out_size
    xs = matrix[0, 0] * boxes[:, [0, 2]] + matrix[0, 2]
    ys = matrix[1, 1] * boxes[:, [1, 3]] + matrix[1, 2]
    mapped = np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], axis=1)
    cx, cy = mapped[:, [0, 2]].mean(1), mapped[:, [1, 3]].mean(1)
    clipped = np.stack([np.clip(mapped[:, 0], 0, out_w), np.clip(mapped[:, 1], 0, out_h),
                        np.clip(mapped[:, 2], 0, out_w), np.clip(mapped[:, 3], 0, out_h)], axis=1)
    keep = (cx >= 0) & (cx < out_w) & (cy >= 0) & (cy < out_h)
    keep &= (clipped[:, 2] - clipped[:, 0] >= min_box_size) & (clipped[:, 3] - clipped[:, 1] >= min_box_size)
    return np.flatnonzero(keep), clipped[keep]


@pytest.fixture(scope="module")
def small_aug():
    # small output keeps 300 draws quick; anchor sampling on half of them, flips on half
    return TrainAugment(input_size=(96, 128), color_jitter=0.4, lighting_std=0.1)


def test_geometry_properties_over_random_draws(small_aug):
    """Kept faces = exactly those whose centre lands inside the output (and big enough); boxes match
    the affine; valid landmarks stay inside their clipped box; landmarks moved out of the image are
    invalid and the others keep their validity (with flip swaps applied)."""
    rng = np.random.default_rng(1)
    out_h, out_w = small_aug.input_size
    paths = {True: 0, False: 0}
    for trial in range(300):
        height, width, boxes, landmarks, valid = random_scene(rng)
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        seed = int(rng.integers(2 ** 31))
        geometry = small_aug.sample_geometry(height, width, boxes, np.random.default_rng(seed))
        paths[geometry.anchor_sampled] += 1
        out_img, out_boxes, out_lms, out_valid = small_aug(image, boxes, landmarks, valid,
                                                          np.random.default_rng(seed))
        assert out_img.shape == (out_h, out_w, 3) and out_img.dtype == np.float32
        kept, boxes_pred = expected_kept(geometry.matrix, boxes, (out_h, out_w), small_aug.min_box_size)
        assert len(out_boxes) == len(kept), f"trial {trial}"
        np.testing.assert_allclose(out_boxes, boxes_pred, atol=COORD_TOL)
        # landmarks: same affine; flip swaps (0,1),(3,4)
        lm_pred = apply_affine(geometry.matrix, landmarks[kept])
        valid_pred = valid[kept].copy()
        if geometry.flipped:
            lm_pred = lm_pred[:, [1, 0, 2, 4, 3]]
            valid_pred = valid_pred[:, [1, 0, 2, 4, 3]]
        in_image = ((lm_pred[..., 0] >= 0) & (lm_pred[..., 0] <= out_w)
                    & (lm_pred[..., 1] >= 0) & (lm_pred[..., 1] <= out_h))
        np.testing.assert_array_equal(out_valid, valid_pred & in_image)
        np.testing.assert_allclose(out_lms, lm_pred, atol=COORD_TOL)
        x, y = out_lms[..., 0], out_lms[..., 1]
        b = out_boxes[:, None, :]
        inside_box = ((x >= b[..., 0] - COORD_TOL) & (x <= b[..., 2] + COORD_TOL)
                      & (y >= b[..., 1] - COORD_TOL) & (y <= b[..., 3] + COORD_TOL))
        assert np.all(inside_box[out_valid]), f"trial {trial}: valid landmark outside its box"
    assert min(paths.values()) > 100, paths  # both anchor sampling and random crops were exercised


def test_flip_swaps_eyes_and_mouth_corners():
    aug = TrainAugment(input_size=128, anchor_prob=0.0, flip_prob=1.0, crop_scale=(1.0, 1.0))
    image = np.zeros((128, 128, 3), np.uint8)
    box = np.array([[30.0, 20.0, 90.0, 100.0]])
    # frontal face: left eye / left mouth corner have the smaller x
    lms = np.array([[[45, 45], [75, 45], [60, 60], [48, 80], [72, 80]]], float)
    valid = np.array([[True, False, True, True, True]])
    _, out_box, out_lms, out_valid = aug(image, box, lms, valid, np.random.default_rng(0))
    np.testing.assert_allclose(out_box, [[128 - 90, 20, 128 - 30, 100]], atol=COORD_TOL)
    # still "left = smaller x": eyes and mouth corners were swapped back into order
    assert out_lms[0, 0, 0] < out_lms[0, 1, 0] and out_lms[0, 3, 0] < out_lms[0, 4, 0]
    np.testing.assert_allclose(out_lms[0, :, 0], 128 - lms[0, [1, 0, 2, 4, 3], 0], atol=COORD_TOL)
    np.testing.assert_allclose(out_lms[0, :, 1], lms[0, [1, 0, 2, 4, 3], 1], atol=COORD_TOL)
    # the annotated (valid) left eye moved to the right: it is now landmark 1
    np.testing.assert_array_equal(out_valid, [[False, True, True, True, True]])


def test_random_crop_stays_inside_image():
    """Random-crop path (border policy): the window never leaves the image, so no padding appears."""
    aug = TrainAugment(input_size=64, anchor_prob=0.0, color_jitter=0.0, lighting_std=0.0)
    rng = np.random.default_rng(3)
    for _ in range(50):
        h, w = int(rng.integers(40, 300)), int(rng.integers(40, 300))
        image = np.full((h, w, 3), 200, np.uint8)
        out, *_ = aug(image, np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros((0, 5), bool), rng)
        np.testing.assert_allclose(out, 200.0, atol=1e-3)


def test_data_anchor_sampling_scales_face_to_anchor_range():
    """With anchor sampling always on, the chosen (only) face is kept and its size lies in
    [anchor/2, 2*anchor] for an anchor no larger than one step above the face's nearest anchor."""
    aug = TrainAugment(input_size=512, anchor_prob=1.0, flip_prob=0.0, min_box_size=0.0)
    rng = np.random.default_rng(4)
    anchors = np.array([16, 32, 64, 128, 256, 512])
    sizes = []
    for _ in range(200):
        side = float(rng.uniform(5, 300))
        x1, y1 = rng.uniform(0, 900 - side), rng.uniform(0, 700 - side)
        box = np.array([[x1, y1, x1 + side, y1 + side]])
        geometry = aug.sample_geometry(700, 900, box, rng)
        assert geometry.anchor_sampled
        kept, out_box = expected_kept(geometry.matrix, box, (512, 512), 0.0)
        assert list(kept) == [0]
        out_side = side * geometry.matrix[0, 0]
        top_anchor = anchors[min(int(np.argmin(np.abs(anchors - side))) + 1, 5)]
        assert 8.0 - 1e-9 <= out_side <= 2 * top_anchor + 1e-9
        if out_side <= 512:  # a face that fits the window is entirely inside it
            np.testing.assert_allclose(out_box[0], apply_affine(geometry.matrix, box.reshape(2, 2)).ravel(),
                                       atol=1e-6)
        sizes.append(out_side)
    assert np.min(sizes) < 16 and np.max(sizes) > 128  # the range is actually covered


def test_one_rng_gives_different_jitter_and_same_seed_is_identical():
    aug = TrainAugment(input_size=64, anchor_prob=0.0, crop_scale=(1.0, 1.0), flip_prob=0.0)
    image = np.random.default_rng(99).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    rng = np.random.default_rng(6)
    boxes = np.array([[10.0, 12.0, 40.0, 50.0]])
    lms = np.full((1, 5, 2), 25.0)
    valid = np.ones((1, 5), bool)
    first = aug(image, boxes, lms, valid, rng)
    second = aug(image, boxes, lms, valid, rng)
    # the geometry is the identity here, so any difference is the colour jitter
    np.testing.assert_allclose(first[1], second[1])
    assert np.abs(first[0] - second[0]).mean() > 1.0
    again = aug(image, boxes, lms, valid, np.random.default_rng(6))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_bad_input_is_rejected_with_clear_message():
    aug = TrainAugment(input_size=64)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="uint8"):
        aug(np.zeros((10, 10, 3), np.float32), np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros((0, 5)), rng)
    with pytest.raises(ValueError, match=r"landmarks must have shape \(1, 5, 2\)"):
        aug(np.zeros((10, 10, 3), np.uint8), np.zeros((1, 4)), np.zeros((1, 4, 2)), np.zeros((1, 5)), rng)
