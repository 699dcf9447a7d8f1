"""Tests for src/centernet_pose/decode.py on hand-built head outputs whose answers are known.

Persons are chosen in output-grid (or original-image) coordinates first and encoded into the maps with the
original's target convention written out here (docs/centernet.md "Training data and targets": centre cell =
floor(centre), reg = remainder, hps = joint - centre cell, hp_offset = joint - floor(joint)), so expected values do not
come from the decoder. A loop-by-loop reference of the original's rule (docs/centernet.md "Test path") checks the
vectorised decoder on random maps.
"""
import math
import warnings

import numpy as np
import pytest

from src.centernet_pose.decode import HEAD_NAMES, flip_merge, head_maps, multi_pose_decode, pose_detections, sigmoid
from src.inference.centernet_input import centernet_input
from src.data.keypoints import COCO_PERSON
from src.inference.detections import Detections
from src.inference.passes import merge_passes

NUM_JOINTS = 17


def empty_maps(h=32, w=32, joints=NUM_JOINTS):
    """Post-sigmoid maps of one image, all zero."""
    return {"hm": np.zeros((1, h, w), np.float32), "wh": np.zeros((2, h, w), np.float32),
            "hps": np.zeros((2 * joints, h, w), np.float32), "reg": np.zeros((2, h, w), np.float32),
            "hm_hp": np.zeros((joints, h, w), np.float32), "hp_offset": np.zeros((2, h, w), np.float32)}


def place_person(maps, center_xy, size_wh, joints_xy, score):
    """Encode a person given in output-grid coordinates; returns its centre cell (row, col)."""
    cx, cy = center_xy
    col, row = math.floor(cx), math.floor(cy)
    maps["hm"][0, row, col] = score
    maps["wh"][:, row, col] = size_wh
    maps["reg"][:, row, col] = (cx - col, cy - row)
    joints = np.asarray(joints_xy, np.float64)
    maps["hps"][0::2, row, col] = joints[:, 0] - col
    maps["hps"][1::2, row, col] = joints[:, 1] - row
    return row, col


def place_joint_peak(maps, joint, xy, score):
    """A joint-heatmap peak of `joint` at output point xy (hp_offset is shared by all joints of the cell)."""
    col, row = math.floor(xy[0]), math.floor(xy[1])
    maps["hm_hp"][joint, row, col] = score
    maps["hp_offset"][:, row, col] = (xy[0] - col, xy[1] - row)


# One person on a 32x32 output grid: box (7.25, 5.5, 17.25, 25.5), w 10, h 20 -> snap reach 0.3 * 20 = 6.
CENTER, SIZE = (12.25, 15.5), (10.0, 20.0)
BOX = (7.25, 5.5, 17.25, 25.5)
JOINTS = np.array([(8.25 + (j % 5) * 2, 6.5 + j * 1.125) for j in range(NUM_JOINTS)])  # dyadic: exact in float32


def one_person(score=0.75):
    maps = empty_maps()
    place_person(maps, CENTER, SIZE, JOINTS, score)
    return maps


# ---------------------------------------------------------------------------------------------- plain decode


def test_single_person_decodes_exactly_in_output_coordinates():
    decoded = multi_pose_decode(**one_person(), K=100)
    assert decoded.boxes.shape == (100, 4) and decoded.keypoints.shape == (100, NUM_JOINTS, 2)
    np.testing.assert_array_equal(decoded.boxes[0], BOX)
    np.testing.assert_array_equal(decoded.keypoints[0], JOINTS)
    assert decoded.scores[0] == np.float32(0.75)
    assert (decoded.scores[1:] == 0).all()  # every other cell is a 0-valued plateau peak
    assert not decoded.snapped.any()  # no joint-heatmap candidate above 0.1: regressed joints kept
    np.testing.assert_array_equal(decoded.keypoint_scores[0], 0.0)  # hm_hp at the joints' cells


def test_without_offset_and_joint_heads_the_centre_is_cell_plus_half():
    maps = one_person()
    for name in ("reg", "hm_hp", "hp_offset"):
        del maps[name]
    decoded = multi_pose_decode(**maps, K=1)
    half_w, half_h = SIZE[0] / 2, SIZE[1] / 2
    np.testing.assert_array_equal(decoded.boxes[0], [12.5 - half_w, 15.5 - half_h, 12.5 + half_w, 15.5 + half_h])
    np.testing.assert_array_equal(decoded.keypoints[0], JOINTS)  # joints use the integer cell, never reg
    assert decoded.keypoint_scores is None and decoded.snapped is None


def test_hm_hp_without_hp_offset_puts_candidates_at_cell_plus_half():
    maps = one_person()
    del maps["hp_offset"]
    maps["hm_hp"][4, 13, 14] = 0.5  # regressed joint 4 is at (16.25, 11.0), 3.05 away from (14.5, 13.5)
    decoded = multi_pose_decode(**maps, K=1)
    np.testing.assert_array_equal(decoded.keypoints[0, 4], (14.5, 13.5))


def test_leading_batch_dim_of_one_is_accepted():
    maps = {name: value[None] for name, value in one_person().items()}
    decoded = multi_pose_decode(**maps, K=1)
    np.testing.assert_array_equal(decoded.boxes[0], BOX)


# ------------------------------------------------------------------------------------------------- snapping


def snap_case(joint_xy, candidates, snap="original"):
    """One person whose joint 3 is regressed at joint_xy; candidates [(xy, score)] of joint 3. Returns
    (joint 3 after decoding, its score, snapped flag)."""
    maps = one_person()
    joints = JOINTS.copy()
    joints[3] = joint_xy
    place_person(maps, CENTER, SIZE, joints, 0.75)
    for xy, score in candidates:
        place_joint_peak(maps, 3, xy, score)
    decoded = multi_pose_decode(**maps, K=5, snap=snap)
    others = [j for j in range(NUM_JOINTS) if j != 3]
    np.testing.assert_array_equal(decoded.keypoints[0, others], JOINTS[others])
    return decoded.keypoints[0, 3], decoded.keypoint_scores[0, 3], decoded.snapped[0, 3]


def test_snaps_to_the_nearest_candidate_inside_the_box():
    point, score, snapped = snap_case((10.5, 12.0), [((12.0, 11.0), 0.625)])
    assert snapped and tuple(point) == (12.0, 11.0) and score == 0.625


def test_candidate_outside_the_box_leaves_the_regressed_joint():
    # x 7.0 < left 7.25, only 0.5 away
    point, score, snapped = snap_case((7.5, 10.0), [((7.0, 10.0), 0.625)])
    assert not snapped and tuple(point) == (7.5, 10.0)
    assert score == 0.625  # hm_hp[3] at the regressed joint's cell (row 10, col 7), which holds the candidate


def test_candidate_on_the_box_edge_counts_as_inside():
    point, _, snapped = snap_case((7.5, 10.0), [((7.25, 10.0), 0.625)])
    assert snapped and tuple(point) == (7.25, 10.0)


@pytest.mark.parametrize("candidate_score", [0.09, np.float32(0.1)])
def test_candidate_at_or_below_0_1_leaves_the_regressed_joint(candidate_score):
    # The original masks scores <= 0.1 (float32) to -1 and their coordinates to -10000.
    point, score, snapped = snap_case((10.5, 12.0), [((10.75, 12.0), candidate_score)])
    assert not snapped and tuple(point) == (10.5, 12.0)
    assert score == np.float32(candidate_score)  # regressed cell (row 12, col 10) holds the candidate


def test_candidate_just_above_0_1_snaps():
    point, _, snapped = snap_case((10.5, 12.0), [((10.75, 12.0), np.nextafter(np.float32(0.1), np.float32(1)))])
    assert snapped and tuple(point) == (10.75, 12.0)


def test_candidate_farther_than_0_3_box_size_leaves_the_regressed_joint():
    point, _, snapped = snap_case((10.5, 8.0), [((10.5, 14.5), 0.625)])  # 6.5 > 0.3 * 20
    assert not snapped and tuple(point) == (10.5, 8.0)
    point, _, snapped = snap_case((10.5, 8.0), [((10.5, 14.0), 0.625)])  # exactly 6.0: not > 6
    assert snapped and tuple(point) == (10.5, 14.0)


def test_nearest_outside_blocks_a_farther_inside_candidate_only_under_the_original_rule():
    candidates = [((7.0, 10.0), 0.5), ((9.5, 10.0), 0.875)]  # outside at 0.5, inside at 2.0
    point, _, snapped = snap_case((7.5, 10.0), candidates, snap="original")
    assert not snapped and tuple(point) == (7.5, 10.0)
    point, score, snapped = snap_case((7.5, 10.0), candidates, snap="in_box")
    assert snapped and tuple(point) == (9.5, 10.0) and score == 0.875


def test_in_box_rule_still_applies_score_and_distance_limits():
    point, _, snapped = snap_case((10.5, 8.0), [((10.5, 14.5), 0.625)], snap="in_box")
    assert not snapped and tuple(point) == (10.5, 8.0)
    point, _, snapped = snap_case((10.5, 12.0), [((10.75, 12.0), 0.09)], snap="in_box")
    assert not snapped


def test_equidistant_candidates_take_the_first_in_top_k_order():
    # Higher score first; with equal scores, the lower flat index (row-major) first.
    point, score, _ = snap_case((12.5, 12.5), [((11.5, 12.5), 0.5), ((13.5, 12.5), 0.75)])
    assert tuple(point) == (13.5, 12.5) and score == 0.75
    point, _, _ = snap_case((12.5, 12.5), [((13.5, 12.5), 0.5), ((11.5, 12.5), 0.5)])
    assert tuple(point) == (11.5, 12.5)
    point, _, _ = snap_case((12.5, 12.5), [((12.5, 13.5), 0.5), ((12.5, 11.5), 0.5)])
    assert tuple(point) == (12.5, 11.5)


def test_regressed_joint_score_reads_the_clipped_cell():
    maps = one_person()
    joints = JOINTS.copy()
    joints[0] = (-3.5, 40.0)  # outside the map: cell clipped to (row 31, col 0)
    place_person(maps, CENTER, SIZE, joints, 0.75)
    maps["hm_hp"][0, 31, 0] = 0.0625
    decoded = multi_pose_decode(**maps, K=1)
    assert decoded.keypoint_scores[0, 0] == np.float32(0.0625) and not decoded.snapped[0, 0]


# ------------------------------------------------------------------------------------- several detections


def test_two_persons_ordered_by_score_each_snapping_to_its_own_candidates():
    maps = empty_maps()
    joints_a = JOINTS.copy()
    joints_b = JOINTS + (12.0, 0.0)  # same pose 12 cells to the right
    place_person(maps, CENTER, SIZE, joints_a, 0.5)
    place_person(maps, (CENTER[0] + 12, CENTER[1]), SIZE, joints_b, 0.875)
    place_joint_peak(maps, 6, joints_a[6] + (0.75, 0.5), 0.5)
    place_joint_peak(maps, 6, joints_b[6] + (-0.5, 0.25), 0.25)
    decoded = multi_pose_decode(**maps, K=2)
    np.testing.assert_array_equal(decoded.scores, [0.875, 0.5])
    np.testing.assert_array_equal(decoded.boxes[0], np.add(BOX, (12, 0, 12, 0)))
    np.testing.assert_array_equal(decoded.keypoints[0, 6], joints_b[6] + (-0.5, 0.25))
    np.testing.assert_array_equal(decoded.keypoints[1, 6], joints_a[6] + (0.75, 0.5))
    assert decoded.snapped[:, 6].all() and decoded.snapped.sum() == 2


def test_equal_centre_scores_are_ordered_by_flat_index_and_plateaus_give_peaks():
    maps = empty_maps(8, 8)
    maps["hm"][0, 5, 1] = 0.5
    maps["hm"][0, 2, 6] = 0.5
    maps["hm"][0, 2, 3] = 0.25
    maps["hm"][0, 2, 4] = 0.25  # a plateau of two: both are peaks (equal to their 3x3 maximum)
    decoded = multi_pose_decode(**maps, K=4)
    cells = [(int(box[1]), int(box[0])) for box in decoded.boxes]  # wh = reg = 0: box = (col, row, col, row)
    assert cells == [(2, 6), (5, 1), (2, 3), (2, 4)]


def reference_suppressed_order(heat):
    """Brute-force 3x3 peaks (neighbours outside the map ignored), non-peaks 0, order (-value, flat index)."""
    h, w = heat.shape
    suppressed = np.zeros(h * w)
    for r in range(h):
        for c in range(w):
            window = heat[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2]
            suppressed[r * w + c] = heat[r, c] if heat[r, c] >= window.max() else 0.0
    order = sorted(range(h * w), key=lambda i: (-suppressed[i], i))
    return order, suppressed


def test_k_larger_than_the_map_returns_every_cell_peaks_first():
    rng = np.random.default_rng(3)
    maps = empty_maps(4, 4)
    maps["hm"][0] = rng.uniform(0.2, 0.9, (4, 4)).astype(np.float32)
    decoded = multi_pose_decode(**maps, K=100)
    order, suppressed = reference_suppressed_order(maps["hm"][0].astype(np.float64))
    assert len(decoded.scores) == 16
    cells = [int(box[1]) * 4 + int(box[0]) for box in decoded.boxes]
    assert cells == order
    np.testing.assert_array_equal(decoded.scores, suppressed[order])
    assert (decoded.scores[(suppressed > 0).sum():] == 0).all()  # non-peaks score 0, as the original's _nms


def reference_decode(maps, k, snap):
    """The original's multi_pose_decode rule, one detection and one joint at a time (docs/centernet.md "Test path")."""
    heat = maps["hm"][0].astype(np.float64)
    h, w = heat.shape
    num_joints = maps["hps"].shape[0] // 2
    order, suppressed = reference_suppressed_order(heat)
    k = min(k, h * w)
    candidates = []
    for j in range(num_joints):
        j_order, j_suppressed = reference_suppressed_order(maps["hm_hp"][j].astype(np.float64))
        row_list = []
        for i in j_order[:k]:
            r, c = divmod(i, w)
            score = j_suppressed[i]
            if score > np.float32(0.1):
                row_list.append(((c + float(maps["hp_offset"][0, r, c]), r + float(maps["hp_offset"][1, r, c])),
                                 score))
            else:
                row_list.append(((-10000.0, -10000.0), -1.0))
        candidates.append(row_list)
    boxes, scores, joints, snapped = [], [], [], []
    for i in order[:k]:
        r, c = divmod(i, w)
        cx, cy = c + float(maps["reg"][0, r, c]), r + float(maps["reg"][1, r, c])
        bw, bh = float(maps["wh"][0, r, c]), float(maps["wh"][1, r, c])
        box = (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
        reach = 0.3 * max(box[3] - box[1], box[2] - box[0])
        person, flags = [], []
        for j in range(num_joints):
            jx, jy = c + float(maps["hps"][2 * j, r, c]), r + float(maps["hps"][2 * j + 1, r, c])
            dists = [math.hypot(jx - x, jy - y) for (x, y), _ in candidates[j]]
            inside = [box[0] <= x <= box[2] and box[1] <= y <= box[3] for (x, y), _ in candidates[j]]
            if snap == "in_box":
                eligible = [n for n, (_, s) in enumerate(candidates[j]) if inside[n] and s >= np.float32(0.1)]
                best = min(eligible, key=lambda n: dists[n]) if eligible else None
                take = best is not None and dists[best] <= reach
            else:
                best = min(range(len(dists)), key=lambda n: dists[n])
                take = inside[best] and candidates[j][best][1] >= np.float32(0.1) and dists[best] <= reach
            person.append(candidates[j][best][0] if take else (jx, jy))
            flags.append(take)
        boxes.append(box)
        scores.append(suppressed[i])
        joints.append(person)
        snapped.append(flags)
    return np.array(boxes), np.array(scores), np.array(joints), np.array(snapped)


@pytest.mark.parametrize("snap", ["original", "in_box"])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_loop_reference_on_random_maps(snap, seed):
    rng = np.random.default_rng(seed)
    h, w, k = 12, 14, 10
    maps = {"hm": rng.uniform(0, 1, (1, h, w)), "wh": rng.uniform(2, 14, (2, h, w)),
            "hps": rng.uniform(-5, 5, (2 * NUM_JOINTS, h, w)), "reg": rng.uniform(0, 1, (2, h, w)),
            "hm_hp": rng.uniform(0, 1, (NUM_JOINTS, h, w)) ** 3, "hp_offset": rng.uniform(0, 1, (2, h, w))}
    maps = {name: value.astype(np.float32) for name, value in maps.items()}
    boxes, scores, joints, snapped = reference_decode(maps, k, snap)
    decoded = multi_pose_decode(**maps, K=k, snap=snap)
    np.testing.assert_allclose(decoded.boxes, boxes, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(decoded.scores, scores)
    np.testing.assert_array_equal(decoded.snapped, snapped)
    np.testing.assert_allclose(decoded.keypoints, joints, rtol=0, atol=1e-12)
    assert 0 < snapped.sum() < snapped.size  # both outcomes exercised


# ------------------------------------------------------------------------------------------------ flip test


def swap_left_right(name):
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


def mirror_index(joint):
    """The joint whose mirror image is `joint`, by COCO name (independent of KeypointSchema.flip_order)."""
    return COCO_PERSON.names.index(swap_left_right(COCO_PERSON.names[joint]))


def random_raw_outputs(rng, batch, h=6, w=9):
    shapes = {"hm": 1, "wh": 2, "hps": 2 * NUM_JOINTS, "reg": 2, "hm_hp": NUM_JOINTS, "hp_offset": 2}
    return {name: rng.normal(0, 2, (batch, shapes[name], h, w)).astype(np.float32) for name in HEAD_NAMES}


def test_flip_merge_equals_explicit_reference():
    raw = random_raw_outputs(np.random.default_rng(0), 2)

    def sig(x):
        return 1 / (1 + np.exp(-x.astype(np.float64)))

    merged = flip_merge(raw, COCO_PERSON.flip_order)
    width = raw["hm"].shape[3]
    expected_hps = np.empty_like(raw["hps"][0], np.float64)
    expected_hm_hp = np.empty_like(raw["hm_hp"][0], np.float64)
    for j in range(NUM_JOINTS):
        m = mirror_index(j)
        for col in range(width):
            back = width - 1 - col
            expected_hps[2 * j, :, col] = (raw["hps"][0, 2 * j, :, col] - raw["hps"][1, 2 * m, :, back]) / 2
            expected_hps[2 * j + 1, :, col] = (raw["hps"][0, 2 * j + 1, :, col] + raw["hps"][1, 2 * m + 1, :, back]) / 2
            expected_hm_hp[j, :, col] = (sig(raw["hm_hp"][0, j, :, col]) + sig(raw["hm_hp"][1, m, :, back])) / 2
    expected_hm = (sig(raw["hm"][0]) + sig(raw["hm"][1])[:, :, ::-1]) / 2
    expected_wh = (raw["wh"][0].astype(np.float64) + raw["wh"][1][:, :, ::-1]) / 2
    # float32 arithmetic as the original; sigmoid and averages within a few float32 ulps of float64
    np.testing.assert_allclose(merged["hm"], expected_hm, rtol=0, atol=1e-6)
    np.testing.assert_allclose(merged["hm_hp"], expected_hm_hp, rtol=0, atol=1e-6)
    np.testing.assert_allclose(merged["wh"], expected_wh, rtol=1e-6, atol=0)
    np.testing.assert_allclose(merged["hps"], expected_hps, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(merged["reg"], raw["reg"][0])  # unflipped image only
    np.testing.assert_array_equal(merged["hp_offset"], raw["hp_offset"][0])
    # sigmoid BEFORE averaging: differs from the sigmoid of averaged logits on these maps
    averaged_logits = 1 / (1 + np.exp(-(raw["hm"][0] + raw["hm"][1][:, :, ::-1]) / 2))
    assert np.abs(merged["hm"] - averaged_logits).max() > 1e-2
    assert all(value.dtype == np.float32 and value.ndim == 3 for value in merged.values())


def mirror_person_maps(h, w, center, size, joints, score, joint_peaks):
    """Maps (post-sigmoid, as placed) of an image and of its mirror, built from the same person: the mirror
    has the person at x -> w - 1 - x on the output grid with left/right joint labels exchanged."""
    image, mirror = empty_maps(h, w), empty_maps(h, w)
    place_person(image, center, size, joints, score[0])
    mirrored_joints = np.array([(w - 1 - joints[mirror_index(j)][0], joints[mirror_index(j)][1])
                                for j in range(NUM_JOINTS)])
    col = math.floor(center[0])
    place_person(mirror, (w - 1 - col + 0.5, center[1]), size, mirrored_joints, score[1])
    for joint, xy, value in joint_peaks:
        place_joint_peak(image, joint, xy, value[0])
        c, r = math.floor(xy[0]), math.floor(xy[1])
        mirror["hm_hp"][mirror_index(joint), r, w - 1 - c] = value[1]
    return image, mirror


def logit(p):
    return np.log(p / (1 - p))


def test_flip_merge_of_an_image_and_its_mirror_decodes_the_person():
    h, w = 32, 32
    peaks = [(5, JOINTS[5] + (0.5, -0.25), (0.625, 0.375)), (12, JOINTS[12] + (-0.25, 0.5), (0.25, 0.75))]
    image, mirror = mirror_person_maps(h, w, CENTER, SIZE, JOINTS, (0.875, 0.625), peaks)
    raw = {}
    for name in HEAD_NAMES:
        pair = np.stack([image[name], mirror[name]])
        if name in ("hm", "hm_hp"):  # the network gives logits: 0 maps to a tiny probability, not 0.5
            pair = np.where(pair > 0, logit(np.clip(pair, 1e-6, 1 - 1e-6)), -30.0).astype(np.float32)
        raw[name] = pair
    merged = flip_merge(raw, COCO_PERSON.flip_order)
    np.testing.assert_allclose(merged["hps"], image["hps"], rtol=0, atol=0)  # dx negated, pairs swapped back
    np.testing.assert_allclose(merged["wh"], image["wh"], rtol=0, atol=0)
    decoded = multi_pose_decode(**merged, K=1)
    assert decoded.scores[0] == pytest.approx((0.875 + 0.625) / 2, abs=1e-6)
    np.testing.assert_array_equal(decoded.boxes[0], BOX)
    expected = JOINTS.copy()
    expected[5] += (0.5, -0.25)  # averaged candidate 0.5 > 0.1: snapped (offset from the unflipped image)
    expected[12] += (-0.25, 0.5)
    np.testing.assert_allclose(decoded.keypoints[0], expected, rtol=0, atol=0)
    np.testing.assert_allclose(decoded.keypoint_scores[0, [5, 12]], [0.5, 0.5], rtol=0, atol=1e-6)


def test_flip_merge_accepts_the_network_tuple_and_missing_optional_heads():
    raw = random_raw_outputs(np.random.default_rng(1), 2)
    as_tuple = flip_merge(tuple(raw[name] for name in HEAD_NAMES), COCO_PERSON.flip_order)
    as_dict = flip_merge(raw, COCO_PERSON.flip_order)
    assert as_tuple.keys() == as_dict.keys()
    for name in HEAD_NAMES:
        np.testing.assert_array_equal(as_tuple[name], as_dict[name])
    reduced = flip_merge({name: raw[name] for name in ("hm", "wh", "hps")}, COCO_PERSON.flip_order)
    assert set(reduced) == {"hm", "wh", "hps"}


@pytest.mark.parametrize("change, message", [
    (lambda raw: raw.update(hm=raw["hm"][:1]), "hm"),
    (lambda raw: raw.update(hps=raw["hps"][:, :30]), "hps"),
    (lambda raw: raw.update(hm_hp=raw["hm_hp"][:, :16]), "hm_hp"),
    (lambda raw: raw.update(wh=raw["wh"][:, :, :5]), "spatial"),
    (lambda raw: raw.pop("wh"), "missing"),
    (lambda raw: raw.update(extra=raw["wh"]), "unknown"),
])
def test_flip_merge_rejects_bad_outputs(change, message):
    raw = random_raw_outputs(np.random.default_rng(2), 2)
    change(raw)
    with pytest.raises(ValueError, match=message):
        flip_merge(raw, COCO_PERSON.flip_order)


def test_flip_merge_rejects_a_flip_order_that_is_not_a_permutation():
    raw = random_raw_outputs(np.random.default_rng(2), 2)
    with pytest.raises(ValueError, match="permutation"):
        flip_merge(raw, (0,) * NUM_JOINTS)


def test_head_maps_applies_sigmoid_and_drops_the_batch():
    raw = random_raw_outputs(np.random.default_rng(4), 1)
    maps = head_maps(raw)
    np.testing.assert_allclose(maps["hm"], 1 / (1 + np.exp(-raw["hm"][0].astype(np.float64))), rtol=0, atol=1e-7)
    np.testing.assert_allclose(maps["hm_hp"], 1 / (1 + np.exp(-raw["hm_hp"][0].astype(np.float64))), atol=1e-7)
    np.testing.assert_array_equal(maps["hps"], raw["hps"][0])
    with pytest.raises(ValueError, match="head_maps"):
        head_maps(random_raw_outputs(np.random.default_rng(4), 2))


def test_sigmoid_is_accurate_and_silent_at_extremes():
    x = np.linspace(-120, 120, 4001, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = sigmoid(x)
    reference = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(y, reference, rtol=1e-6, atol=1e-37)  # float32 underflows below ~1e-38
    assert y.dtype == np.float32


# ------------------------------------------------------------------------------- back to original pixels


# (image hw, centernet_input kwargs, maps hw, original -> output grid by hand: x_out = ax * x + bx, y_out = ay * y + by)
META_CASES = [
    # fixed 128x128: k = 128 / 200 = 0.64, c = (100, 50): x_in = 0.64 x, y_in = 0.64 y + 32; output = input / 4
    ((100, 200), {"input_res": (128, 128)}, (32, 32), (0.16, 0.0, 0.16, 8.0)),
    # keep_res at scale 0.5: new 60 x 125, input 64 x 128, c = (62, 30): x_in = 0.5 x + 2, y_in = 0.5 y + 2
    ((120, 250), {"keep_res": True, "scale": 0.5}, (16, 32), (0.125, 0.5, 0.125, 0.5)),
]


@pytest.mark.parametrize("image_hw, kwargs, maps_hw, to_output", META_CASES)
def test_pose_detections_map_back_to_original_pixels(image_hw, kwargs, maps_hw, to_output):
    _, meta = centernet_input(np.zeros(image_hw + (3,), np.uint8), **kwargs)
    ax, bx, ay, by = to_output
    box = np.array([55.0, 32.5, 135.0, 112.5])  # original pixels; centre (95, 72.5), w 80, h 80
    joints = np.stack([np.linspace(60, 130, NUM_JOINTS), np.linspace(35, 110, NUM_JOINTS)], axis=1)
    maps = empty_maps(*maps_hw)
    place_person(maps, (ax * 95 + bx, ay * 72.5 + by), (ax * 80, ay * 80),
                 joints * (ax, ay) + (bx, by), 0.875)
    dets = pose_detections(maps, meta, K=3)
    assert isinstance(dets, Detections) and len(dets) == 3
    # tolerance: the maps hold float32 values of non-dyadic coordinates (~1e-6 cells), x 4 / scale to pixels
    np.testing.assert_allclose(dets.boxes[0], box, rtol=0, atol=1e-4)
    np.testing.assert_allclose(dets.keypoints[0], joints, rtol=0, atol=1e-4)
    assert dets.scores[0] == np.float32(0.875) and dets.keypoint_scores.shape == (3, NUM_JOINTS)


def test_pose_detections_threshold_sorting_and_size_check():
    _, meta = centernet_input(np.zeros((100, 200, 3), np.uint8), input_res=(128, 128))
    maps = empty_maps()
    place_person(maps, (8.5, 9.5), (4, 6), np.full((NUM_JOINTS, 2), 9.0), 0.25)
    place_person(maps, (20.5, 9.5), (4, 6), np.full((NUM_JOINTS, 2), 21.0), 0.625)
    dets = pose_detections(maps, meta, K=100, score_thresh=0.2)
    np.testing.assert_array_equal(dets.scores, np.float32([0.625, 0.25]))
    assert len(pose_detections(maps, meta, K=100)) == 100  # threshold 0 keeps all K, as the original writes
    no_hm_hp = {name: value for name, value in maps.items() if name not in ("hm_hp", "hp_offset")}
    assert pose_detections(no_hm_hp, meta, K=2).keypoint_scores is None
    with pytest.raises(ValueError, match="input size"):
        pose_detections(empty_maps(16, 16), meta)


def test_bad_decode_arguments_raise_value_error():
    maps = one_person()
    with pytest.raises(ValueError, match="snap"):
        multi_pose_decode(**maps, snap="and")
    with pytest.raises(ValueError, match="K"):
        multi_pose_decode(**maps, K=0)
    with pytest.raises(ValueError, match="hm_hp"):
        multi_pose_decode(**{**maps, "hm_hp": maps["hm_hp"][:16]})
    with pytest.raises(ValueError, match="spatially"):
        multi_pose_decode(**{**maps, "wh": maps["wh"][:, :16]})


# ------------------------------------------------------------------------------------------ multi-scale merge
# The task's options for several test scales make the machinery's merge_passes the original's merge_outputs.


def iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def person(box, score, shift):
    return Detections([box], [score], np.full((1, NUM_JOINTS, 2), shift), np.full((1, NUM_JOINTS), 0.5))


def pose_test_options(*args):
    """The pose task's test.py options with `args` on the command line."""
    from src.model_utils.config import parse_config
    from src.tasks import get_task, task_config_path

    cfg = parse_config(["--config_path", str(task_config_path("centernet_pose")), *args], script="test")
    return get_task(cfg).inference_options("test")


def test_multi_scale_merge_is_the_originals_gaussian_soft_nms():
    options = pose_test_options("--test_scales", "1.0,1.5")
    assert (options.nms, options.soft_sigma) == ("soft_gaussian", 0.5)
    a = person((10, 10, 50, 90), 0.9, 1.0)
    b = person((14, 12, 54, 92), 0.8, 2.0)  # same person at another scale
    c = person((200, 10, 240, 90), 0.3, 3.0)  # elsewhere
    merged = merge_passes([a, b, c], options)
    expected_b = 0.8 * math.exp(-iou(a.boxes[0], b.boxes[0]) ** 2 / 0.5)
    np.testing.assert_allclose(merged.scores, sorted([0.9, expected_b, 0.3], reverse=True), rtol=1e-6)
    order = np.argsort(-np.array([0.9, expected_b, 0.3]), kind="stable")
    np.testing.assert_array_equal(merged.keypoints[:, 0, 0], np.array([1.0, 2.0, 3.0])[order])
    assert merged.keypoint_scores.shape == (3, NUM_JOINTS)
    single = pose_test_options()  # one scale: no NMS, as the original
    assert single.nms == "none"
    np.testing.assert_allclose(merge_passes([c, a, b], single).scores, [0.9, 0.8, 0.3])


def test_multi_scale_merge_drops_persons_below_the_soft_nms_threshold():
    a = person((10, 10, 50, 90), 0.9, 1.0)
    weak = person((10, 10, 50, 90), 0.002, 2.0)  # identical box: 0.002 * exp(-2) < 0.001
    merged = merge_passes([a, weak], pose_test_options("--test_scales", "1.0,1.5"))
    assert len(merged) == 1 and merged.keypoints[0, 0, 0] == 1.0
