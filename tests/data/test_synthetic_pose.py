"""Tests of src/data/synthetic_pose.py: the COCO person_keypoints layout (checked key by key against the real
COCO file in tests/data/coco_person_kpt_mini and with pycocotools), determinism, labelling rules on hand-made
owner maps, left/right semantics, mirror equivariance (what makes flip augmentation consistent), border cuts,
occlusion and a drawn-content check against the scene rendered without persons. Images are small (160..320 px)
to keep the module fast."""
import contextlib
import io
import json
import math
import os

import cv2
import numpy as np
import pytest

from src.data import synthetic_pose as sp
from src.data.keypoints import COCO_PERSON
from src.data.synthetic_pose import (
    JOINT,
    LimbAngles,
    Pose,
    generate,
    label_person,
    main,
    pose_figure,
    render_scene,
    sample_image_size,
    sample_pose,
)
from tests.requirements import require

J = JOINT


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic_pose")
    result = generate(str(out), num_train=6, num_val=3, seed=11, image_size=160, progress=False)
    return out, result


@pytest.fixture(scope="module")
def scenes():
    """80 scenes (with their backgrounds) at image_size 256: enough for every kind of person and label."""
    rendered = []
    for index in range(80):
        rng = np.random.default_rng([5, 0, index])
        height, width = sample_image_size(rng, 256)
        rendered.append(render_scene(rng, height, width, max_people=6, keep_background=True))
    return rendered


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def neutral_pose(yaw=0.0, **changes):
    arm, leg = LimbAngles(0.0, 0.0, 0.0), LimbAngles(0.0, 0.0, 0.0)
    values = dict(kind="standing", yaw_deg=yaw, roll_deg=0.0, trunk_lean_deg=0.0, trunk_side_deg=0.0,
                  head_yaw_deg=0.0, head_pitch_deg=0.0, arms=(arm, arm), legs=(leg, leg), toe_out_deg=0.0)
    values.update(changes)
    return Pose(**values)


# ----------------------------------------------------------------------------------------------- geometry
def test_neutral_standing_figure_has_the_anthropometric_proportions():
    """Drillis & Contini fractions of the standing height H = 1: vertex - floor = 1, shoulders 0.288 above the
    hip joints, ankles 0.491 below them, shoulder joints 0.22 apart with the LEFT one at +x (image right) when
    facing the camera."""
    figure = pose_figure(neutral_pose())
    joints = figure.joints
    head_top = figure.head_centre[1] + sp.HEAD_SEMI_AXES[1]
    assert head_top - joints[J["left_ankle"], 1] + 0.039 == pytest.approx(1.0, abs=1e-9)
    assert joints[J["left_shoulder"], 1] - joints[J["left_hip"], 1] == pytest.approx(0.818 - 0.530, abs=1e-12)
    assert joints[J["left_hip"], 1] - joints[J["left_ankle"], 1] == pytest.approx(0.245 + 0.246, abs=1e-12)
    assert joints[J["left_shoulder"], 0] == pytest.approx(0.85 * 0.259 / 2, abs=1e-12)
    assert joints[J["right_shoulder"], 0] == pytest.approx(-0.85 * 0.259 / 2, abs=1e-12)
    # eye level is the middle of the head (0.936 H in the table, head centre 0.935 H)
    assert joints[J["left_eye"], 1] - joints[J["left_ankle"], 1] + 0.039 == pytest.approx(0.936 + 0.004, abs=2e-3)


@pytest.mark.parametrize("seed", range(6))
def test_any_pose_keeps_segment_lengths_and_joint_spacing(seed):
    """Rotations only: every bone keeps its table length in every sampled pose and yaw."""
    rng = np.random.default_rng(seed)
    for kind in sp.POSE_KIND_PROBABILITIES:
        joints = pose_figure(sample_pose(rng, kind)).joints
        for side in ("left", "right"):
            for a, b, length in (("shoulder", "elbow", 0.186), ("elbow", "wrist", 0.146), ("hip", "knee", 0.245),
                                 ("knee", "ankle", 0.246)):
                distance = np.linalg.norm(joints[J[f"{side}_{a}"]] - joints[J[f"{side}_{b}"]])
                assert distance == pytest.approx(length, abs=1e-9), (kind, side, a, b)
        assert np.linalg.norm(joints[J["left_hip"]] - joints[J["right_hip"]]) == pytest.approx(0.6 * 0.191, abs=1e-9)
        assert np.linalg.norm(joints[J["left_eye"]] - joints[J["right_eye"]]) == pytest.approx(0.036, abs=1e-9)


@pytest.mark.parametrize("yaw, roll", [(0, 0), (37, 5), (90, -12), (160, 8)])
def test_projected_head_ellipse_matches_the_sampled_ellipsoid_silhouette(yaw, roll):
    """ImageMap.ellipse (2x2 shape matrix) against a dense sampling of the rotated ellipsoid's surface."""
    figure = pose_figure(neutral_pose(yaw, head_pitch_deg=12.0, head_yaw_deg=-20.0))
    image_map = sp.ImageMap(300.0, roll, (50.0, 60.0))
    axes = (figure.head_rotation * np.array(sp.HEAD_SEMI_AXES)).T
    centre, semi_major, semi_minor, angle = image_map.ellipse(figure.head_centre, list(axes))
    u, v = np.meshgrid(np.linspace(0, np.pi, 400), np.linspace(0, 2 * np.pi, 800))
    unit = np.stack([np.sin(u) * np.cos(v), np.sin(u) * np.sin(v), np.cos(u)], -1).reshape(-1, 3)
    surface = figure.head_centre + unit @ axes
    projected = image_map.points(surface) - centre
    direction = np.array([math.cos(math.radians(angle)), math.sin(math.radians(angle))])
    normal = np.array([-direction[1], direction[0]])
    assert np.abs(projected @ direction).max() == pytest.approx(semi_major, rel=1e-3)
    assert np.abs(projected @ normal).max() == pytest.approx(semi_minor, rel=1e-3)


# ----------------------------------------------------------------------------------------------- left / right
def test_left_joints_are_on_the_persons_left(scenes):
    """COCO "left" = the person's left: image right when facing the camera, image left from behind; turned to
    face image right the left side is the far side; a head turned to face image right has its nose in front of
    both ears (camera x, before the image-plane roll)."""
    counts = {"front": 0, "back": 0, "right_profile": 0, "head_right": 0}
    pairs = [(J["left_shoulder"], J["right_shoulder"]), (J["left_hip"], J["right_hip"])]
    for scene in scenes:
        for person in scene.persons:
            x, depth, yaw = person.joints[:, 0], person.joint_depth, person.pose.yaw_deg
            if person.pose.view == "front":
                assert all(x[a] > x[b] for a, b in pairs), (yaw, x)
                counts["front"] += 1
            elif person.pose.view == "back":
                assert all(x[a] < x[b] for a, b in pairs), (yaw, x)
                counts["back"] += 1
            elif 60 <= yaw <= 120:
                assert all(depth[a] < depth[b] for a, b in pairs)
                counts["right_profile"] += 1
            if 60 <= yaw + person.pose.head_yaw_deg <= 120:
                camera_x = pose_figure(person.pose).joints[:, 0]
                assert camera_x[J["nose"]] > max(camera_x[J["left_ear"]], camera_x[J["right_ear"]])
                counts["head_right"] += 1
    assert min(counts.values()) >= 10, counts


def mirrored(pose: Pose) -> Pose:
    """The mirror image of `pose` about the person's sagittal plane."""
    return Pose(kind=pose.kind, yaw_deg=-pose.yaw_deg, roll_deg=-pose.roll_deg, trunk_lean_deg=pose.trunk_lean_deg,
                trunk_side_deg=-pose.trunk_side_deg, head_yaw_deg=-pose.head_yaw_deg,
                head_pitch_deg=pose.head_pitch_deg, arms=pose.arms[::-1], legs=pose.legs[::-1],
                toe_out_deg=pose.toe_out_deg)


@pytest.mark.parametrize("seed", range(4))
def test_drawing_is_mirror_equivariant_so_flip_augmentation_keeps_labels_consistent(seed):
    """A flipped image of a person (x -> W - 1 - x, left/right labels swapped, as CenterNet's flip augmentation
    does) must be what the generator draws for the mirrored person: then no drawn cue contradicts the swapped
    labels (a left-side colour code would). Tolerance: joints within 1 px (rounding of exact .5 positions), and
    < 3 % of the figure's pixels differing by > 40 levels (anti-aliased edges may rasterise asymmetrically)."""
    rng = np.random.default_rng(100 + seed)
    pose, style = sample_pose(rng), sp.sample_person_style(rng)
    width = height = 240
    images, joints = [], []
    for current, offset_x in ((pose, 117.3), (mirrored(pose), width - 1 - 117.3)):
        figure = pose_figure(current)
        image_map = sp.ImageMap(150.0, current.roll_deg, (offset_x, 90.0))
        image = np.full((height, width, 3), 128.0, np.float32)
        points = np.floor(image_map.points(figure.joints) + 0.5).astype(np.int64)
        sp.draw_person(image, figure, image_map, points, style)
        images.append(image)
        joints.append(points)
    flipped_joints = COCO_PERSON.flip_points(joints[0], width - 1)
    assert np.abs(flipped_joints - joints[1]).max() <= 1
    difference = np.abs(images[0][:, ::-1] - images[1]).max(axis=2)
    figure_pixels = np.count_nonzero(np.any(images[1] != 128.0, axis=2))
    assert np.count_nonzero(difference > 40) < 0.03 * figure_pixels


def test_face_cues_show_which_way_the_person_faces():
    """Frontal: dark eyes at the eye joints; from behind: hair at the same place, eyes/nose not shown."""
    style = sp.PersonStyle(skin=np.array([220.0, 170.0, 130.0]), hair=np.array([60.0, 40.0, 20.0]),
                           shirt=np.array([0.0, 200.0, 0.0]), trousers=np.array([0.0, 0.0, 200.0]),
                           shoes=np.array([20.0, 20.0, 20.0]), long_sleeves=True, shorts=False)
    for yaw in (0.0, 180.0):
        figure = pose_figure(neutral_pose(yaw))
        image_map = sp.ImageMap(400.0, 0.0, (100.0, 200.0))
        image = np.full((420, 200, 3), 255.0, np.float32)
        points = np.floor(image_map.points(figure.joints) + 0.5).astype(np.int64)
        sp.draw_person(image, figure, image_map, points, style)
        for eye in ("left_eye", "right_eye"):
            x, y = points[J[eye]]
            if yaw == 0.0:
                assert figure.face_point_shows(eye) and image[y, x].max() < 60     # iris (30, 25, 20)
            else:
                assert not figure.face_point_shows(eye)
                np.testing.assert_allclose(image[y, x], style.hair * sp._shade(float(figure.head_centre[2])), atol=1)
        assert figure.face_point_shows("nose") == (yaw == 0.0)
        assert figure.face_point_shows("left_ear") and figure.face_point_shows("right_ear")


# ----------------------------------------------------------------------------------------------- labelling rules
@pytest.fixture
def no_random_drops(monkeypatch):
    monkeypatch.setattr(sp, "JOINT_DROP_PROBABILITY", 0.0)
    monkeypatch.setattr(sp, "UNLABELLED_PERSON_PROBABILITY", {"small": 0.0, "other": 0.0})


def labelled(figure, joints, owner):
    return label_person(1, joints, figure, owner, np.random.default_rng(0), height_px=200)


def test_label_rules_on_a_hand_made_owner_map(no_random_drops):
    figure = pose_figure(neutral_pose(0.0))
    joints = np.array([[10 + 5 * j, 20 + 3 * j] for j in range(17)])
    owner = np.zeros((100, 120), np.int32)
    for j in range(17):                    # every joint on its first own part
        owner[joints[j, 1], joints[j, 0]] = 1 * sp.PARTS_PER_PERSON + sp.JOINT_PARTS[j][0]
    expected_v = np.full(17, 2)
    owner[joints[J["left_wrist"], 1], joints[J["left_wrist"], 0]] = sp.OCCLUDER_CODE
    owner[joints[J["right_elbow"], 1], joints[J["right_elbow"], 0]] = 2 * sp.PARTS_PER_PERSON + sp.PART_IDS[
        "right_forearm"]                   # same part name, but of person 2
    owner[joints[J["left_knee"], 1], joints[J["left_knee"], 0]] = sp.PARTS_PER_PERSON + sp.PART_IDS["trunk"]
    owner[joints[J["nose"], 1], joints[J["nose"], 0]] = sp.PARTS_PER_PERSON + sp.PART_IDS["left_hand"]
    expected_v[[J["left_wrist"], J["right_elbow"], J["left_knee"], J["nose"]]] = 1
    joints[J["right_ankle"]] = (-1, 50)    # outside the image
    joints[J["left_ankle"]] = (60, 100)
    expected_v[[J["right_ankle"], J["left_ankle"]]] = 0
    keypoints = labelled(figure, joints, owner)
    np.testing.assert_array_equal(keypoints[:, 2], expected_v)
    shown = expected_v > 0
    np.testing.assert_array_equal(keypoints[shown, :2], joints[shown])
    np.testing.assert_array_equal(keypoints[~shown, :2], 0)


@pytest.mark.parametrize("yaw, far, near", [(90.0, "left", "right"), (-90.0, "right", "left")])
def test_far_shoulder_behind_the_trunk_is_occluded_and_far_face_points_unlabelled(no_random_drops, yaw, far, near):
    figure = pose_figure(neutral_pose(yaw))
    joints = np.array([[10 + 5 * j, 20 + 3 * j] for j in range(17)])
    owner = np.full((100, 120), sp.PARTS_PER_PERSON + sp.PART_IDS["trunk"], np.int32)
    for name in sp.FACE_POINTS:
        owner[joints[J[name], 1], joints[J[name], 0]] = sp.PARTS_PER_PERSON + sp.PART_IDS["head"]
    keypoints = labelled(figure, joints, owner)
    assert keypoints[J[f"{far}_shoulder"], 2] == 1 and keypoints[J[f"{near}_shoulder"], 2] == 2
    assert keypoints[J[f"{far}_hip"], 2] == 1 and keypoints[J[f"{near}_hip"], 2] == 2
    assert keypoints[J[f"{far}_eye"], 2] == 0 and keypoints[J[f"{far}_ear"], 2] == 0
    assert keypoints[J[f"{near}_eye"], 2] == 2 and keypoints[J[f"{near}_ear"], 2] == 2 and keypoints[0, 2] == 2
    frontal = labelled(pose_figure(neutral_pose(0.0)), joints, owner)
    assert np.all(frontal[[J["left_shoulder"], J["right_shoulder"], J["left_hip"], J["right_hip"]], 2] == 2)


# ----------------------------------------------------------------------------------------------- scenes
def test_labelled_joints_lie_on_the_image_the_box_and_their_own_figure(scenes):
    for scene in scenes:
        height, width = scene.image.shape[:2]
        for number, person in enumerate(scene.persons, start=1):
            x, y, w, h = person.box
            assert 0 <= x and 0 <= y and x + w <= width - 1 and y + h <= height - 1 and w > 0 and h > 0
            kp = person.keypoints
            shown = kp[:, 2] > 0
            assert np.all((kp[shown, 0] >= x) & (kp[shown, 0] <= x + w) & (kp[shown, 1] >= y) & (kp[shown, 1] <= y + h))
            np.testing.assert_array_equal(kp[~shown, :2], 0)
            np.testing.assert_array_equal(kp[shown, :2], person.joints[shown])
            assert person.num_keypoints == np.count_nonzero(shown)
            codes = scene.owner[kp[shown, 1], kp[shown, 0]]
            assert np.all(codes != 0), "a labelled joint on a pixel its figure never drew"
            assert np.all(kp[shown, 2][codes == sp.OCCLUDER_CODE] == 1)
            assert np.all(kp[shown, 2][codes // sp.PARTS_PER_PERSON != number] == 1)
            # area counts the figure as drawn; later persons/occluders can only take pixels away
            owned = np.count_nonzero(scene.owner // sp.PARTS_PER_PERSON == number)
            assert owned <= person.area <= (w + 1) * (h + 1)


def test_scenes_have_border_cuts_occlusions_unlabelled_persons_and_varied_sizes(scenes):
    outside_joints = occluded = occluder_covered = no_joints = 0
    heights, image_long_sides = [], []
    for scene in scenes:
        height, width = scene.image.shape[:2]
        image_long_sides.append(max(height, width))
        for person in scene.persons:
            x, y = person.joints[:, 0], person.joints[:, 1]
            out = (x < 0) | (x >= width) | (y < 0) | (y >= height)
            assert np.all(person.keypoints[out] == 0)
            if out.any():
                assert person.border_cut
                outside_joints += int(out.sum())
            v = person.keypoints[:, 2]
            occluded += int(np.count_nonzero(v == 1))
            inside = ~out
            occluder_covered += int(np.count_nonzero(scene.owner[y[inside], x[inside]] == sp.OCCLUDER_CODE))
            no_joints += int(person.num_keypoints == 0)
            if not person.border_cut:
                heights.append(person.box[3])
    assert outside_joints >= 20 and occluded >= 50 and occluder_covered >= 5 and no_joints >= 2
    heights = np.array(heights)
    # person sizes: ~32 px (box span of pixel centres, 1-2 px under the drawn extent) up to most of the image
    assert heights.min() >= sp.MIN_PERSON_HEIGHT - 3 and np.percentile(heights, 10) < 45
    assert heights.max() > 0.6 * 256 * 0.625
    assert 0.625 * 256 - 1 <= min(image_long_sides) and max(image_long_sides) <= 1.25 * 256 + 1


@pytest.mark.parametrize("kinds, frontal", [(None, False), (("standing", "walking"), True)])
def test_person_height_and_plain_scenes_for_learning_checks(kinds, frontal):
    """The options of scripts/demo_pose.py's data. person_height (fractions of the image height): box heights
    in range unless the figure had to shrink to fit the width; clutter=False: a gradient background (no
    shapes), no distractor/occluder, every in-image joint labelled except face points the head hides;
    pose_kinds and frontal: only those kinds, yaw within +-35 degrees."""
    low, high = 0.6, 0.95
    heights, yaws, seen_kinds = [], [], set()
    for index in range(40):
        rng = np.random.default_rng([7, 0, index])
        height, width = sample_image_size(rng, 128)
        scene = render_scene(rng, height, width, max_people=1, keep_background=True, person_height=(low, high),
                             clutter=False, pose_kinds=kinds, frontal=frontal)
        assert len(scene.persons) == 1 and scene.counts["occluders"] == 0
        yaws.append(abs(scene.persons[0].pose.yaw_deg))
        seen_kinds.add(scene.persons[0].pose.kind)
        assert scene.counts["blurred"] == 0 and scene.counts["darkened"] == 0
        assert not np.any(scene.owner == sp.OCCLUDER_CODE)
        person = scene.persons[0]
        box_w, box_h = person.box[2:]
        # box = span of pixel centres: up to ~2 px under the sampled extent; never above it
        assert box_h <= high * height + 1
        if box_w < width - 4:  # not shrunk to the image width
            assert box_h >= low * height - 3, (index, box_h, height)
        heights.append(box_h / height)
        for j, name in enumerate(sp.COCO_PERSON.names):
            x, y = person.joints[j]
            inside = 0 <= x < width and 0 <= y < height
            hidden_face = name in sp.FACE_POINTS and not pose_figure(person.pose).face_point_shows(name)
            assert (person.keypoints[j, 2] > 0) == (inside and not hidden_face), (index, name)
        # the background is the smooth gradient plus sensor noise: no shape edges (a shape's edge is a jump of
        # tens of levels; noise std is at most 6)
        background = scene.background.astype(np.float32)
        smooth = cv2.blur(background, (5, 5))
        assert np.percentile(np.abs(background - smooth)[4:-4, 4:-4], 99.9) < 25
    assert min(heights) < 0.7 and max(heights) > 0.85
    assert seen_kinds == set(kinds or sp.POSE_KIND_PROBABILITIES)
    assert (max(yaws) <= 35) == frontal


def test_visible_joints_show_drawn_content_that_differs_from_the_background(scenes):
    """Learnability: the 3x3 patch at each visible joint of persons >= 40 px differs from the same scene drawn
    without persons (background finished with the same blur, darkening and noise) by > 12 levels in some
    channel; far from every person and occluder the two images are bit-identical, so the difference is the
    drawing alone."""
    differences = []
    for scene in scenes:
        image, background = scene.image.astype(np.int32), scene.background.astype(np.int32)
        drawn = cv2.dilate((scene.owner != 0).astype(np.uint8), np.ones((13, 13), np.uint8)) > 0
        np.testing.assert_array_equal(image[~drawn], background[~drawn])
        for person in scene.persons:
            if person.box[3] < 40:
                continue
            for x, y, _ in person.keypoints[person.keypoints[:, 2] == 2]:
                patch = (slice(max(y - 1, 0), y + 2), slice(max(x - 1, 0), x + 2))
                differences.append(np.abs(image[patch].reshape(-1, 3).mean(0) -
                                          background[patch].reshape(-1, 3).mean(0)).max())
    differences = np.array(differences)
    assert len(differences) > 500
    assert np.mean(differences > 12) >= 0.97, np.percentile(differences, [1, 5, 50])


def test_keep_background_does_not_change_the_scene():
    plain = render_scene(np.random.default_rng(3), 200, 300)
    with_background = render_scene(np.random.default_rng(3), 200, 300, keep_background=True)
    np.testing.assert_array_equal(plain.image, with_background.image)
    assert len(plain.persons) == len(with_background.persons)


# ----------------------------------------------------------------------------------------------- data set
def check_coco_document(document, reference, image_dir):
    """Every key and type of a COCO person_keypoints file, with the real COCO file `reference` as the key model."""
    assert set(document) == set(reference)
    assert document["categories"] == [{**reference["categories"][0]}]
    image_keys = set(reference["images"][0])
    annotation_keys = set(reference["annotations"][0])
    images = {}
    for image in document["images"]:
        assert set(image) == image_keys
        assert all(isinstance(image[k], int) for k in ("id", "width", "height", "license"))
        assert image["id"] not in images
        images[image["id"]] = image
        assert os.path.isfile(os.path.join(image_dir, image["file_name"]))
        decoded = cv2.imread(os.path.join(image_dir, image["file_name"]))
        assert decoded.shape[:2] == (image["height"], image["width"])
    ids = set()
    for ann in document["annotations"]:
        assert set(ann) == annotation_keys
        assert ann["id"] not in ids and ann["image_id"] in images
        ids.add(ann["id"])
        assert ann["iscrowd"] == 0 and ann["category_id"] == 1
        keypoints = np.array(ann["keypoints"])
        assert keypoints.shape == (51,) and all(isinstance(v, int) for v in ann["keypoints"])
        keypoints = keypoints.reshape(17, 3)
        assert set(np.unique(keypoints[:, 2])) <= {0, 1, 2}
        assert ann["num_keypoints"] == np.count_nonzero(keypoints[:, 2] > 0)
        np.testing.assert_array_equal(keypoints[keypoints[:, 2] == 0, :2], 0)
        assert len(ann["bbox"]) == 4 and all(isinstance(v, float) for v in ann["bbox"])
        x, y, w, h = ann["bbox"]
        image = images[ann["image_id"]]
        assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= image["width"] - 1 and y + h <= image["height"] - 1
        shown = keypoints[keypoints[:, 2] > 0]
        assert np.all((shown[:, 0] >= x) & (shown[:, 0] <= x + w) & (shown[:, 1] >= y) & (shown[:, 1] <= y + h))
        assert isinstance(ann["area"], float) and 0 < ann["area"] <= (w + 1) * (h + 1)
        assert isinstance(ann["segmentation"], list) and ann["segmentation"]
        assert all(len(polygon) >= 6 and len(polygon) % 2 == 0 for polygon in ann["segmentation"])
    return images


def test_layout_and_coco_schema_match_real_coco(dataset, coco_mini_dir):
    out, result = dataset
    reference = load(coco_mini_dir / "test_coco.json")
    assert sorted(os.listdir(out)) == ["annotations", "train2017", "val2017"]
    assert sorted(os.listdir(out / "annotations")) == ["person_keypoints_train2017.json",
                                                       "person_keypoints_val2017.json"]
    all_ids = []
    for split, count in (("train2017", 6), ("val2017", 3)):
        document = load(out / "annotations" / f"person_keypoints_{split}.json")
        images = check_coco_document(document, reference, out / split)
        assert len(images) == count and len(os.listdir(out / split)) == count
        assert all(image["file_name"] == f"{image['id']:012d}.jpg" for image in images.values())
        all_ids += list(images)
        counts = result["counts"][split]
        assert counts["persons"] == len(document["annotations"])
        assert counts["labelled"] == sum(a["num_keypoints"] for a in document["annotations"])
    assert len(set(all_ids)) == len(all_ids), "image ids must be unique across the splits, as in COCO"


def test_pycocotools_reads_it_and_ground_truth_as_predictions_scores_ap_1(dataset):
    """COCOeval ignores persons without labelled joints for keypoints; they are left out of the predictions,
    so keypoint AP must be exactly 1 (any wrong area/bbox/visibility/id field would lower it)."""
    coco_module = require("pycocotools.coco")
    cocoeval_module = require("pycocotools.cocoeval")
    out, _ = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = coco_module.COCO(str(out / "annotations" / "person_keypoints_train2017.json"))
        predictions = [{"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "score": 1.0,
                        "keypoints": [float(v) for v in a["keypoints"]]}
                       for a in ground_truth.dataset["annotations"] if a["num_keypoints"] > 0]
        evaluation = cocoeval_module.COCOeval(ground_truth, ground_truth.loadRes(predictions), "keypoints")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)
    # the polygons describe the figure: their rasterised area is close to the pixel-count area
    ratios = [ground_truth.annToMask(a).sum() / a["area"] for a in ground_truth.dataset["annotations"]]
    assert 0.75 < np.median(ratios) < 1.05


def tree_bytes(root):
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, root)] = f.read()
    return files


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path, dataset):
    out, _ = dataset
    generate(str(tmp_path / "again"), num_train=6, num_val=3, seed=11, image_size=160, progress=False)
    first, again = tree_bytes(out), tree_bytes(tmp_path / "again")
    assert sorted(first) == sorted(again) and all(first[k] == again[k] for k in first)
    # image i depends only on (seed, split, i): a shorter run reproduces the first images
    generate(str(tmp_path / "short"), num_train=2, num_val=0, seed=11, image_size=160, progress=False)
    short = tree_bytes(tmp_path / "short")
    assert sorted(k for k in short if k.endswith(".jpg")) == sorted(k for k in first if k.startswith("train2017"))[:2]
    assert all(short[k] == first[k] for k in short if k.endswith(".jpg"))
    generate(str(tmp_path / "other"), num_train=6, num_val=3, seed=12, image_size=160, progress=False)
    other = tree_bytes(tmp_path / "other")
    assert sorted(other) == sorted(first)
    assert other["annotations/person_keypoints_train2017.json"] != first["annotations/person_keypoints_train2017.json"]
    assert all(other[k] != first[k] for k in first if k.endswith(".jpg"))


def test_cli_refuses_a_non_empty_folder_and_overwrites_only_its_own_files(tmp_path, capsys):
    out = tmp_path / "data"
    main(["--output_path", str(out), "--num_train", "2", "--num_val", "1", "--seed", "0", "--image_size", "128"])
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith("synthetic pose: 3 images, ") and "labelled joints" in summary and "images/s" in summary
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit) as error:
        main(["--output_path", str(out), "--num_train", "1", "--num_val", "1", "--seed", "1", "--image_size", "128"])
    message = str(error.value)
    assert "\n" not in message and str(out) in message and "--overwrite" in message
    main(["--output_path", str(out), "--num_train", "1", "--num_val", "0", "--seed", "1", "--image_size", "128",
          "--max_people", "2", "--overwrite"])
    assert (out / "notes.txt").read_text() == "keep me"
    assert sorted(os.listdir(out)) == ["annotations", "notes.txt", "train2017"]
    assert os.listdir(out / "annotations") == ["person_keypoints_train2017.json"]
    document = load(out / "annotations" / "person_keypoints_train2017.json")
    assert len(document["images"]) == 1 and 1 <= len(document["annotations"]) <= 2
    assert not [name for name in os.listdir(out / "train2017") if name.endswith(".part")]


@pytest.mark.parametrize("argv, needle", [
    (["--num_train", "-1", "--num_val", "0"], "num_train and num_val must be >= 0"),
    (["--num_train", "1", "--num_val", "0", "--image_size", "64"], "image_size must be >= 96"),
    (["--num_train", "1", "--num_val", "0", "--max_people", "0"], "max_people must be >= 1"),
    (["--num_train", "1", "--num_val", "0", "--person_height", "0.9,0.5"], "person_height must be two fractions"),
])
def test_cli_bad_arguments_are_one_line_errors(tmp_path, argv, needle):
    with pytest.raises(SystemExit) as error:
        main(["--output_path", str(tmp_path / "x"), "--seed", "0"] + argv)
    assert needle in str(error.value) and "\n" not in str(error.value)


def test_sample_pose_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="pose kind 'flying'"):
        sample_pose(np.random.default_rng(0), "flying")
