"""Tests for src/centernet_pose/targets.py: hand-computed cases of every rule of docs/centernet.md "Training data and
targets" and properties.

Expected Gaussians are built in the tests from the formula exp(-(dx^2 + dy^2) / (2 sigma^2)), sigma = (2r+1)/6, on
the (2r+1)^2 window (not with src/data/gaussian.py); radii are worked out by hand in comments. Values are float32:
exact equality where the computation is exact (integers, peaks, copies), else rtol 1e-6.
"""
import json
import math

import cv2
import numpy as np
import pytest

from src.centernet_pose.targets import DENSE_TARGET_KEYS, TARGET_KEYS, PoseTargets
from src.data.centernet_augment import CenterNetAugment
from src.data.gaussian import gaussian_radius, legacy_gaussian_radius
from src.data.keypoints import COCO_PERSON
from tests.target_reference import gaussian_map

H, W = 32, 40  # non-square on purpose: ind = row * W + col
J = 17


def person(box, joints=()):
    """box xyxy and a (17,3) joint array with the given (index, x, y, v) entries (all others v=0 at (0,0))."""
    kps = np.zeros((J, 3), np.float32)
    for j, x, y, v in joints:
        kps[j] = (x, y, v)
    return np.asarray(box, np.float32), kps


def run(people, **kwargs):
    kwargs.setdefault("output_res", (H, W))
    kwargs.setdefault("max_objs", 4)
    targets = PoseTargets(**kwargs)
    boxes = np.stack([b for b, _ in people]) if people else np.zeros((0, 4), np.float32)
    kps = np.stack([k for _, k in people]) if people else np.zeros((0, J, 3), np.float32)
    return targets(boxes, kps)


def test_radius_hand_values():
    # ceil(13.7)=14, ceil(10.6)=11: legacy case 3 with a=2.8, b=2*0.7*25=35, c=-0.3*154=-46.2:
    # (-35 + sqrt(35^2 + 4*2.8*46.2)) / 2 = (-35 + 41.742) / 2 = 3.371 -> 3.
    assert int(legacy_gaussian_radius(14, 11, 0.7)) == 3
    # 4x4 box: a=2.8, b=11.2, c=-4.8 -> (-11.2 + sqrt(179.2)) / 2 = 1.093 -> 1; 3x3 box -> 0.82 -> 0.
    assert int(legacy_gaussian_radius(4, 4, 0.7)) == 1
    assert int(legacy_gaussian_radius(3, 3, 0.7)) == 0
    assert PoseTargets(radius="legacy").radius_for(13.7, 10.6) == 3
    assert PoseTargets(radius="cornernet").radius_for(13.7, 10.6) == int(gaussian_radius(14, 11, 0.7))


def test_single_person_every_field():
    # box -> h = 13.7, w = 10.6, r = 3 (test above); centre (9.5, 13.45) -> cell (col 9, row 13), ind 13*40+9 = 529.
    # joint 0 (10.25, 8.5) v=2 -> hps (1.25, -4.5), offset (0.25, 0.5), cell (row 8, col 10), hp_ind 330
    # joint 5 (6.0, 18.75) v=1 -> hps (-3.0, 5.75), offset (0, 0.75), cell (row 18, col 6), hp_ind 726
    # joint 6 v=0 ignored; joint 7 at x=45 >= W ignored.
    box, kps = person([4.2, 6.6, 14.8, 20.3], [(0, 10.25, 8.5, 2), (5, 6.0, 18.75, 1), (6, 7, 7, 0), (7, 45, 10, 2)])
    out = run([(box, kps)])
    assert tuple(out) == TARGET_KEYS
    np.testing.assert_allclose(out["wh"][0], [10.6, 13.7], rtol=1e-6)
    assert out["ind"][0] == 529 and out["ind"].dtype == np.int32
    np.testing.assert_allclose(out["reg"][0], [0.5, 0.45], rtol=1e-5)
    assert out["reg_mask"].tolist() == [1, 0, 0, 0]
    expected_hps = np.zeros(2 * J, np.float32)
    expected_hps[0:2] = (1.25, -4.5)
    expected_hps[10:12] = (-3.0, 5.75)
    np.testing.assert_array_equal(out["hps"][0], expected_hps)
    assert np.flatnonzero(out["hps_mask"][0]).tolist() == [0, 1, 10, 11]
    assert np.flatnonzero(out["hp_mask"]).tolist() == [0, 5]
    np.testing.assert_array_equal(out["hp_offset"][[0, 5]], [[0.25, 0.5], [0.0, 0.75]])
    assert out["hp_ind"][[0, 5]].tolist() == [330, 726] and out["hp_ind"].dtype == np.int32
    np.testing.assert_allclose(out["hm"][0], gaussian_map(H, W, 13, 9, 3), rtol=1e-6, atol=0)
    assert out["hm"][0, 13, 9] == 1.0
    np.testing.assert_allclose(out["hm_hp"][0], gaussian_map(H, W, 8, 10, 3), rtol=1e-6)
    np.testing.assert_allclose(out["hm_hp"][5], gaussian_map(H, W, 18, 6, 3), rtol=1e-6)
    others = np.delete(out["hm_hp"], [0, 5], axis=0)
    assert not others.any()
    # unused slots stay zero
    for key in ("wh", "reg", "hps", "hps_mask"):
        assert not out[key][1:].any()
    assert not out["hp_mask"][J:].any() and not out["hp_ind"][J:].any()


def test_two_overlapping_persons_max_merge_and_slots():
    # A: r = 3 at (row 13, col 9) as above. B: box 8 x 7 at [9, 10, 17, 17]: ceil -> 7 x 8:
    # a=2.8, b=2*0.7*15=21, c=-0.3*56=-16.8 -> (-21 + sqrt(441 + 188.16)) / 2 = 2.04 -> r = 2; centre (13, 13.5).
    a = person([4.2, 6.6, 14.8, 20.3], [(0, 10.25, 8.5, 2)])
    b = person([9, 10, 17, 17], [(0, 11.5, 9.25, 2)])
    out = run([a, b])
    expected = np.maximum(gaussian_map(H, W, 13, 9, 3), gaussian_map(H, W, 13, 13, 2))
    np.testing.assert_allclose(out["hm"][0], expected, rtol=1e-6)
    assert out["ind"][:2].tolist() == [13 * W + 9, 13 * W + 13]
    np.testing.assert_allclose(out["reg"][1], [0.0, 0.5])
    # both joints 0 fall in neighbouring cells (row 8, col 10) and (row 9, col 11): max-merged on hm_hp[0]
    np.testing.assert_allclose(out["hm_hp"][0], np.maximum(gaussian_map(H, W, 8, 10, 3), gaussian_map(H, W, 9, 11, 2)),
                               rtol=1e-6)
    assert out["hp_ind"][[0, J]].tolist() == [8 * W + 10, 9 * W + 11]
    np.testing.assert_allclose(out["hps"][1, :2], [11.5 - 13, 9.25 - 13])
    # order of persons changes the slots, never the heatmaps
    swapped = run([b, a])
    np.testing.assert_array_equal(swapped["hm"], out["hm"])
    np.testing.assert_array_equal(swapped["hm_hp"], out["hm_hp"])
    assert swapped["ind"][:2].tolist() == out["ind"][[1, 0]].tolist()


def test_person_partly_outside_is_clipped_and_fully_outside_skipped():
    # [-5, -3, 10, 8] -> [0, 0, 10, 8]: w 10, h 8, centre (5, 4); its joint at x=-0.5 is outside.
    # [30, 25, 50, 40] -> [30, 25, 39, 31]: w 9, h 6, centre (34.5, 28).
    # [50, 1, 60, 5] -> x1 = x2 = 39: w 0, skipped (slot 2 stays empty, no peak).
    left = person([-5, -3, 10, 8], [(0, -0.5, 3, 2), (1, 2.5, 2.5, 2)])
    right = person([30, 25, 50, 40], [(3, 41, 30, 2)])
    gone = person([50, 1, 60, 5], [(0, 39.5, 3, 2)])
    out = run([left, right, gone])
    np.testing.assert_array_equal(out["wh"][:3], [[10, 8], [9, 6], [0, 0]])
    assert out["ind"][:3].tolist() == [4 * W + 5, 28 * W + 34, 0]
    np.testing.assert_array_equal(out["reg"][:3], [[0, 0], [0.5, 0], [0, 0]])
    assert out["reg_mask"].tolist() == [1, 1, 0, 0]
    # left person: joint 0 outside -> unmasked; joint 1 kept
    assert out["hps_mask"][0].tolist() == [0, 0, 1, 1] + [0] * (2 * J - 4)
    np.testing.assert_array_equal(out["hps"][0, 2:4], [2.5 - 5, 2.5 - 4])
    # right person: its only labelled joint is outside (x=41 >= 40) -> no joint targets, but reg_mask stays 1
    assert not out["hps_mask"][1].any() and not out["hp_mask"][J:2 * J].any()
    # the skipped person draws nothing: only two peaks of value 1
    assert np.argwhere(out["hm"][0] == 1.0).tolist() == [[4, 5], [28, 34]]
    assert not out["hp_mask"][2 * J:].any() and out["hm_hp"][0].max() == 0.0


def test_person_without_labelled_joints_keeps_peak_but_no_regression():
    # xingyizhou/CenterNet issue #957: the centre stays a heatmap positive, reg_mask 0; wh/ind/reg are still written.
    box, kps = person([4, 4, 12, 10], [(0, 6, 6, 0), (3, 8, 8, 0)])
    out = run([(box, kps)])
    assert out["reg_mask"][0] == 0.0
    assert out["hm"][0, 7, 8] == 1.0 and out["ind"][0] == 7 * W + 8
    np.testing.assert_array_equal(out["wh"][0], [8, 6])
    assert not out["hps_mask"].any() and not out["hp_mask"].any() and not out["hm_hp"].any()


def test_joint_on_the_border():
    # x = 39.999 < W is inside (cell 39, Gaussian cut at the right edge); x = 40.0 and y = -0.001 are outside;
    # (0, 0) exactly is inside with offset 0.
    box = [20, 4, 40, 28]  # clipped to [20, 4, 39, 28]: w 19, h 24 -> r = int(legacy(24, 19))
    radius = int(legacy_gaussian_radius(24, 19, 0.7))
    kps_in = person(box, [(0, 39.999, 10.5, 2), (1, 40.0, 10.0, 2), (2, 5.0, -0.001, 2), (3, 0.0, 0.0, 2)])
    out = run([kps_in])
    assert out["hp_mask"][:4].tolist() == [1, 0, 0, 1]
    assert out["hp_ind"][0] == 10 * W + 39 and out["hp_ind"][3] == 0
    np.testing.assert_allclose(out["hp_offset"][0], [np.float32(39.999) - 39, 0.5], rtol=1e-6)
    np.testing.assert_array_equal(out["hp_offset"][3], [0, 0])
    np.testing.assert_allclose(out["hm_hp"][0], gaussian_map(H, W, 10, 39, radius), rtol=1e-6)
    np.testing.assert_allclose(out["hm_hp"][3], gaussian_map(H, W, 0, 0, radius), rtol=1e-6)
    assert not out["hm_hp"][1].any() and not out["hm_hp"][2].any()


def test_only_first_max_objs_persons_are_used():
    people = [person([2 + 8 * i, 2, 8 + 8 * i, 9], [(0, 4 + 8 * i, 5, 2)]) for i in range(3)]
    out = run(people, max_objs=2)
    assert out["reg_mask"].tolist() == [1, 1]
    assert len(np.argwhere(out["hm"][0] == 1.0)) == 2 and out["hm"][0, 5, 21] == 0.0
    assert out["hp_mask"].shape == (2 * J,) and out["hp_mask"].sum() == 2


def dense_expected():
    """Hand-built dense targets of test_dense_hp_tiny_case (8x8 map, two r=1 persons, joint 0 only)."""
    e1, e2 = math.exp(-2.0), math.exp(-4.0)  # r=1: sigma=0.5, kernel at distance^2 d: exp(-2 d)
    kernel = np.array([[e2, e1, e2], [e1, 1.0, e1], [e2, e1, e2]])
    offsets = np.zeros((2, 8, 8))
    mask = np.zeros((8, 8))
    # person 1: centre (x 3, y 4), joint (5.5, 2.25): whole window x 2..4, y 3..5 (map empty so far)
    for y in range(3, 6):
        for x in range(2, 5):
            offsets[:, y, x] = (5.5 - x, 2.25 - y)
    mask[3:6, 2:5] = kernel
    # person 2: centre (x 4, y 4), joint (1.0, 6.0): its kernel vs person 1's centre heatmap (peak at x 3, y 4):
    # x=3 column: kernel2 (e^-4, e^-2, e^-4) < hm1 (e^-2, 1, e^-2) -> person 1 keeps it; x=4: (e^-2, 1, e^-2) >=
    # (e^-4, e^-2, e^-4) -> taken; x=5: hm1 = 0 -> taken.
    for y in range(3, 6):
        for x in (4, 5):
            offsets[:, y, x] = (1.0 - x, 6.0 - y)
    mask[3:6, 3:6] = np.maximum(mask[3:6, 3:6], kernel)
    return offsets, mask


def test_dense_hp_tiny_case():
    # boxes 4x4 -> r = 1 (test_radius_hand_values); centres (3, 4) and (4, 4).
    people = [person([1, 2, 5, 6], [(0, 5.5, 2.25, 2)]), person([2, 2, 6, 6], [(0, 1.0, 6.0, 2)])]
    out = PoseTargets(output_res=(8, 8), max_objs=2, dense_hp=True)(np.stack([p[0] for p in people]),
                                                                       np.stack([p[1] for p in people]))
    assert tuple(out) == TARGET_KEYS + DENSE_TARGET_KEYS
    assert out["dense_hps"].shape == (2 * J, 8, 8) and out["dense_hps_mask"].shape == (2 * J, 8, 8)
    offsets, mask = dense_expected()
    np.testing.assert_allclose(out["dense_hps"][0:2], offsets, rtol=1e-6)
    np.testing.assert_allclose(out["dense_hps_mask"][0], mask, rtol=1e-6)
    np.testing.assert_array_equal(out["dense_hps_mask"][1], out["dense_hps_mask"][0])
    assert not out["dense_hps"][2:].any() and not out["dense_hps_mask"][2:].any()
    # the sparse targets are unchanged by dense_hp
    sparse = PoseTargets(output_res=(8, 8), max_objs=2)(np.stack([p[0] for p in people]),
                                                         np.stack([p[1] for p in people]))
    for key in TARGET_KEYS:
        np.testing.assert_array_equal(out[key], sparse[key])


def test_dense_hp_tie_goes_to_the_later_person():
    # Same centre cell and radius: at the centre both kernels are exactly 1 (a tie in the original too, which
    # compares its float64 kernel with the float32 map: equal at the peak), ">=" gives the pixel to the later person.
    people = [person([1, 2, 5, 6], [(0, 5.5, 2.25, 2)]), person([1, 2, 5, 6], [(0, 0.5, 7.0, 2)])]
    out = PoseTargets(output_res=(8, 8), max_objs=2, dense_hp=True)(np.stack([p[0] for p in people]),
                                                                       np.stack([p[1] for p in people]))
    np.testing.assert_array_equal(out["dense_hps"][0:2, 4, 3], [0.5 - 3, 7.0 - 4])


def test_targets_decode_back_to_the_annotations():
    """Property over random persons: cells + offsets give back the centres and joints, peaks are exactly 1."""
    rng = np.random.default_rng(3)
    targets = PoseTargets(output_res=(H, W), max_objs=8)
    for _ in range(20):
        num = int(rng.integers(1, 9))
        xy1 = rng.uniform([-4, -4], [W - 2, H - 2], size=(num, 2))
        size = rng.uniform(1.5, 20, size=(num, 2))
        boxes = np.concatenate([xy1, xy1 + size], axis=1).astype(np.float32)
        kps = np.zeros((num, J, 3), np.float32)
        kps[..., 0] = rng.uniform(-3, W + 3, size=(num, J))
        kps[..., 1] = rng.uniform(-3, H + 3, size=(num, J))
        kps[..., 2] = rng.integers(0, 3, size=(num, J))
        out = targets(boxes, kps)
        for k in range(num):
            clipped = boxes[k].copy()
            clipped[0::2] = np.clip(clipped[0::2], 0, W - 1)
            clipped[1::2] = np.clip(clipped[1::2], 0, H - 1)
            if not (clipped[2] > clipped[0] and clipped[3] > clipped[1]):
                assert out["ind"][k] == 0 and not out["hps_mask"][k].any()
                continue
            row, col = divmod(int(out["ind"][k]), W)
            centre = np.array([col, row]) + out["reg"][k]
            np.testing.assert_allclose(centre, [(clipped[0] + clipped[2]) / 2, (clipped[1] + clipped[3]) / 2],
                                       atol=1e-5)
            assert out["hm"][0, row, col] == 1.0
            np.testing.assert_allclose(out["wh"][k], [clipped[2] - clipped[0], clipped[3] - clipped[1]], atol=1e-5)
            inside = (kps[k, :, 2] > 0) & (kps[k, :, 0] >= 0) & (kps[k, :, 0] < W) & (kps[k, :, 1] >= 0) & (
                kps[k, :, 1] < H)
            assert out["reg_mask"][k] == float(kps[k, :, 2].sum() > 0)
            np.testing.assert_array_equal(out["hps_mask"][k].reshape(J, 2).all(1), inside)
            for j in np.flatnonzero(inside):
                np.testing.assert_allclose(out["hps"][k, 2 * j:2 * j + 2] + [col, row], kps[k, j, :2], atol=1e-5)
                jrow, jcol = divmod(int(out["hp_ind"][k * J + j]), W)
                np.testing.assert_allclose(np.array([jcol, jrow]) + out["hp_offset"][k * J + j], kps[k, j, :2],
                                           atol=1e-5)
                assert out["hm_hp"][j, jrow, jcol] == 1.0


def test_empty_image_and_dtypes():
    out = PoseTargets()(np.zeros((0, 4)), np.zeros((0, J, 3)))
    shapes = {"hm": (1, 128, 128), "wh": (32, 2), "reg": (32, 2), "ind": (32,), "reg_mask": (32,), "hps": (32, 34),
              "hps_mask": (32, 34), "hm_hp": (17, 128, 128), "hp_offset": (544, 2), "hp_ind": (544,),
              "hp_mask": (544,)}
    assert {k: v.shape for k, v in out.items()} == shapes
    assert all(not v.any() for v in out.values())
    assert {k for k, v in out.items() if v.dtype == np.int32} == {"ind", "hp_ind"}
    assert all(v.dtype == np.float32 for k, v in out.items() if k not in ("ind", "hp_ind"))


@pytest.mark.parametrize("kwargs, match", [({"radius": "wrong"}, "radius"), ({"output_res": (0, 8)}, "output_res"),
                                           ({"min_overlap": 1.5}, "min_overlap"), ({"max_objs": 0}, "max_objs")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PoseTargets(**kwargs)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"keypoints must have shape \(2, 17, 3\)"):
        PoseTargets()(np.zeros((2, 4)), np.zeros((2, 16, 3)))
    with pytest.raises(ValueError, match=r"boxes must have shape \(N, 4\)"):
        PoseTargets()(np.zeros((2, 5)), np.zeros((2, 17, 3)))


def test_augmented_real_annotations_decode_back_to_the_image(coco_mini_dir):
    """Real COCO persons through PoseAugment then PoseTargets: every joint target (cell + offset, x4 to input
    pixels, inverse input affine) is the annotated joint of the original image (after a flip: its mirror partner's
    slot), and every person with a joint target has its centre peak."""
    data = json.loads((coco_mini_dir / "test_coco.json").read_text())
    augment, targets = CenterNetAugment(flip_pairs=COCO_PERSON.flip_pairs), PoseTargets()
    checked = 0
    for info in data["images"]:
        anns = [a for a in data["annotations"] if a["image_id"] == info["id"] and not a["iscrowd"]]
        image = cv2.imread(str(coco_mini_dir / info["file_name"]))
        boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                          for a in anns]).reshape(-1, 4)
        kps = np.array([a["keypoints"] for a in anns], float).reshape(-1, J, 3)
        for seed in range(3):
            _, out_boxes, out_kps, t = augment(image, boxes, kps, np.random.default_rng(seed))
            out = targets(out_boxes, out_kps)
            inverse = cv2.invertAffineTransform(t.input_affine)
            order = COCO_PERSON.flip_order if t.flipped else tuple(range(J))
            for slot in np.flatnonzero(out["hp_mask"]):
                k, j = divmod(int(slot), J)
                row, col = divmod(int(out["hp_ind"][slot]), 128)
                in_px = (np.array([col, row]) + out["hp_offset"][slot]) * 4
                original = inverse[:, :2] @ in_px + inverse[:, 2]
                # float32 output coordinates (~1e-5 px) x 4 x scale <= 1.6: ~1e-4 px; 2e-3 leaves margin
                np.testing.assert_allclose(original, kps[k, order[j], :2], atol=2e-3)
                assert kps[k, order[j], 2] > 0 and out["hm"][0].flat[out["ind"][k]] == 1.0
                checked += 1
    assert checked > 100
