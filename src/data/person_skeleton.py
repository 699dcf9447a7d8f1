"""A posed 3-D person of standing height 1: anthropometric proportions, pose angles, random poses of several
kinds, and forward kinematics to the joints and drawable parts (src/data/person_drawing.py projects and draws
it; src/data/synthetic_pose.py builds scenes and COCO labels from it).

The figure is a stick-and-limb body posed by joint angles and turned by a body yaw (0 = facing the camera,
+90 = facing image right, 180 = facing away); the camera is orthographic (x image right, y up, z toward the
camera). Pose kinds: standing, walking, arms raised, gesturing, sitting, crouching. Limbs are capsules, the
trunk a slab, the head an ellipsoid with facial points on it. Segment lengths are fractions of the standing
height H from Drillis & Contini's anthropometric table (as reproduced in D. A. Winter, "Biomechanics and Motor
Control of Human Movement", Fig. 4.1): upper arm 0.186 H, forearm 0.146 H, hand 0.108 H, thigh 0.245 H, shank
0.246 H, ankle height 0.039 H, hip (trochanter) height 0.530 H, shoulder height 0.818 H (trunk hip->shoulder
0.288 H), chin 0.870 H, head chin->vertex 0.130 H, shoulder breadth 0.259 H, hip breadth 0.191 H. Our own
approximations on top: shoulder joint centres 0.85 of the shoulder breadth apart (+-0.11 H), hip joint centres
0.6 of the hip breadth apart (+-0.057 H), head ellipsoid semi-axes 0.044 (across) x 0.065 (up) x 0.056
(front-back) H, interpupillary distance 0.036 H.

"Left" is the person's left, as in COCO: a person facing the camera has the left shoulder at the larger x.
"""
import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from .keypoints import COCO_PERSON

NUM_JOINTS = COCO_PERSON.num_points
JOINT = {name: index for index, name in enumerate(COCO_PERSON.names)}


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

