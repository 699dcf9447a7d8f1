"""Tests for src/data/centernet_augment.py (with people's keypoints; without keypoints, as ctdet, at the end): the
affine against the original's three-point definition, window sampling rules over many draws, pixel/annotation
consistency (dots drawn at joints land on the returned joints), flip semantics, the colour transform against a
sequential reference, determinism and no global random state."""
import random

import cv2
import numpy as np
import pytest

from src.data.centernet_augment import CROP_SCALE_CHOICES, CenterNetAugment, crop_border
from src.data.centernet_augment import COCO_MEAN_BGR as POSE_MEAN_BGR
from src.data.centernet_augment import COCO_STD_BGR as POSE_STD_BGR
from src.data.affine import get_affine_transform
from src.data.augment import BRIGHTNESS, CONTRAST, PCA_EIGVAL, PCA_EIGVEC_BGR_ROWS, ColorParams
from src.data.keypoints import COCO_PERSON

NOSE, LEFT_SHOULDER, RIGHT_SHOULDER = 0, 5, 6


def PoseAugment(*args, **kwargs):  # noqa: N802 (the pose task's augmentation: COCO person flip pairs)
    return CenterNetAugment(*args, flip_pairs=COCO_PERSON.flip_pairs, **kwargs)


def affine_points(matrix, points):
    points = np.asarray(points, np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def three_point_affine(center, scale, rot_deg, out_w, out_h):
    """The original's definition: c -> output centre; c + R(rot)(0, -s/2) -> output centre + (0, -W/2); third
    points at +90 degrees of each pair; solved by OpenCV."""
    theta = np.deg2rad(rot_deg)
    src_dir = np.array([0.5 * scale * np.sin(theta), -0.5 * scale * np.cos(theta)])  # R(theta) @ (0, -s/2)
    dst_dir = np.array([0.0, -0.5 * out_w])
    src = [np.asarray(center, float), np.asarray(center, float) + src_dir]
    dst = [np.array([out_w / 2, out_h / 2]), np.array([out_w / 2, out_h / 2]) + dst_dir]
    for pts in (src, dst):
        d = pts[0] - pts[1]
        pts.append(pts[1] + np.array([-d[1], d[0]]))
    return cv2.getAffineTransform(np.float32(src), np.float32(dst))


@pytest.mark.parametrize("center, scale, rot, size", [((320, 240), 640, 0, (512, 512)),
                                                      ((100.5, 37), 333.3, 0, (128, 128)),
                                                      ((50, 60), 200, 30, (512, 512)),
                                                      ((10, 500), 900, -17.5, (96, 64))])
def test_affine_matches_three_point_definition(center, scale, rot, size):
    ours = get_affine_transform(center, scale, rot, size)
    # the reference goes through float32 points in cv2.getAffineTransform: ~1e-5 relative precision
    np.testing.assert_allclose(ours, three_point_affine(center, scale, rot, *size), rtol=1e-5, atol=2e-3)
    # a similarity: uniform scale W/s
    assert np.isclose(abs(np.linalg.det(ours[:, :2])), (size[0] / scale) ** 2)


def test_crop_border_hand_values():
    # 640 - 128 > 128 -> 128; 257 - 128 = 129 > 128 -> 128; 256 - 128 = 128 not > 128 -> 64; 200 -> 64;
    # 100 - 64 = 36 <= 64 -> 100 - 32 = 68 > 32 -> 32; 1 -> border 0 (range [0, 1)).
    assert [crop_border(v) for v in (640, 257, 256, 200, 100, 1)] == [128, 128, 64, 64, 32, 0]


def test_random_crop_window_rules():
    aug = PoseAugment()
    height, width = 300, 700
    flips = 0
    scales = set()
    for seed in range(400):
        t = aug.sample_transforms(height, width, np.random.default_rng(seed))
        ratio = t.scale / max(height, width)
        assert np.isclose(CROP_SCALE_CHOICES, ratio).any(), ratio
        scales.add(round(ratio, 6))
        cx = width - t.center[0] - 1 if t.flipped else t.center[0]
        assert cx == int(cx) and crop_border(width) <= cx < width - crop_border(width)
        assert t.center[1] == int(t.center[1]) and crop_border(height) <= t.center[1] < height - crop_border(height)
        assert t.rotation == 0.0
        flips += t.flipped
    assert len(scales) == 8 and min(scales) == 0.6 and max(scales) == 1.3
    assert 160 < flips < 240  # p = 0.5 over 400 draws: mean 200, std 10


def test_shift_scale_window_rules_and_rotation():
    aug = PoseAugment(rand_crop=False, scale=0.4, shift=0.1, aug_rot=1.0, rotate=10.0, flip_prob=0.0)
    height, width = 480, 640
    ratios, rotations = [], []
    for seed in range(300):
        t = aug.sample_transforms(height, width, np.random.default_rng(seed))
        # centre moves by at most 2 * shift * s0 (s0 = 640) per axis, before the scale changes
        assert abs(t.center[0] - width / 2) <= 0.2 * 640 + 1e-9 and abs(t.center[1] - height / 2) <= 0.2 * 640 + 1e-9
        ratios.append(t.scale / 640)
        rotations.append(t.rotation)
    assert min(ratios) >= 0.6 and max(ratios) <= 1.4 and min(ratios) == 0.6 and max(ratios) == 1.4  # clipped tails
    assert max(np.abs(rotations)) == 20.0 and len(set(rotations)) > 100
    no_rot = PoseAugment(rand_crop=False, aug_rot=0.0, rotate=10.0)
    assert all(no_rot.sample_transforms(100, 100, np.random.default_rng(s)).rotation == 0 for s in range(50))


def dot_scene(height, width, points, radius=4):
    """uint8 BGR image with a filled disc of 255 at each (x, y) of ``points`` in channel 0, 1, 2 respectively."""
    channels = []
    for x, y in points:
        plane = np.zeros((height, width), np.uint8)
        cv2.circle(plane, (int(x), int(y)), radius, 255, -1)
        channels.append(plane)
    return np.stack(channels, axis=-1)


@pytest.mark.parametrize("config", [dict(), dict(rand_crop=False), dict(aug_rot=1.0, rotate=25.0)])
def test_dots_land_on_returned_joints(config):
    """A joint drawn as a disc in the image: the warped disc's centroid is within 1 px of the returned joint."""
    aug = PoseAugment(color_aug=False, mean=(0, 0, 0), std=(1, 1, 1), **config)
    height, width = 360, 480
    checked = flipped = 0
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        joints = {NOSE: (240, 100), LEFT_SHOULDER: (280, 160), RIGHT_SHOULDER: (200, 170)}
        jitter = rng.integers(-60, 60, size=2)
        joints = {j: (x + jitter[0], y + jitter[1]) for j, (x, y) in joints.items()}
        image = dot_scene(height, width, [joints[NOSE], joints[LEFT_SHOULDER], joints[RIGHT_SHOULDER]])
        kps = np.zeros((1, 17, 3))
        for j, xy in joints.items():
            kps[0, j] = (*xy, 2)
        box = np.array([[150, 60, 330, 300]], float)
        out, boxes, out_kps, t = aug(image, box, kps, rng)
        flipped += t.flipped
        assert out.shape == (3, 512, 512) and out.dtype == np.float32
        # joints in output pixels are the input-pixel joints / 4 (same centre and scale, output 128); slot i holds
        # joint flip_order[i] after a flip
        source = kps[0, list(COCO_PERSON.flip_order)] if t.flipped else kps[0]
        np.testing.assert_allclose(out_kps[0, :, :2] * 4, affine_points(t.input_affine, source[:, :2]), atol=1e-3)
        for channel, joint in enumerate((NOSE, LEFT_SHOULDER, RIGHT_SHOULDER)):
            slot = COCO_PERSON.flip_order[joint] if t.flipped else joint  # the slot the drawn joint moved to
            assert out_kps[0, slot, 2] == 2
            expected = out_kps[0, slot, :2] * 4
            if not (12 <= expected[0] < 500 and 12 <= expected[1] < 500):
                continue  # disc cut by the window border: centroid meaningless
            mass = out[channel]
            ys, xs = np.mgrid[0:512, 0:512]
            centroid = np.array([(mass * xs).sum(), (mass * ys).sum()]) / mass.sum()
            assert np.abs(centroid - expected).max() < 1.0, (seed, joint, centroid, expected)
            checked += 1
    assert checked >= 20 and 0 < flipped < 12


def test_flip_swaps_pairs_and_mirrors_boxes_like_the_original():
    aug = PoseAugment(flip_prob=1.0, color_aug=False)
    height, width = 200, 300
    rng = np.random.default_rng(0)
    kps = np.concatenate([rng.uniform(0, 200, size=(2, 17, 2)), rng.integers(0, 3, size=(2, 17, 1))], axis=2)
    boxes = np.array([[10, 20, 110, 180], [150.5, 5, 290, 90]])
    image = np.zeros((height, width, 3), np.uint8)
    _, out_boxes, out_kps, t = aug(image, boxes, kps, np.random.default_rng(1))
    assert t.flipped
    # the original: mirror in the image (x -> W - x - 1, box x1' = W - x2 - 1), swap pairs, then the unflipped
    # output affine of the (mirrored) centre
    unflipped = get_affine_transform(t.center, t.scale, 0, (128, 128))
    mirrored_boxes = np.stack([width - boxes[:, 2] - 1, boxes[:, 1], width - boxes[:, 0] - 1, boxes[:, 3]], 1)
    expected_boxes = np.concatenate([affine_points(unflipped, mirrored_boxes[:, :2]),
                                     affine_points(unflipped, mirrored_boxes[:, 2:])], 1)
    np.testing.assert_allclose(out_boxes, expected_boxes, atol=1e-4)
    mirrored = kps.copy()
    mirrored[..., 0] = width - kps[..., 0] - 1
    for left, right in COCO_PERSON.flip_pairs:
        mirrored[:, [left, right]] = mirrored[:, [right, left]]
    np.testing.assert_allclose(out_kps[..., :2], affine_points(unflipped, mirrored[..., :2]), atol=1e-4)
    np.testing.assert_array_equal(out_kps[..., 2], mirrored[..., 2])
    assert out_kps[0, 5, 2] == kps[0, 6, 2] and out_kps[0, 0, 2] == kps[0, 0, 2]
    # same draws without the flip (the flip coin is one uniform either way): centre x -> W - x - 1, and every
    # output x becomes 128 - x (the original's mirror in index convention is not symmetric about the map centre)
    plain = PoseAugment(flip_prob=0.0, color_aug=False)
    _, plain_boxes, plain_kps, plain_t = plain(image, boxes, kps, np.random.default_rng(1))
    assert not plain_t.flipped and plain_t.scale == t.scale
    np.testing.assert_array_equal(t.center, [width - plain_t.center[0] - 1, plain_t.center[1]])
    np.testing.assert_allclose(out_kps[:, list(COCO_PERSON.flip_order), 0], 128 - plain_kps[..., 0], atol=1e-4)
    np.testing.assert_allclose(out_boxes[:, [2, 0]], 128 - plain_boxes[:, [0, 2]], atol=1e-4)


def test_composed_flip_equals_warping_the_mirrored_image():
    """The flip is composed into the affine; warping the mirrored image (the original) gives the same pixels up to
    OpenCV's 1/32 px fixed-point positions: <= 1 grey level on a smooth image away from the image border."""
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur((rng.random((300, 420, 3)) * 255).astype(np.uint8), (0, 0), 3)
    aug = PoseAugment(color_aug=False, mean=(0, 0, 0), std=(1, 1, 1), flip_prob=1.0)
    for seed in range(3):
        out, _, _, t = aug(image, np.zeros((0, 4)), np.zeros((0, 17, 3)), np.random.default_rng(seed))
        original = cv2.warpAffine(np.ascontiguousarray(image[:, ::-1]), get_affine_transform(t.center, t.scale, 0,
                                                                                             (512, 512)),
                                  (512, 512), flags=cv2.INTER_LINEAR)
        ys, xs = np.mgrid[0:512, 0:512]
        src = affine_points(cv2.invertAffineTransform(t.input_affine), np.stack([xs, ys], -1))
        interior = (src[..., 0] > 1) & (src[..., 0] < 418) & (src[..., 1] > 1) & (src[..., 1] < 298)
        diff = np.abs(out.transpose(1, 2, 0) * 255 - original).max(axis=2)
        assert interior.sum() > 50000 and diff[interior].max() <= 1.0 + 1e-3


def reference_color(image01, order, factors_in_order, lighting):
    """The original's colour_aug semantics, step by step on a float64 copy: gray image and its mean computed once
    before the ops, no clipping in between, lighting added last."""
    img = image01.astype(np.float64).copy()
    gray = cv2.cvtColor(image01.astype(np.float32), cv2.COLOR_BGR2GRAY).astype(np.float64)  # the original's gray
    gray_mean = gray.mean()
    for op, alpha in zip(order, factors_in_order):
        if op == BRIGHTNESS:
            img = img * alpha
        elif op == CONTRAST:
            img = img * alpha + (1 - alpha) * gray_mean
        else:
            img = img * alpha + (1 - alpha) * gray[..., None]
    return img + PCA_EIGVEC_BGR_ROWS @ (PCA_EIGVAL * lighting)


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)])
def test_color_transform_matches_sequential_reference(order):
    rng = np.random.default_rng(sum(order) * 10 + order[0])
    warped = (rng.random((40, 30, 3)) * 255).astype(np.uint8)
    factors = np.zeros(3)
    factors[list(order)] = [1.35, 0.7, 1.2]
    params = ColorParams(order, factors, np.array([0.1, -0.2, 0.05]))
    aug = PoseAugment()
    got = aug.normalize(warped, params)
    expected = reference_color(warped / 255.0, order, [1.35, 0.7, 1.2], params.lighting)
    expected = ((expected - np.array(POSE_MEAN_BGR)) / np.array(POSE_STD_BGR)).transpose(2, 0, 1)
    # float32 single pass vs float64 steps: values ~|5|, 1e-5 absolute covers float32 rounding
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_normalize_without_color_and_sampled_color_ranges():
    rng = np.random.default_rng(4)
    warped = (rng.random((16, 24, 3)) * 255).astype(np.uint8)
    got = PoseAugment(color_aug=False).normalize(warped, None)
    expected = ((warped / 255.0 - np.array(POSE_MEAN_BGR)) / np.array(POSE_STD_BGR)).transpose(2, 0, 1)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert got.flags["C_CONTIGUOUS"] and got.dtype == np.float32
    aug = PoseAugment()
    orders = set()
    for seed in range(200):
        params = aug.sample_color(np.random.default_rng(seed))
        orders.add(params.order)
        assert sorted(params.order) == [0, 1, 2] and np.all(np.abs(params.factors - 1) <= 0.4)
        assert params.lighting.shape == (3,) and np.all(np.abs(params.lighting) < 0.6)
    assert len(orders) == 6


def test_deterministic_per_generator_and_no_global_random_state():
    rng = np.random.default_rng(0)
    image = (rng.random((240, 320, 3)) * 255).astype(np.uint8)
    kps = np.concatenate([rng.uniform(0, 240, size=(3, 17, 2)), np.full((3, 17, 1), 2.0)], axis=2)
    boxes = np.array([[10, 10, 100, 200], [50, 20, 300, 230], [0, 0, 30, 30]], float)
    aug = PoseAugment()
    np.random.seed(123)
    random.seed(123)
    numpy_state, python_state = np.random.get_state(), random.getstate()
    first = aug(image, boxes, kps, np.random.default_rng(7))
    second = aug(image, boxes, kps, np.random.default_rng(7))
    other = aug(image, boxes, kps, np.random.default_rng(8))
    for a, b in zip(first[:3], second[:3]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    after = np.random.get_state()
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1]) and after[2] == numpy_state[2]
    assert random.getstate() == python_state


def test_output_shapes_and_empty_annotations():
    aug = PoseAugment(input_res=(256, 384), output_res=(64, 96))
    image = np.zeros((100, 150, 3), np.uint8)
    out, boxes, kps, t = aug(image, np.zeros((0, 4)), np.zeros((0, 17, 3)), np.random.default_rng(0))
    assert out.shape == (3, 256, 384) and boxes.shape == (0, 4) and kps.shape == (0, 17, 3)
    np.testing.assert_allclose(t.output_affine, t.input_affine / 4)


@pytest.mark.parametrize("image, boxes, kps, rng, match", [
    (np.zeros((10, 10, 3), np.float32), np.zeros((0, 4)), np.zeros((0, 17, 3)), np.random.default_rng(0), "uint8"),
    (np.zeros((10, 10), np.uint8), np.zeros((0, 4)), np.zeros((0, 17, 3)), np.random.default_rng(0), "HxWx3"),
    (np.zeros((10, 10, 3), np.uint8), np.zeros((2, 4)), np.zeros((1, 17, 3)), np.random.default_rng(0),
     r"keypoints must have shape \(2, J, 3\)"),
    (np.zeros((10, 10, 3), np.uint8), np.zeros((1, 3)), np.zeros((1, 17, 3)), np.random.default_rng(0), "boxes"),
    (np.zeros((10, 10, 3), np.uint8), np.zeros((1, 4)), np.zeros((1, 5, 3)), np.random.default_rng(0), "flip pair"),
    (np.zeros((10, 10, 3), np.uint8), np.zeros((0, 4)), np.zeros((0, 17, 3)), np.random.RandomState(0), "Generator"),
])
def test_bad_input(image, boxes, kps, rng, match):
    with pytest.raises(ValueError, match=match):
        PoseAugment()(image, boxes, kps, rng)


def test_bad_arguments():
    with pytest.raises(ValueError, match="aspect ratio"):
        PoseAugment(input_res=(512, 512), output_res=(128, 64))
    with pytest.raises(ValueError, match="std"):
        PoseAugment(std=(0.1, 0.0, 0.2))


# ---------------------------------------------------------------- without keypoints (object detection)

def test_without_keypoints_the_draws_image_and_boxes_are_those_with_keypoints(coco_mini_dir):
    """ctdet calls the augmentation without keypoints: the same random draws, so the same window, flip, colours
    and boxes as a call with keypoints."""
    image = cv2.imread(str(coco_mini_dir / "000000000785.jpg"))
    boxes = np.array([[10.5, 20.0, 200.25, 300.0], [300.0, 50.0, 420.0, 200.5]])
    keypoints = np.zeros((2, 17, 3))
    aug = CenterNetAugment()
    for seed in range(6):
        with_kps = aug(image, boxes, keypoints, np.random.default_rng(seed))
        without = aug(image, boxes, None, np.random.default_rng(seed))
        assert without[2] is None
        np.testing.assert_array_equal(without[0], with_kps[0])
        np.testing.assert_array_equal(without[1], with_kps[1])
        np.testing.assert_array_equal(without[3].output_affine, with_kps[3].output_affine)


def test_flipped_boxes_follow_the_original_ctdet_rule():
    """The original mirrors a box as [W - x2 - 1, y1, W - x1 - 1, y2] in the mirrored image, then maps both corners
    with get_affine_transform(c, s, 0, output) (c in mirrored coordinates): the same numbers."""
    image = np.zeros((300, 500, 3), np.uint8)
    boxes = np.array([[10.0, 20.0, 110.0, 220.0], [300.5, 0.0, 499.0, 150.25]])
    aug = CenterNetAugment(flip_prob=1.0, color_aug=False)
    for seed in range(5):
        _, out_boxes, _, t = aug(image, boxes, None, np.random.default_rng(seed))
        assert t.flipped
        matrix = get_affine_transform(t.center, t.scale, 0, (128, 128))
        mirrored = boxes.copy()
        mirrored[:, [0, 2]] = 500 - boxes[:, [2, 0]] - 1
        expected = np.concatenate([affine_points(matrix, mirrored[:, :2]), affine_points(matrix, mirrored[:, 2:])], 1)
        np.testing.assert_allclose(out_boxes, expected, rtol=1e-6, atol=1e-4)
