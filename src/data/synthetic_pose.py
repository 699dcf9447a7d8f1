"""Procedural synthetic multi-person pose data set in the exact COCO person_keypoints layout.

A stand-in for COCO keypoints that a short CPU fine-tuning of the CenterNet pose model can learn from (tests,
demo: training must raise keypoint AP on held-out images):

    python -m src.data.synthetic_pose --output_path DIR --num_train 200 --num_val 40 --seed 0 [--image_size 512]
        [--max_people 6] [--overwrite] [--person_height LOW,HIGH] [--no_clutter] [--pose_kinds KIND,...] [--frontal]

The last four options make an easier set for quick learning checks (scripts/demo_pose.py; see render_scene);
without them the data set is the one described below.

Layout (what the pose training/evaluation scripts read with `--data_dir DIR`, as COCO 2017):
    DIR/train2017/000000000001.jpg ...      DIR/annotations/person_keypoints_train2017.json
    DIR/val2017/000100000001.jpg ...        DIR/annotations/person_keypoints_val2017.json
Image ids are index + 1 (train) and 100000000 + index + 1 (val), unique across the splits as in COCO; file
names are the 12-digit zero-padded ids as in COCO. The json keys mirror a real COCO file (info, licenses,
images, annotations, categories); category 1 "person" with COCO's 17 keypoint names and 1-based skeleton.
`info` carries no date so that the same seed gives byte-identical files.

People. Each person is a 3-D stick-and-limb figure of standing height 1 posed by joint angles, turned by a
body yaw (0 = facing the camera, +90 = facing image right, 180 = facing away), projected orthographically,
rolled in the image plane by a few degrees and scaled so that its box has a sampled height (32 px up to
0.95 x the image height, log-uniform). Pose kinds: standing, walking, arms raised, gesturing, sitting,
crouching. Limbs are thick capsules, the trunk the projected outline of a slab, the head the projected
ellipsoid with hair, a face patch, eyes, nose, mouth and ears where the 3-D head shows them. Segment lengths
are fractions of the standing height H from Drillis & Contini's anthropometric table (as reproduced in
D. A. Winter, "Biomechanics and Motor Control of Human Movement", Fig. 4.1): upper arm 0.186 H, forearm
0.146 H, hand 0.108 H, thigh 0.245 H, shank 0.246 H, ankle height 0.039 H, hip (trochanter) height 0.530 H,
shoulder height 0.818 H (trunk hip->shoulder 0.288 H), chin 0.870 H, head chin->vertex 0.130 H, shoulder
breadth 0.259 H, hip breadth 0.191 H. Our own approximations on top: shoulder joint centres 0.85 of the
shoulder breadth apart (+-0.11 H), hip joint centres 0.6 of the hip breadth apart (+-0.057 H), head
ellipsoid semi-axes 0.044 (across) x 0.065 (up) x 0.056 (front-back) H, interpupillary distance 0.036 H.

Left and right. "Left" is the person's left, as in COCO: a person facing the camera has the left shoulder at
the larger image x. The image must let a network tell the sides apart, and a cue must survive the horizontal
flip augmentation of CenterNet (flip image, swap the left/right labels). A chirality-coded colour (say, the
left limbs always lighter) does NOT survive it: in a flipped sample the lighter limbs are labelled "right", so
with flip p = 0.5 the colour says nothing and the network must ignore it. We therefore draw only cues that
are mirror-equivariant, i.e. they tell which way the person faces, from which left/right follows:
  - the face: a skin face patch with eyes, nose and mouth on the front of the head, hair on the back of the
    head; in profile the nose sticks out in the facing direction and only the near eye/ear show;
  - the front of the trunk: a skin-coloured V neckline, visible only from the front;
  - the feet point forward (facing direction in side views);
  - depth: parts are drawn far to near and shaded darker with distance, so in side and three-quarter views
    the near limbs overlap the far ones and are lighter.
Flipping such an image gives a plausible person facing the mirrored way whose swapped labels are correct.

Visibility (COCO v): 2 = the joint's pixel shows one of the joint's own parts (e.g. an elbow on the upper arm
or forearm); 1 = labelled but occluded: covered by another person, a foreground occluder, another part of
the same person, or a shoulder/hip on the far side of the trunk in a side view; 0 = not labelled, x = y = 0:
outside the image, a facial point on the hidden side of the head (annotators do not guess faces they cannot
see), randomly dropped (3 % of joints, as COCO leaves joints out), or all joints of a person left out (25 %
of persons under 48 px, 1 % of the others; COCO has such num_keypoints 0 persons).

Coordinates are those of CenterNet's pipeline (cv2, flip x -> W - 1 - x): pixel (col, row) has its centre at
(col, row). Joints are rounded to integer pixels before the figure is drawn (COCO keypoints are integers and
the MindRecord schema stores int32), and limbs are drawn between the rounded joints, so labels sit exactly on
the drawn content. Box = span of the centres of the figure's pixels inside the image, [min col, min row,
max col - min col, max row - min row] (COCO xywh), i.e. the tight box clipped to the image and mirrored exactly
by W - 1 - x. Area = number of the figure's pixels inside the image when it was drawn (before later persons or
occluders covered it). COCO's area is the visible segmentation area; we use the whole figure so that OKS,
which uses area as scale^2, does not get stricter for an occluded person. Segmentation = the outer polygons
of that pixel mask. Every labelled joint lies on the figure, hence inside its image and its box.

Scenes: a cluttered background (gradient, shapes, lines), 0-4 distractors (limb-like capsule chains and
heads without a body), 1..max_people persons (some overlapping, at most half of the smaller box shared; 15 %
cut by the image border), foreground occluders over some persons, then blur / darkening / sensor noise.
Image sizes: long side image_size x U(0.625, 1.25) (320..640 at 512), short side 0.6..1 of it, 65 %
landscape. Image i of a split depends only on (seed, split, i); the same seed gives byte-identical files.
"""
import argparse
import math
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from src.io_utils import atomic_write_bytes, write_json_atomic

from .keypoints import COCO_PERSON
from .synthetic import HAIR_COLOURS, SKIN_TONES, draw_background

SPLITS = ("train2017", "val2017")
SPLIT_CODES = {"train2017": 0, "val2017": 1}
ID_BASE = {"train2017": 0, "val2017": 100_000_000}    # COCO image/annotation ids are unique across splits
NUM_JOINTS = COCO_PERSON.num_points
JOINT = {name: index for index, name in enumerate(COCO_PERSON.names)}
# COCO person category, as in person_keypoints_val2017.json (1-based joint indices)
COCO_SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
                 [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]
PERSON_CATEGORY = {"supercategory": "person", "id": 1, "name": "person", "keypoints": list(COCO_PERSON.names),
                   "skeleton": COCO_SKELETON}

MIN_PERSON_HEIGHT = 32          # box height in pixels
MAX_BOX_SHARE = 0.5             # intersection / smaller box area allowed between two persons
BORDER_CUT_PROBABILITY = 0.15
OCCLUDER_PROBABILITY = 0.3      # per image: 1-2 foreground shapes over persons
JOINT_DROP_PROBABILITY = 0.03
SMALL_PERSON_HEIGHT = 48
UNLABELLED_PERSON_PROBABILITY = {"small": 0.25, "other": 0.01}
# a shoulder/hip whose pixel shows the trunk is hidden by it when it is on the far side of a figure turned more
# than 47 degrees from frontal/back: its partner is nearer by more than sin(47) x their distance
FAR_SIDE_SINE = math.sin(math.radians(47.0))

# ----------------------------------------------------------------------------------------------- anthropometry
# Fractions of the standing height H (see the module docstring for the source of each number).
UPPER_ARM, FOREARM, HAND_REACH = 0.186, 0.146, 0.05       # hand drawn centred 0.05 H beyond the wrist
THIGH, SHANK = 0.245, 0.246
TRUNK = 0.818 - 0.530                                     # hip joint -> shoulder joint
SHOULDER_HALF, HIP_HALF = 0.85 * 0.259 / 2, 0.6 * 0.191 / 2
NECK_TO_HEAD_CENTRE = (0.870 - 0.818) + 0.130 / 2         # shoulder line -> chin -> middle of the head
HEAD_SEMI_AXES = (0.044, 0.065, 0.056)                    # across, up, front-back
# limb radii (clothed), H units
RADIUS = {"upper_arm": 0.032, "forearm": 0.026, "hand": 0.028, "thigh": 0.052, "shank": 0.038, "foot": 0.02,
          "neck": 0.03}
# trunk slab: (height above the hip joints, half width, half depth) of its top and bottom faces
TRUNK_TOP, TRUNK_BOTTOM = (TRUNK + 0.025, 0.125, 0.065), (-0.04, 0.1, 0.07)
# facial points in the head frame (x = person's left, y = up, z = forward), and outward normals
FACE_POINTS = {"nose": (0.0, -0.025, 0.062), "left_eye": (0.018, 0.004, 0.05), "right_eye": (-0.018, 0.004, 0.05),
               "left_ear": (0.044, -0.004, -0.008), "right_ear": (-0.044, -0.004, -0.008)}
FACE_NORMALS = {"nose": (0.0, 0.0, 1.0), "left_eye": (0.35, 0.1, 0.93), "right_eye": (-0.35, 0.1, 0.93),
                "left_ear": (1.0, 0.0, -0.15), "right_ear": (-1.0, 0.0, -0.15)}
# a facial point shows when its normal's component toward the camera exceeds this (the nose sticks out, so it
# shows a little past profile; ears stick out sideways, so they show until well behind the profile)
FACE_SHOW_THRESHOLD = {"nose": -0.15, "left_eye": 0.05, "right_eye": 0.05, "left_ear": -0.3, "right_ear": -0.3}

# ----------------------------------------------------------------------------------------------- parts
PART_IDS = {"trunk": 1, "neck": 2, "head": 3, "left_upper_arm": 4, "right_upper_arm": 5, "left_forearm": 6,
            "right_forearm": 7, "left_hand": 8, "right_hand": 9, "left_thigh": 10, "right_thigh": 11,
            "left_shank": 12, "right_shank": 13, "left_foot": 14, "right_foot": 15}
PARTS_PER_PERSON = 16           # owner code = person number * 16 + part id; 0 background, -1 occluder
OCCLUDER_CODE = -1


def _joint_parts(name: str) -> Tuple[int, ...]:
    """Parts whose pixels show joint `name` (the segments meeting at it)."""
    if name in FACE_POINTS:
        return (PART_IDS["head"],)
    side, joint = name.split("_")
    table = {"shoulder": ("trunk", "neck", f"{side}_upper_arm"), "elbow": (f"{side}_upper_arm", f"{side}_forearm"),
             "wrist": (f"{side}_forearm", f"{side}_hand"), "hip": ("trunk", f"{side}_thigh"),
             "knee": (f"{side}_thigh", f"{side}_shank"), "ankle": (f"{side}_shank", f"{side}_foot")}
    return tuple(PART_IDS[part] for part in table[joint])


JOINT_PARTS = tuple(_joint_parts(name) for name in COCO_PERSON.names)

_SHIFT = 4                      # cv2 sub-pixel bits: 1/16 pixel precision
_ONE = 1 << _SHIFT


# ----------------------------------------------------------------------------------------------- rotations
def _rot_x(deg: float) -> np.ndarray:
    """Right-handed rotation about x (person's left): positive tilts +y (up) toward +z (forward)."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(deg: float) -> np.ndarray:
    """Right-handed rotation about y (up): positive turns +z (forward) toward +x."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_z(deg: float) -> np.ndarray:
    """Right-handed rotation about z (forward): positive turns -y (down) toward +x."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rot_axis(axis: np.ndarray, deg: float) -> np.ndarray:
    """Rodrigues rotation by `deg` about the unit vector `axis`."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    t = math.radians(deg)
    return np.eye(3) + math.sin(t) * k + (1.0 - math.cos(t)) * (k @ k)


def _sagittal(deg: float) -> np.ndarray:
    """Unit direction swung `deg` from hanging straight down toward the front (90 = forward, 180 = up)."""
    t = math.radians(deg)
    return np.array([0.0, -math.cos(t), math.sin(t)])


# ----------------------------------------------------------------------------------------------- poses
@dataclass
class LimbAngles:
    """Angles (degrees) of an arm or a leg. flexion: swing of the upper segment forward from hanging down;
    abduction: lift sideways away from the body; bend: elbow flexion (forearm folds forward/up) or knee
    flexion (shank folds backward); twist: rotation of the bend plane about the upper segment."""
    flexion: float
    abduction: float
    bend: float
    twist: float = 0.0


@dataclass
class Pose:
    """A body pose. yaw_deg: body orientation (0 faces the camera, +90 faces image right, 180 faces away);
    roll_deg: in-plane rotation of the figure, clockwise on screen; trunk_lean_deg: forward lean about the
    hips; trunk_side_deg: lean toward the person's left; head yaw/pitch relative to the trunk (pitch > 0 looks
    down); arms and legs: (left, right)."""
    kind: str
    yaw_deg: float
    roll_deg: float
    trunk_lean_deg: float
    trunk_side_deg: float
    head_yaw_deg: float
    head_pitch_deg: float
    arms: Tuple[LimbAngles, LimbAngles]
    legs: Tuple[LimbAngles, LimbAngles]
    toe_out_deg: float = 10.0

    @property
    def view(self) -> str:
        """front (|yaw| <= 35), back (|yaw| >= 145), side (60..120) or three_quarter."""
        yaw = abs(self.yaw_deg)
        return "front" if yaw <= 35 else "back" if yaw >= 145 else "side" if 60 <= yaw <= 120 else "three_quarter"


POSE_KIND_PROBABILITIES = {"standing": 0.28, "walking": 0.24, "arms_raised": 0.12, "gesturing": 0.14,
                           "sitting": 0.11, "crouching": 0.11}


def _relaxed_arm(rng) -> LimbAngles:
    return LimbAngles(rng.uniform(-15, 20), rng.uniform(5, 25), rng.uniform(0, 35), rng.uniform(-30, 30))


def _standing_leg(rng) -> LimbAngles:
    return LimbAngles(rng.uniform(-5, 10), rng.uniform(0, 10), rng.uniform(0, 10), rng.uniform(-10, 10))


def sample_yaw(rng: np.random.Generator) -> float:
    """Body yaw in (-180, 180]: 40 % frontal, 15 % from behind, 25 % profile, 20 % three-quarter."""
    u = rng.random()
    sign = 1.0 if rng.random() < 0.5 else -1.0
    if u < 0.40:
        yaw = min(max(rng.normal(0.0, 15.0), -35.0), 35.0)
    elif u < 0.55:
        yaw = 180.0 + min(max(rng.normal(0.0, 15.0), -35.0), 35.0)
    elif u < 0.80:
        yaw = sign * rng.uniform(60.0, 120.0)
    else:
        yaw = sign * (rng.uniform(36.0, 59.0) if rng.random() < 0.6 else rng.uniform(121.0, 144.0))
    return float((yaw + 180.0) % 360.0 - 180.0) if yaw != 180.0 else 180.0


def sample_pose(rng: np.random.Generator, kind: Optional[str] = None) -> Pose:
    """A random pose of `kind` (drawn from POSE_KIND_PROBABILITIES when None) with angles in plausible ranges."""
    if kind is None:
        kinds = list(POSE_KIND_PROBABILITIES)
        kind = kinds[rng.choice(len(kinds), p=list(POSE_KIND_PROBABILITIES.values()))]
    if kind not in POSE_KIND_PROBABILITIES:
        raise ValueError(f"pose kind {kind!r}: expected one of {sorted(POSE_KIND_PROBABILITIES)}")
    lean, side = rng.uniform(-5, 8), rng.uniform(-5, 5)
    arms = [_relaxed_arm(rng), _relaxed_arm(rng)]
    legs = [_standing_leg(rng), _standing_leg(rng)]
    if kind == "walking":
        step = 1.0 if rng.random() < 0.5 else -1.0          # which leg is in front
        legs = [LimbAngles(step * rng.uniform(15, 35), rng.uniform(0, 6), rng.uniform(0, 25)),
                LimbAngles(-step * rng.uniform(10, 25), rng.uniform(0, 6), rng.uniform(10, 45))]
        arms = [LimbAngles(-step * rng.uniform(10, 35), rng.uniform(5, 15), rng.uniform(10, 45)),
                LimbAngles(step * rng.uniform(10, 35), rng.uniform(5, 15), rng.uniform(10, 45))]
    elif kind == "arms_raised":
        count = 2 if rng.random() < 0.6 else 1
        for index in rng.permutation(2)[:count]:
            arms[index] = LimbAngles(rng.uniform(-10, 40), rng.uniform(100, 175), rng.uniform(0, 90),
                                     rng.uniform(-40, 40))
    elif kind == "gesturing":
        index = int(rng.integers(2))
        arms[index] = LimbAngles(rng.uniform(30, 110), rng.uniform(10, 80), rng.uniform(0, 130), rng.uniform(-60, 60))
        if rng.random() < 0.3:                               # both hands busy
            arms[1 - index] = LimbAngles(rng.uniform(20, 80), rng.uniform(10, 40), rng.uniform(30, 120),
                                         rng.uniform(-40, 40))
    elif kind == "sitting":
        lean = rng.uniform(-10, 15)
        legs = [LimbAngles(rng.uniform(70, 100), rng.uniform(0, 20), rng.uniform(70, 110), rng.uniform(-10, 10))
                for _ in range(2)]
        arms = [LimbAngles(rng.uniform(10, 50), rng.uniform(5, 20), rng.uniform(30, 90), rng.uniform(-30, 30))
                for _ in range(2)]
    elif kind == "crouching":
        lean = rng.uniform(20, 45)
        legs = [LimbAngles(rng.uniform(90, 130), rng.uniform(5, 25), rng.uniform(110, 150)) for _ in range(2)]
        arms = [LimbAngles(rng.uniform(20, 70), rng.uniform(5, 25), rng.uniform(20, 90), rng.uniform(-30, 30))
                for _ in range(2)]
    return Pose(kind=kind, yaw_deg=sample_yaw(rng), roll_deg=min(max(float(rng.normal(0.0, 4.0)), -12.0), 12.0),
                trunk_lean_deg=lean, trunk_side_deg=side, head_yaw_deg=rng.uniform(-30, 30),
                head_pitch_deg=rng.uniform(-10, 15), arms=(arms[0], arms[1]), legs=(legs[0], legs[1]),
                toe_out_deg=rng.uniform(0, 20))


# ----------------------------------------------------------------------------------------------- 3-D figure
@dataclass
class Figure3D:
    """A posed figure of standing height 1 in camera axes (x image right, y up, z toward the camera), pelvis
    at the origin. joints (17, 3) in COCO order; capsules: part name -> (start, end) points; trunk (8, 3)
    slab corners; neckline (3, 3) V on the chest front; head centre and rotation (head frame -> camera);
    trunk_front: the trunk's forward unit vector."""
    joints: np.ndarray
    capsules: Dict[str, Tuple[np.ndarray, np.ndarray]]
    trunk: np.ndarray
    neckline: np.ndarray
    head_centre: np.ndarray
    head_rotation: np.ndarray
    trunk_front: np.ndarray

    def face_point_shows(self, name: str) -> bool:
        """Whether facial point `name` is on the camera side of the head (see FACE_SHOW_THRESHOLD)."""
        return float((self.head_rotation @ np.array(FACE_NORMALS[name]))[2]) > FACE_SHOW_THRESHOLD[name]


def pose_figure(pose: Pose) -> Figure3D:
    """Forward kinematics of `pose` (segment lengths from the anthropometric table in the module docstring),
    turned by the body yaw; roll and scale are applied in the image plane later."""
    trunk_rotation = _rot_z(-pose.trunk_side_deg) @ _rot_x(pose.trunk_lean_deg)
    shoulder_centre = trunk_rotation @ np.array([0.0, TRUNK, 0.0])
    joints = np.zeros((NUM_JOINTS, 3))
    capsules: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
    for side_name, sign, arm, leg in (("left", 1.0, pose.arms[0], pose.legs[0]),
                                      ("right", -1.0, pose.arms[1], pose.legs[1])):
        # arm: bend plane swung forward, twisted about the upper arm, lifted sideways, carried by the trunk
        upper = _sagittal(arm.flexion)
        lower = _rot_axis(upper, sign * arm.twist) @ _sagittal(arm.flexion + arm.bend)
        lift = trunk_rotation @ _rot_z(sign * arm.abduction)
        shoulder = shoulder_centre + trunk_rotation @ np.array([sign * SHOULDER_HALF, 0.0, 0.0])
        elbow = shoulder + UPPER_ARM * (lift @ upper)
        wrist = elbow + FOREARM * (lift @ lower)
        # leg: the knee folds the shank backward; legs hang from the pelvis (the trunk lean is above the hips)
        thigh = _sagittal(leg.flexion)
        shank = _rot_axis(thigh, sign * leg.twist) @ _sagittal(leg.flexion - leg.bend)
        spread = _rot_z(sign * leg.abduction)
        hip = np.array([sign * HIP_HALF, 0.0, 0.0])
        knee = hip + THIGH * (spread @ thigh)
        ankle = knee + SHANK * (spread @ shank)
        toe_direction = _rot_y(sign * pose.toe_out_deg) @ np.array([0.0, 0.0, 1.0])
        heel, toe = ankle + np.array([0.0, -0.03, -0.025]), ankle + np.array([0.0, -0.035, 0.0]) + 0.12 * toe_direction
        for joint, point in (("shoulder", shoulder), ("elbow", elbow), ("wrist", wrist), ("hip", hip),
                             ("knee", knee), ("ankle", ankle)):
            joints[JOINT[f"{side_name}_{joint}"]] = point
        capsules[f"{side_name}_upper_arm"] = (shoulder, elbow)
        capsules[f"{side_name}_forearm"] = (elbow, wrist)
        hand = wrist + HAND_REACH * (lift @ lower)
        capsules[f"{side_name}_hand"] = (hand, hand)
        capsules[f"{side_name}_thigh"] = (hip, knee)
        capsules[f"{side_name}_shank"] = (knee, ankle)
        capsules[f"{side_name}_foot"] = (heel, toe)
    head_rotation = trunk_rotation @ _rot_y(pose.head_yaw_deg) @ _rot_x(-pose.head_pitch_deg)
    head_centre = shoulder_centre + head_rotation @ np.array([0.0, NECK_TO_HEAD_CENTRE, 0.01])
    for name, local in FACE_POINTS.items():
        joints[JOINT[name]] = head_centre + head_rotation @ np.array(local)
    capsules["neck"] = (shoulder_centre, head_centre - head_rotation @ np.array([0.0, 0.04, 0.0]))
    corners = []
    for height, half_width, half_depth in (TRUNK_TOP, TRUNK_BOTTOM):
        frame = trunk_rotation if height > 0 else np.eye(3)
        corners += [frame @ np.array([sx * half_width, height, sz * half_depth]) for sx in (-1, 1) for sz in (-1, 1)]
    neckline = np.array([trunk_rotation @ np.array(p) for p in
                         ((-0.045, TRUNK + 0.015, 0.066), (0.045, TRUNK + 0.015, 0.066), (0.0, TRUNK - 0.055, 0.066))])
    yaw = _rot_y(pose.yaw_deg)
    turn = lambda points: points @ yaw.T  # noqa: E731
    return Figure3D(joints=turn(joints), capsules={k: (yaw @ a, yaw @ b) for k, (a, b) in capsules.items()},
                    trunk=turn(np.array(corners)), neckline=turn(neckline), head_centre=yaw @ head_centre,
                    head_rotation=yaw @ head_rotation, trunk_front=yaw @ trunk_rotation @ np.array([0.0, 0.0, 1.0]))


# ----------------------------------------------------------------------------------------------- projection
class ImageMap:
    """Orthographic camera -> image pixels: drop z, y up -> down, roll clockwise by roll_deg, scale, shift."""

    def __init__(self, scale: float, roll_deg: float, offset=(0.0, 0.0)):
        c, s = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
        self.linear = scale * np.array([[c, -s], [s, c]]) @ np.array([[1.0, 0.0], [0.0, -1.0]])
        self.offset = np.asarray(offset, np.float64)
        self.scale = scale

    def points(self, points3: np.ndarray) -> np.ndarray:
        """(..., 3) camera points -> (..., 2) image x, y."""
        return np.asarray(points3)[..., :2] @ self.linear.T + self.offset

    def ellipse(self, centre3: np.ndarray, axes3: Sequence[np.ndarray]) -> Tuple[np.ndarray, float, float, float]:
        """Image ellipse (centre, semi-major, semi-minor, angle in degrees for cv2) of the orthographic shadow of
        the ellipse/ellipsoid with semi-axis vectors `axes3` (2 for a planar ellipse, 3 for an ellipsoid)."""
        vectors = np.array([self.linear @ np.asarray(a)[:2] for a in axes3])       # (n, 2)
        shape = vectors.T @ vectors
        eigenvalues, eigenvectors = np.linalg.eigh(shape)
        major = eigenvectors[:, 1]
        return (self.points(centre3), math.sqrt(max(eigenvalues[1], 0.0)), math.sqrt(max(eigenvalues[0], 0.0)),
                math.degrees(math.atan2(major[1], major[0])))


def figure_extent(figure: Figure3D, image_map: ImageMap) -> np.ndarray:
    """[x1, y1, x2, y2] of everything drawn for `figure` under `image_map` (limb radii included)."""
    ends = np.concatenate([np.array([start for start, _ in figure.capsules.values()]),
                           np.array([end for _, end in figure.capsules.values()]), figure.trunk])
    radii = np.array([RADIUS["neck" if name == "neck" else name.split("_", 1)[1]] for name in figure.capsules])
    radii = np.concatenate([radii, radii, np.zeros(len(figure.trunk))]) * image_map.scale
    head_axes = (figure.head_rotation * np.array(HEAD_SEMI_AXES)).T          # rows: semi-axis vectors
    centre, semi_major, _, _ = image_map.ellipse(figure.head_centre, list(head_axes))
    points = np.concatenate([image_map.points(ends), centre[None]])
    # ears may stick out of the head outline by up to 0.015 H
    radii = np.concatenate([radii, [semi_major + 0.015 * image_map.scale]])
    return np.concatenate([(points - radii[:, None]).min(0), (points + radii[:, None]).max(0)])


# ----------------------------------------------------------------------------------------------- style, drawing
@dataclass
class PersonStyle:
    """RGB colours of one person and clothing cut."""
    skin: np.ndarray
    hair: np.ndarray
    shirt: np.ndarray
    trousers: np.ndarray
    shoes: np.ndarray
    long_sleeves: bool
    shorts: bool


TROUSER_COLOURS = np.array([[40, 60, 110], [30, 30, 35], [150, 130, 95], [90, 90, 95], [70, 50, 40]], np.float64)


def _jitter(rng, colour, amount):
    return np.minimum(np.maximum(np.asarray(colour, np.float64) + rng.uniform(-amount, amount, 3), 0.0), 255.0)


def sample_person_style(rng: np.random.Generator) -> PersonStyle:
    skin = _jitter(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))], 15)
    hair = _jitter(rng, HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], 12)
    if rng.random() < 0.15:                                  # hat
        hair = rng.uniform(0, 255, 3)
    trousers = (_jitter(rng, TROUSER_COLOURS[rng.integers(len(TROUSER_COLOURS))], 20) if rng.random() < 0.6
                else rng.uniform(0, 255, 3))
    return PersonStyle(skin=skin, hair=hair, shirt=rng.uniform(0, 255, 3), trousers=trousers,
                       shoes=_jitter(rng, np.array([35.0, 30.0, 30.0]), 30), long_sleeves=bool(rng.random() < 0.5),
                       shorts=bool(rng.random() < 0.2))


def _pt(point) -> Tuple[int, int]:
    """Pixel-index coordinates (pixel centres at integers) -> cv2 fixed point."""
    return int(round(float(point[0]) * _ONE)), int(round(float(point[1]) * _ONE))


def _colour(rgb) -> Tuple[float, float, float]:
    return tuple(float(v) for v in rgb)


def _shade(depth: float) -> float:
    """Colour factor by depth (camera z in H units): far parts darker (0.7), near parts full colour."""
    return 0.7 + 0.3 * min(max((depth + 0.12) / 0.24, 0.0), 1.0)


class _Painter:
    """Draws every shape on the float RGB image (anti-aliased) and, with the part id, on an uint8 part canvas
    that covers `origin` .. `origin` + canvas size of the image (8-connected, no anti-aliasing)."""

    def __init__(self, image: np.ndarray, canvas: np.ndarray, origin: Tuple[int, int]):
        self.image, self.canvas = image, canvas
        self.shift = np.array(origin, np.float64)

    def capsule(self, start, end, radius, colour, part, outline=None):
        width = max(int(round(2 * radius)), 1)
        if outline is not None and radius >= 2.5:          # a darker rim separates overlapping same-coloured limbs
            self._line(start, end, width + 2, outline, part)
        self._line(start, end, width, colour, part)

    def _line(self, start, end, width, colour, part):
        cv2.line(self.image, _pt(start), _pt(end), _colour(colour), width, cv2.LINE_AA, _SHIFT)
        cv2.line(self.canvas, _pt(np.asarray(start) - self.shift), _pt(np.asarray(end) - self.shift), part, width,
                 cv2.LINE_8, _SHIFT)

    def ellipse(self, centre, semi_a, semi_b, angle, colour, part):
        axes = (max(int(round(semi_a * _ONE)), 1), max(int(round(semi_b * _ONE)), 1))
        cv2.ellipse(self.image, _pt(centre), axes, angle, 0, 360, _colour(colour), -1, cv2.LINE_AA, _SHIFT)
        cv2.ellipse(self.canvas, _pt(np.asarray(centre) - self.shift), axes, angle, 0, 360, part, -1, cv2.LINE_8,
                    _SHIFT)

    def polygon(self, points, colour, part):
        points = np.asarray(points, np.float64)
        cv2.fillPoly(self.image, [np.round(points * _ONE).astype(np.int32)], _colour(colour), cv2.LINE_AA, _SHIFT)
        cv2.fillPoly(self.canvas, [np.round((points - self.shift) * _ONE).astype(np.int32)], part, cv2.LINE_8,
                     _SHIFT)


def _draw_head(painter: _Painter, figure: Figure3D, image_map: ImageMap, joints_px: np.ndarray,
               style: PersonStyle) -> None:
    """Hair-coloured head ellipsoid, face patch, ears, eyes, nose and mouth where the head shows them."""
    part, scale, rotation = PART_IDS["head"], image_map.scale, figure.head_rotation
    shade = _shade(float(figure.head_centre[2]))
    a, b, c = HEAD_SEMI_AXES
    centre, semi_a, semi_b, angle = image_map.ellipse(figure.head_centre, [rotation[:, 0] * a, rotation[:, 1] * b,
                                                                           rotation[:, 2] * c])
    painter.ellipse(centre, semi_a, semi_b, angle, style.hair * shade, part)
    face_normal_z = float(rotation[2, 2])
    if face_normal_z > -0.1:
        # face patch: a planar ellipse on the front of the head, below the hair line
        patch_centre = figure.head_centre + rotation @ np.array([0.0, -0.01, 0.55 * c])
        painter.ellipse(*image_map.ellipse(patch_centre, [rotation[:, 0] * 0.8 * a, rotation[:, 1] * 0.75 * b]),
                        style.skin * shade, part)
    for name in ("left_ear", "right_ear"):
        if figure.face_point_shows(name):
            up_angle = image_map.ellipse(figure.head_centre, [rotation[:, 1]])[3]     # long axis along the head
            painter.ellipse(joints_px[JOINT[name]], max(0.015 * scale, 0.8), max(0.009 * scale, 0.6), up_angle,
                            style.skin * 0.8 * shade, part)
    if figure.face_point_shows("nose") and face_normal_z > 0.2:
        mouth = [figure.head_centre + rotation @ np.array([sx * 0.014, -0.047, 0.046]) for sx in (-1, 1)]
        painter.capsule(image_map.points(mouth[0]), image_map.points(mouth[1]), max(0.002 * scale, 0.5),
                        style.skin * np.array([0.75, 0.42, 0.45]), part)
    for name in ("left_eye", "right_eye"):
        if figure.face_point_shows(name):
            if scale > 250:
                painter.ellipse(joints_px[JOINT[name]], 0.011 * scale, 0.007 * scale, 0.0, (235.0, 235.0, 235.0), part)
            radius = max(0.0065 * scale, 0.6)
            painter.ellipse(joints_px[JOINT[name]], radius, radius, 0.0, (30.0, 25.0, 20.0), part)
    if figure.face_point_shows("nose"):
        radius = max(0.009 * scale, 0.6)
        painter.ellipse(joints_px[JOINT["nose"]], radius, radius, 0.0, style.skin * 0.62 * shade, part)


def draw_person(image: np.ndarray, figure: Figure3D, image_map: ImageMap, joints_px: np.ndarray,
                style: PersonStyle, extent: Optional[np.ndarray] = None) -> Tuple[np.ndarray, Tuple[int, int]]:
    """Draw the figure on `image`, parts far to near, limbs between the integer joints `joints_px` (17, 2).
    extent: figure_extent(figure, image_map) if already known. Returns (part canvas uint8 with part ids,
    (x0, y0) of the canvas in the image): the drawn pixels inside the image."""
    height, width = image.shape[:2]
    extent = figure_extent(figure, image_map) if extent is None else extent
    x0, y0 = max(int(math.floor(extent[0])) - 2, 0), max(int(math.floor(extent[1])) - 2, 0)
    x1, y1 = min(int(math.ceil(extent[2])) + 3, width), min(int(math.ceil(extent[3])) + 3, height)
    canvas = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.uint8)
    if canvas.size == 0:
        return canvas, (x0, y0)
    painter = _Painter(image, canvas, (x0, y0))
    colours = {"upper_arm": style.shirt, "forearm": style.shirt if style.long_sleeves else style.skin,
               "hand": style.skin, "thigh": style.trousers, "shank": style.skin if style.shorts else style.trousers,
               "foot": style.shoes, "neck": style.skin}
    joint_of = {"upper_arm": ("shoulder", "elbow"), "forearm": ("elbow", "wrist"), "thigh": ("hip", "knee"),
                "shank": ("knee", "ankle")}
    # (depth key, name): a small bias keeps the trunk under limbs at equal depth and the head on top
    order = [(float((a[2] + b[2]) / 2) + (0.03 if name == "neck" else 0.0), name)
             for name, (a, b) in figure.capsules.items()]
    order += [(float(figure.trunk[:, 2].mean()) - 0.05, "trunk"), (float(figure.head_centre[2]) + 0.06, "head")]
    for depth, name in sorted(order):
        if name == "trunk":
            shade = _shade(depth + 0.05)
            corners = image_map.points(figure.trunk).astype(np.float32)
            painter.polygon(cv2.convexHull(corners)[:, 0, :], style.shirt * shade, PART_IDS["trunk"])
            if figure.trunk_front[2] > 0.25:
                painter.polygon(image_map.points(figure.neckline), style.skin * shade, PART_IDS["trunk"])
            continue
        if name == "head":
            _draw_head(painter, figure, image_map, joints_px, style)
            continue
        kind = "neck" if name == "neck" else name.split("_", 1)[1]
        side = name.split("_", 1)[0]
        start, end = figure.capsules[name]
        if kind in joint_of:            # limbs run exactly between the labelled (integer) joints
            start_px = joints_px[JOINT[f"{side}_{joint_of[kind][0]}"]]
            end_px = joints_px[JOINT[f"{side}_{joint_of[kind][1]}"]]
        else:
            start_px, end_px = image_map.points(start), image_map.points(end)
        colour = colours[kind] * _shade(depth)
        painter.capsule(start_px, end_px, RADIUS[kind] * image_map.scale, colour, PART_IDS[name],
                        outline=None if kind in ("hand", "neck") else colour * 0.55)
    return canvas, (x0, y0)


# ----------------------------------------------------------------------------------------------- scenes
@dataclass
class PersonLabel:
    """One drawn person. joints (17, 2) int: where the joints are (also outside the image); keypoints (17, 3)
    int COCO [x, y, v]; box [x, y, w, h] (pixel-centre span, see module docstring); area: figure pixels;
    segmentation: COCO polygons; pose; border_cut: part of the figure lies outside the image; joint_depth
    (17,): camera z in H units (larger = nearer)."""
    joints: np.ndarray
    keypoints: np.ndarray
    box: np.ndarray
    area: int
    segmentation: List[List[float]]
    pose: Pose
    border_cut: bool
    joint_depth: np.ndarray

    @property
    def num_keypoints(self) -> int:
        return int(np.count_nonzero(self.keypoints[:, 2] > 0))


@dataclass
class Scene:
    """A rendered image (uint8 RGB) and its persons. owner (H, W) int32: what each pixel shows, person number
    (1-based, drawing order) * PARTS_PER_PERSON + part id, OCCLUDER_CODE for foreground occluders, 0 for the
    background. background: when asked for, the image without persons and occluders, finished (blur,
    darkening, noise) exactly as the image. counts: occluders, blurred, darkened."""
    image: np.ndarray
    persons: List[PersonLabel]
    owner: np.ndarray
    background: Optional[np.ndarray] = None
    counts: Counter = field(default_factory=Counter)


def _box_share(a, b) -> float:
    """Intersection area / smaller area of two [x1, y1, x2, y2] boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))


def _place(rng, box_w, box_h, width, height, border_cut) -> Tuple[float, float]:
    """Top-left corner of a box_w x box_h box: inside the image, or crossing one border with 35..80 % of the
    box (along that axis) inside."""
    x = rng.uniform(min(0.0, width - box_w), max(0.0, width - box_w))
    y = rng.uniform(min(0.0, height - box_h), max(0.0, height - box_h))
    if border_cut:
        inside = rng.uniform(0.35, 0.8)
        side = int(rng.integers(4))
        if side == 0:
            x = -(1 - inside) * box_w
        elif side == 1:
            x = width - inside * box_w
        elif side == 2:
            y = -(1 - inside) * box_h
        else:
            y = height - inside * box_h
    return x, y


def draw_distractors(image: np.ndarray, rng: np.random.Generator, max_size: float) -> int:
    """Body-part-like clutter without a skeleton: chains of 2-3 limb capsules, and heads without a body."""
    height, width = image.shape[:2]
    count = int(rng.integers(0, 5))
    for _ in range(count):
        size = math.exp(rng.uniform(math.log(MIN_PERSON_HEIGHT), math.log(max(max_size, MIN_PERSON_HEIGHT + 1))))
        style = sample_person_style(rng)
        point = np.array([rng.uniform(0, width), rng.uniform(0, height)])
        if rng.random() < 0.7:
            colour = style.shirt if rng.random() < 0.5 else style.skin
            for _segment in range(int(rng.integers(2, 4))):
                angle = rng.uniform(0, 2 * math.pi)
                end = point + 0.2 * size * np.array([math.cos(angle), math.sin(angle)])
                cv2.line(image, _pt(point), _pt(end), _colour(colour), max(int(0.06 * size), 1), cv2.LINE_AA, _SHIFT)
                point = end
        else:
            axes = (max(int(0.044 * size * _ONE), 1), max(int(0.065 * size * _ONE), 1))
            cv2.ellipse(image, _pt(point), axes, rng.uniform(-30, 30), 0, 360, _colour(style.hair), -1, cv2.LINE_AA,
                        _SHIFT)
    return count


def _draw_occluder(image, owner, box, rng) -> None:
    """A foreground shape (table, sign, bag...) over part of the person box [x1, y1, x2, y2]."""
    x1, y1, x2, y2 = box
    size = (y2 - y1) * rng.uniform(0.2, 0.45)
    cx, cy = rng.uniform(x1, x2), rng.uniform(y1 + 0.3 * (y2 - y1), y2)
    colour = _colour(rng.uniform(0, 255, 3))
    if rng.random() < 0.5:
        half_w, half_h, angle = size * rng.uniform(0.5, 1.2), size * rng.uniform(0.3, 0.7), rng.uniform(-20, 20)
        corners = cv2.boxPoints(((cx, cy), (2 * half_w, 2 * half_h), angle))
    else:
        angles = np.sort(rng.uniform(0, 2 * math.pi, int(rng.integers(3, 8))))
        radii = size * rng.uniform(0.5, 1.0, len(angles))
        corners = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
    fixed = np.round(np.asarray(corners) * _ONE).astype(np.int32)
    cv2.fillPoly(image, [fixed], colour, cv2.LINE_AA, _SHIFT)
    cv2.fillPoly(owner, [fixed], OCCLUDER_CODE, cv2.LINE_8, _SHIFT)


def _polygons(mask: np.ndarray, origin: Tuple[int, int]) -> List[List[float]]:
    """COCO segmentation polygons (outer contours, simplified to 1 px) of a binary mask placed at origin."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        contour = cv2.approxPolyDP(contour, 1.0, True)[:, 0, :]
        if len(contour) >= 3:
            polygons.append([float(v) for v in (contour + np.array(origin)).ravel()])
    return polygons


def sample_image_size(rng: np.random.Generator, image_size: int) -> Tuple[int, int]:
    """(height, width): long side image_size x U(0.625, 1.25), short side 0.6..1 of it, 65 % landscape."""
    long_side = int(round(image_size * rng.uniform(0.625, 1.25)))
    short_side = int(round(long_side * rng.uniform(0.6, 1.0)))
    return (short_side, long_side) if rng.random() < 0.65 else (long_side, short_side)


def label_person(number: int, joints: np.ndarray, figure: Figure3D, owner: np.ndarray, rng: np.random.Generator,
                 height_px: float, drops: bool = True) -> np.ndarray:
    """COCO [x, y, v] (17, 3) of person `number` (owner codes number * PARTS_PER_PERSON + part) whose integer
    joints are `joints` (17, 2), from the final owner map (rules in the module docstring); height_px: its box
    height (small persons are more often left unlabelled); drops False: no random joint drops and no unlabelled
    persons (the draws are made all the same)."""
    height, width = owner.shape
    keypoints = np.zeros((NUM_JOINTS, 3), np.int64)
    partner, joint_depth = COCO_PERSON.flip_order, figure.joints[:, 2]
    unlabelled = UNLABELLED_PERSON_PROBABILITY["small" if height_px < SMALL_PERSON_HEIGHT else "other"]
    drop_all = rng.random() < unlabelled and drops
    dropped = (rng.random(NUM_JOINTS) < JOINT_DROP_PROBABILITY) & drops
    for j, name in enumerate(COCO_PERSON.names):
        x, y = int(joints[j, 0]), int(joints[j, 1])
        if drop_all or dropped[j] or not (0 <= x < width and 0 <= y < height):
            continue
        if name in FACE_POINTS and not figure.face_point_shows(name):
            continue
        code = int(owner[y, x])
        own = code // PARTS_PER_PERSON == number and code % PARTS_PER_PERSON in JOINT_PARTS[j]
        if own and code % PARTS_PER_PERSON == PART_IDS["trunk"]:
            pair_distance = float(np.linalg.norm(figure.joints[partner[j]] - figure.joints[j]))
            if joint_depth[partner[j]] - joint_depth[j] > FAR_SIDE_SINE * pair_distance:
                own = False             # a far shoulder/hip seen through the trunk in a side view
        keypoints[j] = (x, y, 2 if own else 1)
    return keypoints


def render_scene(rng: np.random.Generator, height: int, width: int, max_people: int = 6,
                 keep_background: bool = False, person_height: Optional[Tuple[float, float]] = None,
                 clutter: bool = True, pose_kinds: Optional[Sequence[str]] = None, frontal: bool = False) -> Scene:
    """One synthetic image (uint8 RGB, height x width) with 1..max_people labelled persons (see Scene).
    keep_background costs a copy of the image and draws nothing more from `rng`: the scene is the same.
    person_height (low, high): box heights log-uniform in [low, high] x the image height (at least
    MIN_PERSON_HEIGHT px, boxes wider than the image are shrunk to fit) instead of the default range; clutter
    False: a plain scene for quick learning checks (a gradient background without shapes; no distractors,
    occluders, border cuts, random joint drops, unlabelled persons, blur or darkening); pose_kinds: each person's
    pose kind drawn uniformly from these (default: from POSE_KIND_PROBABILITIES); frontal: every person faces the
    camera (yaw of sample_yaw's frontal branch, N(0, 15) clipped to +-35 degrees), so left and right need no
    facing cue."""
    image = draw_background(rng, height, width, shapes=clutter)
    if clutter:
        draw_distractors(image, rng, 0.5 * height)
    background = image.copy() if keep_background else None
    count = int(rng.integers(1, max_people + 1))
    high = max(0.95 * height if count == 1 else height * max(0.3, 1.1 / math.sqrt(count)), MIN_PERSON_HEIGHT)
    low = MIN_PERSON_HEIGHT
    if person_height is not None:
        low, high = (max(fraction * height, MIN_PERSON_HEIGHT) for fraction in person_height)
    placed = []
    for _ in range(count):
        kind = None if pose_kinds is None else pose_kinds[int(rng.integers(len(pose_kinds)))]
        pose, style = sample_pose(rng, kind), sample_person_style(rng)
        if frontal:
            pose = replace(pose, yaw_deg=min(max(float(rng.normal(0.0, 15.0)), -35.0), 35.0))
        target = math.exp(rng.uniform(math.log(low), math.log(max(high, low))))
        figure = pose_figure(pose)
        unit = figure_extent(figure, ImageMap(1.0, pose.roll_deg))
        if person_height is not None:           # keep the whole figure inside the image
            target = min(target, (width - 1) * (unit[3] - unit[1]) / (unit[2] - unit[0]))
        scale = target / (unit[3] - unit[1])
        box_w, box_h = scale * (unit[2] - unit[0]), target
        border_cut = rng.random() < BORDER_CUT_PROBABILITY and clutter
        for _attempt in range(20):
            x, y = _place(rng, box_w, box_h, width, height, border_cut)
            box = (x, y, x + box_w, y + box_h)
            if all(_box_share(box, other[0]) <= MAX_BOX_SHARE for other in placed):
                offset = np.array([x, y]) - scale * unit[:2]
                placed.append((box, pose, style, figure, ImageMap(scale, pose.roll_deg, offset)))
                break
    placed.sort(key=lambda item: item[0][3])                 # lower in the image = nearer: drawn later
    owner = np.zeros((height, width), np.int32)
    drawn = []
    for number, (box, pose, style, figure, image_map) in enumerate(placed, start=1):
        joints = np.floor(image_map.points(figure.joints) + 0.5).astype(np.int64)
        extent = figure_extent(figure, image_map)
        canvas, (x0, y0) = draw_person(image, figure, image_map, joints, style, extent)
        mask = canvas > 0
        if np.count_nonzero(mask) == 0:
            continue
        view = owner[y0:y0 + canvas.shape[0], x0:x0 + canvas.shape[1]]
        view[mask] = number * PARTS_PER_PERSON + canvas[mask]
        rows, cols = np.nonzero(mask)
        border_cut = bool(extent[0] < 0 or extent[1] < 0 or extent[2] > width - 1 or extent[3] > height - 1)
        drawn.append((number, figure, image_map, joints, mask, (x0, y0), pose, border_cut,
                      np.array([cols.min() + x0, rows.min() + y0, cols.max() + x0, rows.max() + y0], np.float64)))
    counts = Counter()
    if drawn and rng.random() < OCCLUDER_PROBABILITY and clutter:
        for _ in range(int(rng.integers(1, 3))):
            target = drawn[int(rng.integers(len(drawn)))][-1]
            _draw_occluder(image, owner, target, rng)
            counts["occluders"] += 1
    persons = []
    for number, figure, image_map, joints, mask, origin, pose, border_cut, xyxy in drawn:
        keypoints = label_person(number, joints, figure, owner, rng, xyxy[3] - xyxy[1], drops=clutter)
        persons.append(PersonLabel(joints=joints, keypoints=keypoints,
                                   box=np.array([xyxy[0], xyxy[1], xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]]),
                                   area=int(np.count_nonzero(mask)), segmentation=_polygons(mask, origin), pose=pose,
                                   border_cut=border_cut, joint_depth=figure.joints[:, 2]))
    blur = rng.uniform(0.5, 1.2) if rng.random() < 0.1 and clutter else 0.0
    darken = rng.uniform(0.4, 0.7) if rng.random() < 0.1 and clutter else 1.0
    # grey sensor noise, one draw per pixel shared by the channels: uniform with std 0..6 (uniform draws cost a
    # fifth of normal ones)
    noise = rng.random((height, width), dtype=np.float32)
    noise -= np.float32(0.5)
    noise *= np.float32(rng.uniform(0.0, 6.0) * math.sqrt(12.0))
    noise = cv2.merge([noise, noise, noise])
    counts.update(blurred=int(blur > 0), darkened=int(darken < 1))
    finish = lambda canvas: _finish(canvas, blur, darken, noise)  # noqa: E731
    return Scene(finish(image), persons, owner, None if background is None else finish(background), counts)


def _finish(image: np.ndarray, blur_sigma: float, darken: float, noise: np.ndarray) -> np.ndarray:
    """Blur (sigma 0 = none), darken (factor), add noise and round/saturate to uint8 (cv2.add does both in one
    pass; numpy's clip and broadcasting over a last axis of 3 cost ~10x more)."""
    if blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), blur_sigma)
    if darken < 1:
        image = image * np.float32(darken)
    return cv2.add(image, noise, dtype=cv2.CV_8U)


# ----------------------------------------------------------------------------------------------- data set
def coco_annotation(ann_id: int, image_id: int, person: PersonLabel) -> dict:
    """COCO person_keypoints annotation of `person` (keys in the order of the real COCO files)."""
    return {"segmentation": person.segmentation, "num_keypoints": person.num_keypoints, "area": float(person.area),
            "iscrowd": 0, "keypoints": [int(v) for v in person.keypoints.ravel()], "image_id": image_id,
            "bbox": [float(v) for v in person.box], "category_id": PERSON_CATEGORY["id"], "id": ann_id}


def coco_document(split: str, seed: int, images: list, annotations: list) -> dict:
    """The json document of one split (info without a date: byte-identical output for a seed)."""
    return {"info": {"description": f"Synthetic COCO person keypoints ({split}, seed {seed}), "
                                    f"generated by src/data/synthetic_pose.py", "version": "1.0"},
            "licenses": [{"url": "", "id": 1, "name": "Synthetic images generated by this repository"}],
            "images": images, "annotations": annotations, "categories": [PERSON_CATEGORY]}


def _encode_jpeg(image_rgb: np.ndarray, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("cv2.imencode failed to encode a JPEG")
    return data.tobytes()


def annotation_path(out_dir: str, split: str) -> str:
    return os.path.join(out_dir, "annotations", f"person_keypoints_{split}.json")


def _prepare_out_dir(out_dir: str, overwrite: bool) -> None:
    """Refuse a non-empty output folder unless overwrite; with overwrite remove only what this module writes."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise FileExistsError(f"{out_dir} exists and is not a folder")
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        if not overwrite:
            raise FileExistsError(f"{out_dir} exists and is not empty; pass overwrite=True (--overwrite) to replace "
                                  "the data set in it")
        for split in SPLITS:
            shutil.rmtree(os.path.join(out_dir, split), ignore_errors=True)
            if os.path.exists(annotation_path(out_dir, split)):
                os.remove(annotation_path(out_dir, split))
    os.makedirs(out_dir, exist_ok=True)


def _generate_split(split, out_dir, count, seed, image_size, max_people, progress, person_height, clutter,
                    pose_kinds, frontal):
    """Render and write the images of one split; returns (coco document, counts)."""
    images, annotations = [], []
    counts = Counter()
    image_dir = os.path.join(out_dir, split)
    os.makedirs(image_dir, exist_ok=True)
    for index in tqdm(range(count), desc=f"synthetic pose {split}", unit="img", disable=not progress):
        rng = np.random.default_rng([seed, SPLIT_CODES[split], index])
        height, width = sample_image_size(rng, image_size)
        scene = render_scene(rng, height, width, max_people, person_height=person_height, clutter=clutter,
                             pose_kinds=pose_kinds, frontal=frontal)
        image_id = ID_BASE[split] + index + 1
        file_name = f"{image_id:012d}.jpg"
        atomic_write_bytes(os.path.join(image_dir, file_name), _encode_jpeg(scene.image, int(rng.integers(75, 96))))
        images.append({"license": 1, "file_name": file_name, "coco_url": "", "height": height, "width": width,
                       "date_captured": "", "flickr_url": "", "id": image_id})
        for person in scene.persons:
            annotations.append(coco_annotation(ID_BASE[split] + len(annotations) + 1, image_id, person))
            v = person.keypoints[:, 2]
            counts.update(persons=1, labelled=int(np.count_nonzero(v > 0)), visible=int(np.count_nonzero(v == 2)),
                          occluded=int(np.count_nonzero(v == 1)), no_joints=int(person.num_keypoints == 0),
                          border_cut=int(person.border_cut))
        counts["images"] += 1
    return coco_document(split, seed, images, annotations), counts


def generate(out_dir: str, num_train: int, num_val: int, seed: int, image_size: int = 512, max_people: int = 6,
             overwrite: bool = False, progress: bool = True, person_height: Optional[Tuple[float, float]] = None,
             clutter: bool = True, pose_kinds: Optional[Sequence[str]] = None,
             frontal: bool = False) -> Dict[str, object]:
    """Write the synthetic pose data set (layout in the module docstring). Returns name -> path of what was
    written (train_images, train_json, val_images, val_json; splits with 0 images are left out) and "counts":
    split -> Counter(images, persons, labelled, visible, occluded, no_joints, border_cut). person_height,
    clutter, pose_kinds, frontal: see render_scene (the defaults give the data set of the module docstring)."""
    if num_train < 0 or num_val < 0:
        raise ValueError(f"num_train and num_val must be >= 0, got {num_train} and {num_val}")
    if image_size < 96:
        raise ValueError(f"image_size must be >= 96 pixels (smallest short side 0.375 * image_size must hold a "
                         f"{MIN_PERSON_HEIGHT} px person), got {image_size}")
    if max_people < 1:
        raise ValueError(f"max_people must be >= 1, got {max_people}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if person_height is not None and not (len(person_height) == 2 and 0 < person_height[0] <= person_height[1] <= 1):
        raise ValueError(f"person_height must be two fractions of the image height, 0 < low <= high <= 1, got "
                         f"{person_height}")
    if pose_kinds is not None and (not pose_kinds or set(pose_kinds) - set(POSE_KIND_PROBABILITIES)):
        raise ValueError(f"pose_kinds must be a non-empty subset of {list(POSE_KIND_PROBABILITIES)}, got "
                         f"{list(pose_kinds)}")
    start = time.time()
    _prepare_out_dir(out_dir, overwrite)
    result: Dict[str, object] = {"counts": {}}
    total = Counter()
    for split, count in zip(SPLITS, (num_train, num_val)):
        if count == 0:
            continue
        document, counts = _generate_split(split, out_dir, count, seed, image_size, max_people, progress,
                                           person_height, clutter, pose_kinds, frontal)
        key = split[:-4]
        result[f"{key}_images"] = os.path.join(out_dir, split)
        result[f"{key}_json"] = annotation_path(out_dir, split)
        # the json last: an interrupted run leaves no annotation file pointing at missing images
        write_json_atomic(result[f"{key}_json"], document, separators=(",", ":"))
        result["counts"][split] = counts
        total.update(counts)
    elapsed = time.time() - start
    if progress:
        print(f"synthetic pose: {total['images']} images, {total['persons']} persons "
              f"({total['no_joints']} without joints, {total['border_cut']} cut by the border), "
              f"{total['labelled']} labelled joints ({total['visible']} visible, {total['occluded']} occluded); "
              f"{elapsed:.1f} s ({total['images'] / max(elapsed, 1e-9):.0f} images/s) -> {out_dir}")
    return result


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    parser = argparse.ArgumentParser(description="Generate the synthetic COCO person-keypoint data set "
                                                 "(see the module docstring).")
    parser.add_argument("--output_path", required=True, help="output folder (train2017/, val2017/, annotations/)")
    parser.add_argument("--num_train", type=int, required=True)
    parser.add_argument("--num_val", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--image_size", type=int, default=512, help="typical long side (drawn in 0.625..1.25 x)")
    parser.add_argument("--max_people", type=int, default=6, help="most persons per image")
    parser.add_argument("--person_height", type=lambda text: tuple(float(v) for v in text.split(",")),
                        help="LOW,HIGH: person box heights log-uniform in this range of fractions of the image "
                             "height (default: 32 px up to 0.95 x the image height)")
    parser.add_argument("--no_clutter", action="store_true", help="plain scenes: a gradient background, no "
                        "distractors, occluders, border cuts, joint drops, unlabelled persons, blur or darkening")
    parser.add_argument("--pose_kinds", type=lambda text: text.split(","),
                        help=f"KIND,...: pose kinds drawn uniformly from these (of "
                             f"{','.join(POSE_KIND_PROBABILITIES)}; default: all, with the module's probabilities)")
    parser.add_argument("--frontal", action="store_true", help="every person faces the camera (+-35 degrees)")
    parser.add_argument("--overwrite", action="store_true", help="replace the data set in a non-empty --output_path")
    args = parser.parse_args(argv)
    try:
        return generate(args.output_path, args.num_train, args.num_val, args.seed, args.image_size, args.max_people,
                        overwrite=args.overwrite, person_height=args.person_height, clutter=not args.no_clutter,
                        pose_kinds=args.pose_kinds, frontal=args.frontal)
    except (ValueError, FileExistsError) as error:
        raise SystemExit(f"synthetic_pose: error: {error}") from None


if __name__ == "__main__":
    main()
