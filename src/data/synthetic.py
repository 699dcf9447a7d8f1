"""Procedural synthetic face data set: images with exactly known face boxes and 5 landmarks.

Powers unit tests, CPU convergence checks and the demo without downloading WIDER FACE:

    python -m src.data.synthetic --output_path DIR --num_train 200 --num_val 40 --seed 0 [--image_size 320]
        [--min_face 8] [--max_face 300] [--overwrite]

Each image has a cluttered background (colour gradient, random shapes, face-like skin blobs without eyes
as distractors) and faces drawn as tilted head ellipses (in-plane rotation up to +-30 degrees) with hair,
eyes, eyebrows, nose and mouth. The 5 landmarks are where the features are drawn: eye landmark = iris
centre, nose landmark = nose tip (nostrils), mouth landmarks = the two ends of the lips. Some faces are
partly hidden by random occluders; image-level blur, darkening and sensor noise vary the look.

Coordinates are continuous pixel-area coordinates: pixel (col, row) spans [col, col + 1) x [row, row + 1).
Face box = the tight axis-aligned box of the head ellipse (hair included), [x1, y1, x2, y2] with
w = x2 - x1; faces lie fully inside the image and their box height is the sampled face size.

Train images are image_size x image_size; validation images are image_size wide and 0.75..1.25 x
image_size high (WIDER images vary in aspect ratio too). Scenes set the number and size of faces:
portrait (1-2 faces, 35..95 % of the short side), group (2-8, 7..30 %), crowd (10-40, min_face..12 %),
street (1-12, min_face..50 %); sizes are log-uniform within a scene and clipped to [min_face, max_face].
Validation events are one scene each; training scenes are drawn at random.

Layout (COCO json as in the project conventions; WIDER-style validation):
    DIR/train/images/train_000000.jpg ...      DIR/train/train.json
    DIR/val/images/<event>/<stem>.jpg ...      DIR/val/val.json (file_name = "<event>/<stem>.jpg")
    DIR/val/ground_truth/wider_face_val.mat, wider_{easy,medium,hard}_val.mat
Keypoints have v = 2 when the landmark pixel shows the face, v = 0 (x = y = 0) when an occluder or another
face covers it. Settings (by the integer WIDER box height h and the occlusion label): easy h >= 50 and not
heavily occluded, medium h >= 20 and not heavily occluded, hard h >= 8 (easy within medium within hard).
Occlusion label as in WIDER: 0 none (< 1 % of the head hidden), 1 partial (<= 30 %), 2 heavy (> 30 %).
The same seed gives byte-identical json/.mat files and identical images; image i of a split depends only
on (seed, split, i).

The background, the palettes, placement without too much overlap and where occluders go are the scene pieces
all three generators share (src/data/synthetic_scene.py); the faces keep their own finish (normal sensor noise,
rounded half up through numpy) because its blur and darkening are labelled as WIDER attributes and the data
set must stay byte for byte what it was.
"""
import argparse
import math
import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from src.io_utils import atomic_write_bytes, write_json_atomic

from .prepare_widerface import coco_document, face_annotation
from .raster import AREA, draw_ellipse, draw_line, fill_polygon
from .synthetic_coco import encode_jpeg, one_line_errors, prepare_output_folder
from .synthetic_scene import (HAIR_COLOURS, SKIN_TONES, draw_background, first_fit, jitter_colour, occluder_anchor,
                              random_polygon)
from .wider_gt import SETTINGS, write_wider_gt

VAL_EVENTS = ("0--Synthetic_Street", "1--Synthetic_Crowd", "2--Synthetic_Group", "3--Synthetic_Portrait")
EVENT_SCENES = {event: event.split("_")[-1].lower() for event in VAL_EVENTS}
TRAIN_SCENE_PROBABILITIES = {"street": 0.35, "group": 0.25, "crowd": 0.2, "portrait": 0.2}
SETTING_MIN_HEIGHT = {"easy": 50, "medium": 20, "hard": 8}
HEAVY_OCCLUSION = 2
MAX_TILT_DEG = 30.0
MAX_OVERLAP = 0.15          # intersection / smaller box area allowed between two faces
OCCLUDED_FACE_PROBABILITY = 0.2
SPLIT_CODES = {"train": 0, "val": 1}


# ----------------------------------------------------------------------------------------------- geometry
@dataclass
class Face:
    """A drawn face. cx, cy: head ellipse centre; semi_x / semi_y: semi-axes across / along the face before
    the in-plane rotation tilt_deg (clockwise on screen, y points down); landmarks (5, 2) x, y in the order
    left eye, right eye, nose, left mouth corner, right mouth corner; mouth_open: lip half-height / semi_y."""
    cx: float
    cy: float
    semi_x: float
    semi_y: float
    tilt_deg: float
    landmarks: np.ndarray
    mouth_open: float
    hair_line: float          # skin ellipse offset down the face (fraction of semi_y); 0 = no hair

    def box(self) -> np.ndarray:
        """Tight box [x1, y1, x2, y2] of the rotated head ellipse."""
        t = math.radians(self.tilt_deg)
        half_w = math.hypot(self.semi_x * math.cos(t), self.semi_y * math.sin(t))
        half_h = math.hypot(self.semi_x * math.sin(t), self.semi_y * math.cos(t))
        return np.array([self.cx - half_w, self.cy - half_h, self.cx + half_w, self.cy + half_h])

    def translate(self, dx: float, dy: float) -> None:
        self.cx, self.cy = self.cx + dx, self.cy + dy
        self.landmarks = self.landmarks + np.array([dx, dy])

    def to_image(self, u: float, v: float) -> Tuple[float, float]:
        """Face-frame point (u across, v down the face, in units of semi_x / semi_y) -> image x, y."""
        t = math.radians(self.tilt_deg)
        du, dv = u * self.semi_x, v * self.semi_y
        return self.cx + du * math.cos(t) - dv * math.sin(t), self.cy + du * math.sin(t) + dv * math.cos(t)


def make_face(cx: float, cy: float, height: float, tilt_deg: float, aspect: float,
              rng: np.random.Generator) -> Face:
    """A face whose head box has exactly `height`, centred at (cx, cy), with a jittered feature layout."""
    t = math.radians(tilt_deg)
    semi_x = height / (2.0 * math.sqrt(math.sin(t) ** 2 + (aspect * math.cos(t)) ** 2))
    face = Face(cx, cy, semi_x, aspect * semi_x, tilt_deg, np.zeros((5, 2)),
                mouth_open=float(rng.uniform(0.03, 0.1)),
                hair_line=float(rng.uniform(0.08, 0.2)) if rng.random() < 0.8 else 0.0)
    yaw = rng.uniform(-0.15, 0.15)          # features slide sideways as on a slightly turned head
    eye_u, eye_v = rng.uniform(0.32, 0.42), rng.uniform(-0.2, -0.06)
    nose_v = rng.uniform(0.12, 0.25)
    mouth_u, mouth_v = rng.uniform(0.24, 0.34), rng.uniform(0.42, 0.55)
    local = [(-eye_u + 0.6 * yaw, eye_v), (eye_u + 0.6 * yaw, eye_v), (yaw, nose_v),
             (-mouth_u + 0.8 * yaw, mouth_v), (mouth_u + 0.8 * yaw, mouth_v)]
    face.landmarks = np.array([face.to_image(u, v) for u, v in local])
    return face


# ----------------------------------------------------------------------------------------------- drawing
# in area coordinates (src/data/raster.py)
def _ellipse(canvas, x, y, semi_a, semi_b, angle_deg, colour, antialias=True):
    draw_ellipse(canvas, (x, y), semi_a, semi_b, angle_deg, colour, antialias, origin=AREA)


def _line(canvas, p, q, colour, thickness):
    draw_line(canvas, p, q, colour, thickness, origin=AREA)


@dataclass
class FaceStyle:
    """RGB colours of one face."""
    skin: Tuple[float, ...]
    hair: Tuple[float, ...]
    sclera: Tuple[float, ...]
    iris: Tuple[float, ...]
    brow: Tuple[float, ...]
    nose: Tuple[float, ...]
    lips: Tuple[float, ...]


def sample_style(rng: np.random.Generator) -> FaceStyle:
    skin = jitter_colour(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))], 15)
    hair = jitter_colour(rng, HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], 12)
    if rng.random() < 0.1:                       # hat / dyed hair
        hair = rng.uniform(0, 255, 3)
    iris = jitter_colour(rng, np.array([45, 35, 25]) if rng.random() < 0.8 else np.array([60, 95, 140]), 15)
    as_tuple = lambda c: tuple(float(v) for v in c)  # noqa: E731
    sclera = jitter_colour(rng, np.full(3, 235.), 15)
    return FaceStyle(skin=as_tuple(skin), hair=as_tuple(hair), sclera=as_tuple(sclera),
                     iris=as_tuple(iris), brow=as_tuple(hair * 0.6), nose=as_tuple(skin * 0.72),
                     lips=as_tuple(skin * np.array([0.75, 0.42, 0.45])))


def draw_face(image: np.ndarray, owner: np.ndarray, face_id: int, face: Face, style: FaceStyle) -> None:
    """Draw `face` on the RGB image and mark its head pixels with face_id in `owner`."""
    a, b, tilt = face.semi_x, face.semi_y, face.tilt_deg
    _ellipse(owner, face.cx, face.cy, a, b, tilt, face_id, antialias=False)
    if face.hair_line > 0:
        _ellipse(image, face.cx, face.cy, a, b, tilt, style.hair)
        # skin ellipse shifted down the face; semi-axes chosen so that it stays inside the head ellipse
        sx, sy = face.to_image(0.0, face.hair_line)
        _ellipse(image, sx, sy, 0.88 * a, (0.99 - face.hair_line) * b, tilt, style.skin)
    else:
        _ellipse(image, face.cx, face.cy, a, b, tilt, style.skin)
    detailed = a >= 6.0        # brows and nose bridge only on heads > 12 px wide, where they don't swamp it
    left_eye, right_eye, nose, mouth_l, mouth_r = face.landmarks
    for eye in (left_eye, right_eye):
        _ellipse(image, eye[0], eye[1], 0.15 * a, 0.08 * b, tilt, style.sclera)
        _ellipse(image, eye[0], eye[1], max(0.065 * a, 0.45), max(0.065 * a, 0.45), 0, style.iris)
        if detailed:
            du, dv = 0.14 * a, -0.14 * b
            t = math.radians(tilt)
            centre = (eye[0] - dv * math.sin(t), eye[1] + dv * math.cos(t))
            offset = (du * math.cos(t), du * math.sin(t))
            _line(image, (centre[0] - offset[0], centre[1] - offset[1]),
                  (centre[0] + offset[0], centre[1] + offset[1]), style.brow, 0.05 * a)
    if detailed:
        bridge = ((left_eye[0] + right_eye[0]) / 2, (left_eye[1] + right_eye[1]) / 2)
        _line(image, bridge, nose, style.nose, 0.05 * a)
    _ellipse(image, nose[0], nose[1], max(0.09 * a, 0.5), max(0.05 * b, 0.4), tilt, style.nose)
    mouth_centre = (mouth_l + mouth_r) / 2
    half_width = float(np.hypot(*(mouth_r - mouth_l))) / 2
    angle = math.degrees(math.atan2(mouth_r[1] - mouth_l[1], mouth_r[0] - mouth_l[0]))
    _ellipse(image, mouth_centre[0], mouth_centre[1], half_width, max(face.mouth_open * b, 0.4), angle, style.lips)


def draw_occluder(image, owner, face: Face, rng: np.random.Generator) -> None:
    """Cover part of the face (lower part more often, like a hand or scarf) with a random ellipse or
    polygon; the covered pixels no longer belong to any face in `owner`."""
    size, cx, cy, colour = occluder_anchor(rng, face.box(), (0.3, 0.75))
    if rng.random() < 0.5:
        semi_b, angle = size * rng.uniform(0.2, 0.5), rng.uniform(0, 180)
        _ellipse(image, cx, cy, size / 2, semi_b, angle, colour)
        _ellipse(owner, cx, cy, size / 2, semi_b, angle, 0, antialias=False)
    else:
        points = random_polygon(rng, cx, cy, size / 2, int(rng.integers(3, 7)))
        fill_polygon(image, points, colour, origin=AREA)
        fill_polygon(owner, points, 0, antialias=False, origin=AREA)


def draw_distractors(image: np.ndarray, rng: np.random.Generator, min_face: float, max_face: float) -> int:
    """Face-like skin blobs (some with a hair cap) without eyes, nose or mouth; returns how many."""
    count = int(rng.integers(0, 5))
    height, width = image.shape[:2]
    for _ in range(count):
        size = math.exp(rng.uniform(math.log(min_face), math.log(max_face)))
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        style = sample_style(rng)
        tilt = rng.uniform(-90, 90)
        _ellipse(image, cx, cy, size / 2.5, size / 2, tilt, style.hair if rng.random() < 0.5 else style.skin)
        _ellipse(image, cx, cy + 0.1 * size, size / 2.9, size / 2.4, tilt, style.skin)
    return count


# ----------------------------------------------------------------------------------------------- scenes
# scene -> (min faces, max faces, face height range as fractions of the image's short side)
SCENES = {
    "portrait": (1, 2, 0.35, 0.95),
    "group": (2, 8, 0.07, 0.3),
    "crowd": (10, 40, 0.0, 0.12),
    "street": (1, 12, 0.0, 0.5),
}


def place_faces(rng: np.random.Generator, height: int, width: int, scene: str, min_face: float,
                max_face: float) -> List[Face]:
    """Faces of log-uniform sizes for the scene, fully inside the image, overlapping at most MAX_OVERLAP."""
    low_count, high_count, low_fraction, high_fraction = SCENES[scene]
    short = min(height, width)
    high = min(max_face, high_fraction * short, 0.95 * short)
    low = min(max(min_face, low_fraction * short), high)
    faces, boxes = [], []
    for _ in range(int(rng.integers(low_count, high_count + 1))):
        size = math.exp(rng.uniform(math.log(low), math.log(high)))
        tilt = min(max(float(rng.normal(0.0, 12.0)), -MAX_TILT_DEG), MAX_TILT_DEG)
        face = make_face(0.0, 0.0, size, tilt, rng.uniform(1.15, 1.4), rng)
        x1, y1, x2, y2 = face.box()

        def propose():
            dx, dy = rng.uniform(-x1, width - x2), rng.uniform(-y1, height - y2)
            candidate = (x1 + dx, y1 + dy, x2 + dx, y2 + dy)
            return candidate, (dx, dy, candidate)

        placed = first_fit(propose, boxes, MAX_OVERLAP)
        if placed is not None:
            dx, dy, candidate = placed
            face.translate(dx, dy)
            faces.append(face)
            boxes.append(candidate)
    return faces


@dataclass
class FaceLabel:
    """Annotation of one drawn face: box [x1, y1, x2, y2], landmarks (5, 2), visible (5,) bool,
    occluded fraction of the head and WIDER occlusion label, tilt."""
    box: np.ndarray
    landmarks: np.ndarray
    visible: np.ndarray
    occluded_fraction: float
    occlusion: int
    tilt_deg: float


def _box_slice(box, height, width):
    x1, y1, x2, y2 = box
    return (slice(max(int(y1) - 1, 0), min(int(math.ceil(y2)) + 1, height)),
            slice(max(int(x1) - 1, 0), min(int(math.ceil(x2)) + 1, width)))


def occlusion_label(occluded_fraction: float) -> int:
    """WIDER occlusion label: 0 none (< 1 %), 1 partial (<= 30 %), 2 heavy (> 30 % of the head hidden)."""
    return 0 if occluded_fraction < 0.01 else 1 if occluded_fraction <= 0.3 else HEAVY_OCCLUSION


def label_faces(faces: List[Face], owner: np.ndarray, drawn_pixels: List[int]) -> List[FaceLabel]:
    """Labels from the final owner map (face k drawn with id k + 1): a landmark is visible when its pixel
    still belongs to its face; occluded fraction = head pixels lost since the face was drawn."""
    height, width = owner.shape
    labels = []
    for face_id, (face, total) in enumerate(zip(faces, drawn_pixels), start=1):
        box = face.box()
        owned = np.count_nonzero(owner[_box_slice(box, height, width)] == face_id)
        fraction = 1.0 - owned / max(total, 1)
        cols = np.clip(np.floor(face.landmarks[:, 0]).astype(int), 0, width - 1)
        rows = np.clip(np.floor(face.landmarks[:, 1]).astype(int), 0, height - 1)
        labels.append(FaceLabel(box, face.landmarks, owner[rows, cols] == face_id, fraction,
                                occlusion_label(fraction), face.tilt_deg))
    return labels


def render_image(rng: np.random.Generator, height: int, width: int, scene: str, min_face: float,
                 max_face: float) -> Tuple[np.ndarray, List[FaceLabel], Dict[str, int]]:
    """One synthetic image (uint8 RGB), its face labels and image attributes {blur, illumination}."""
    image = draw_background(rng, height, width)
    draw_distractors(image, rng, min_face, max(min_face, min(height, width) / 2))
    owner = np.zeros((height, width), np.int32)
    faces = place_faces(rng, height, width, scene, min_face, max_face)
    drawn = []
    for face_id, face in enumerate(faces, start=1):
        draw_face(image, owner, face_id, face, sample_style(rng))
        drawn.append(int(np.count_nonzero(owner[_box_slice(face.box(), height, width)] == face_id)))
        if rng.random() < OCCLUDED_FACE_PROBABILITY:
            draw_occluder(image, owner, face, rng)
    attributes = {"blur": 0, "illumination": 0}
    if rng.random() < 0.15:
        sigma = rng.uniform(0.6, 1.8)
        image = cv2.GaussianBlur(image, (0, 0), sigma)
        attributes["blur"] = 1 if sigma < 1.2 else 2
    if rng.random() < 0.15:
        image *= rng.uniform(0.3, 0.6)
        attributes["illumination"] = 1
    # grey sensor noise (one draw per pixel, shared by the channels: a third of the cost of colour noise)
    image += rng.standard_normal((height, width, 1), dtype=np.float32) * np.float32(rng.uniform(0.0, 8.0))
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), label_faces(faces, owner, drawn), attributes


# ----------------------------------------------------------------------------------------------- data set
def wider_box(box: np.ndarray) -> np.ndarray:
    """Float [x1, y1, x2, y2] -> WIDER int [x, y, w, h] with corners rounded to the nearest pixel edge."""
    x1, y1, x2, y2 = (int(math.floor(v + 0.5)) for v in box)
    return np.array([x1, y1, x2 - x1, y2 - y1], np.int32)


def setting_flags(wider_height: int, occlusion: int,
                  min_height: Optional[Dict[str, int]] = None) -> List[bool]:
    """[easy, medium, hard] membership of a face (see module docstring)."""
    min_height = min_height or SETTING_MIN_HEIGHT
    not_heavy = occlusion < HEAVY_OCCLUSION
    return [wider_height >= min_height["easy"] and not_heavy,
            wider_height >= min_height["medium"] and not_heavy,
            wider_height >= min_height["hard"]]


def _coco_face(ann_id: int, image_id: int, label: FaceLabel) -> dict:
    x1, y1, x2, y2 = (round(float(v), 3) for v in label.box)
    keypoints = np.column_stack([np.round(label.landmarks, 3), np.where(label.visible, 2, 0)])
    return face_annotation(ann_id, image_id, [x1, y1, round(x2 - x1, 3), round(y2 - y1, 3)], keypoints)


def _generate_split(split: str, out_dir: str, count: int, seed: int, image_size: int, min_face: float,
                    max_face: float, progress: bool):
    """Render, write the images of one split; returns (coco document, per-event WIDER records, counts)."""
    images, annotations, events = [], [], {}
    counts = Counter(images=0, faces=0, **{s: 0 for s in SETTINGS})
    for index in tqdm(range(count), desc=f"synthetic {split}", unit="img", disable=not progress):
        rng = np.random.default_rng([seed, SPLIT_CODES[split], index])
        if split == "train":
            scenes = list(TRAIN_SCENE_PROBABILITIES)
            scene = scenes[rng.choice(len(scenes), p=list(TRAIN_SCENE_PROBABILITIES.values()))]
            height, event, file_name = image_size, None, f"train_{index:06d}.jpg"
        else:
            event = VAL_EVENTS[index % len(VAL_EVENTS)]
            scene = EVENT_SCENES[event]
            height = int(round(image_size * rng.uniform(0.75, 1.25)))     # WIDER-like varied aspect ratios
            file_name = f"{event}/{event.replace('--', '_')}_{index:05d}.jpg"
        image, labels, attributes = render_image(rng, height, image_size, scene, min_face, max_face)
        path = os.path.join(out_dir, "images", file_name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write_bytes(path, encode_jpeg(image, int(rng.integers(70, 96))))
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": file_name, "width": image_size, "height": height})
        for label in labels:
            annotations.append(_coco_face(len(annotations) + 1, image_id, label))
        counts["images"] += 1
        counts["faces"] += len(labels)
        if event is not None:
            boxes = np.array([wider_box(label.box) for label in labels], np.int32).reshape(-1, 4)
            kept = np.array([setting_flags(int(b[3]), label.occlusion) for b, label in zip(boxes, labels)],
                            bool).reshape(-1, 3)
            for setting, column in zip(SETTINGS, kept.T):
                counts[setting] += int(column.sum())
            n = len(labels)
            events.setdefault(event, []).append((os.path.splitext(os.path.basename(file_name))[0], boxes, kept, {
                "blur": np.full(n, attributes["blur"]), "illumination": np.full(n, attributes["illumination"]),
                "occlusion": np.array([label.occlusion for label in labels], int),
                "pose": np.array([abs(label.tilt_deg) > 20 for label in labels], int)}))
    return coco_document(images, annotations), events, counts


def generate(out_dir: str, num_train: int, num_val: int, seed: int, image_size: int = 320, min_face: float = 8,
             max_face: float = 300, overwrite: bool = False, progress: bool = True) -> Dict[str, str]:
    """Write the synthetic data set (layout in the module docstring); returns name -> path of what was
    written: train_images, train_json, val_images, val_json, val_gt_dir (splits with 0 images are left out)."""
    if num_train < 0 or num_val < 0:
        raise ValueError(f"num_train and num_val must be >= 0, got {num_train} and {num_val}")
    if image_size < 32:
        raise ValueError(f"image_size must be >= 32 pixels, got {image_size}")
    if not 1 <= min_face <= max_face:
        raise ValueError(f"face sizes must satisfy 1 <= min_face <= max_face, got {min_face} and {max_face}")
    if min_face > 0.7 * image_size:
        raise ValueError(f"min_face {min_face} does not fit: it must be <= 0.7 * image_size "
                         f"({0.7 * image_size:g}; validation images can be 0.75 * image_size high)")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    start, paths, summary = time.time(), {}, []
    for split, count in (("train", num_train), ("val", num_val)):
        if count == 0:
            continue
        split_dir = os.path.join(out_dir, split)
        prepare_output_folder(split_dir, overwrite)
        document, events, counts = _generate_split(split, split_dir, count, seed, image_size, min_face, max_face,
                                                   progress)
        paths[f"{split}_images"] = os.path.join(split_dir, "images")
        paths[f"{split}_json"] = os.path.join(split_dir, f"{split}.json")
        write_json_atomic(paths[f"{split}_json"], document, separators=(",", ":"))
        text = f"{split}: {counts['images']} images, {counts['faces']} faces"
        if split == "val":
            paths["val_gt_dir"] = os.path.join(split_dir, "ground_truth")
            write_wider_gt(paths["val_gt_dir"], events)
            text += " (" + ", ".join(f"{s} {counts[s]}" for s in SETTINGS) + ")"
        summary.append(text)
    elapsed = time.time() - start
    if progress:
        total = num_train + num_val
        print(f"synthetic: {'; '.join(summary) or 'nothing to do'}; {elapsed:.1f} s "
              f"({total / max(elapsed, 1e-9):.0f} images/s) -> {out_dir}")
    return paths


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, str]:
    parser = argparse.ArgumentParser(description="Generate the synthetic face data set (see module docstring).")
    parser.add_argument("--output_path", required=True, help="output folder (train/ and val/ are created inside)")
    parser.add_argument("--num_train", type=int, required=True)
    parser.add_argument("--num_val", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--image_size", type=int, default=320, help="image width (train images are square)")
    parser.add_argument("--min_face", type=float, default=8, help="smallest face box height in pixels")
    parser.add_argument("--max_face", type=float, default=300, help="largest face box height (<= 0.95 * image)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing train/ and val/ folders")
    args = parser.parse_args(argv)
    with one_line_errors("synthetic"):
        return generate(args.output_path, args.num_train, args.num_val, args.seed, args.image_size, args.min_face,
                        args.max_face, overwrite=args.overwrite)


if __name__ == "__main__":
    main()
