"""Procedural synthetic multi-person pose data set in the exact COCO person_keypoints layout.

A stand-in for COCO keypoints that a short CPU fine-tuning of the CenterNet pose model can learn from (tests,
demo: training must raise keypoint AP on held-out images):

    python -m src.data.synthetic_pose --output_path DIR --num_train 200 --num_val 40 --seed 0 [--image_size 512]
        [--max_people 6] [--overwrite] [--person_height LOW,HIGH] [--no_clutter] [--pose_kinds KIND,...] [--frontal]

The last four options make an easier set for quick learning checks (scripts/demo_pose.py; see render_scene);
without them the data set is the one described below.

Layout (what the pose training/evaluation scripts read with `--data_dir DIR`, as COCO 2017; written by
src/data/synthetic_coco.py, whose docstring has the id and output-folder rules):
    DIR/train2017/000000000001.jpg ...      DIR/annotations/person_keypoints_train2017.json
    DIR/val2017/000100000001.jpg ...        DIR/annotations/person_keypoints_val2017.json
Category 1 "person" with COCO's 17 keypoint names and 1-based skeleton.

People. Each person is a 3-D stick-and-limb figure of standing height 1 (src/data/person_skeleton.py: segment
lengths from an anthropometric table, six pose kinds) posed by joint angles, turned by a body yaw (0 = facing
the camera, +90 = facing image right, 180 = facing away), projected orthographically, rolled in the image plane
by a few degrees and scaled so that its box has a sampled height (32 px up to 0.95 x the image height,
log-uniform), and drawn by src/data/person_drawing.py: limbs are thick capsules, the trunk the projected outline
of a slab, the head the projected ellipsoid with hair, a face patch, eyes, nose, mouth and ears where the 3-D
head shows them.

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

Scenes (shared pieces in src/data/synthetic_scene.py): a cluttered background (gradient, shapes, lines), 0-4
distractors (limb-like capsule chains and heads without a body), 1..max_people persons (some overlapping, at
most half of the smaller box shared; 15 % cut by the image border), foreground occluders over some persons,
then blur / darkening / sensor noise.
Image sizes: long side image_size x U(0.625, 1.25) (320..640 at 512), short side 0.6..1 of it, 65 %
landscape. Image i of a split depends only on (seed, split, i); the same seed gives byte-identical files.
"""
import math
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .keypoints import COCO_PERSON
from .person_drawing import PART_IDS, ImageMap, draw_person, figure_extent, sample_person_style
from .person_skeleton import FACE_POINTS, NUM_JOINTS, POSE_KIND_PROBABILITIES, Figure3D, Pose, pose_figure, sample_pose
from .raster import ONE, SHIFT, draw_line, fixed_point
from .synthetic_coco import coco_document as _document
from .synthetic_coco import layout_parser, one_line_errors, write_dataset
from .synthetic_scene import (draw_background, draw_occluder, first_fit, mask_polygons, position_box, sample_finish,
                              tight_box)

# the person model's names that tests and scripts reach through this module
from .person_drawing import PersonStyle, _shade  # noqa: F401
from .person_skeleton import HEAD_SEMI_AXES, JOINT, LimbAngles  # noqa: F401
from .synthetic_scene import OCCLUDER_CODE, sample_image_size  # noqa: F401

ANNOTATION_KIND = "person_keypoints"
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

PARTS_PER_PERSON = 16           # owner code = person number * 16 + part id; 0 background, -1 occluder


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
                draw_line(image, point, end, colour, max(int(0.06 * size), 1))
                point = end
        else:       # semi-axes truncated to 1/16 px (raster.draw_ellipse rounds)
            axes = (max(int(0.044 * size * ONE), 1), max(int(0.065 * size * ONE), 1))
            cv2.ellipse(image, fixed_point(point), axes, rng.uniform(-30, 30), 0, 360,
                        tuple(float(v) for v in style.hair), -1, cv2.LINE_AA, SHIFT)
    return count


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

        def propose():
            x, y = position_box(rng, box_w, box_h, width, height, border_cut)
            return (x, y, x + box_w, y + box_h), (x, y)

        corner = first_fit(propose, [other[0] for other in placed], MAX_BOX_SHARE)
        if corner is not None:
            x, y = corner
            offset = np.array([x, y]) - scale * unit[:2]
            placed.append(((x, y, x + box_w, y + box_h), pose, style, figure, ImageMap(scale, pose.roll_deg, offset)))
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
        border_cut = bool(extent[0] < 0 or extent[1] < 0 or extent[2] > width - 1 or extent[3] > height - 1)
        drawn.append((number, figure, image_map, joints, mask, (x0, y0), pose, border_cut, tight_box(mask, (x0, y0))))
    counts = Counter()
    if drawn and rng.random() < OCCLUDER_PROBABILITY and clutter:
        for _ in range(int(rng.integers(1, 3))):
            target = drawn[int(rng.integers(len(drawn)))][-1]
            draw_occluder(image, owner, target, rng)
            counts["occluders"] += 1
    persons = []
    for number, figure, image_map, joints, mask, origin, pose, border_cut, xyxy in drawn:
        keypoints = label_person(number, joints, figure, owner, rng, xyxy[3] - xyxy[1], drops=clutter)
        persons.append(PersonLabel(joints=joints, keypoints=keypoints,
                                   box=np.array([xyxy[0], xyxy[1], xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]]),
                                   area=int(np.count_nonzero(mask)), segmentation=mask_polygons(mask, origin),
                                   pose=pose, border_cut=border_cut, joint_depth=figure.joints[:, 2]))
    finish = sample_finish(rng, height, width, effects=clutter)
    counts.update(blurred=int(finish.blur_sigma > 0), darkened=int(finish.darken < 1))
    return Scene(finish.apply(image), persons, owner, None if background is None else finish.apply(background),
                 counts)


# ----------------------------------------------------------------------------------------------- data set
def coco_annotation(ann_id: int, image_id: int, person: PersonLabel) -> dict:
    """COCO person_keypoints annotation of `person` (keys in the order of the real COCO files)."""
    return {"segmentation": person.segmentation, "num_keypoints": person.num_keypoints, "area": float(person.area),
            "iscrowd": 0, "keypoints": [int(v) for v in person.keypoints.ravel()], "image_id": image_id,
            "bbox": [float(v) for v in person.box], "category_id": PERSON_CATEGORY["id"], "id": ann_id}


def _description(split: str, seed: int) -> str:
    return f"Synthetic COCO person keypoints ({split}, seed {seed}), generated by src/data/synthetic_pose.py"


def coco_document(split: str, seed: int, images: list, annotations: list) -> dict:
    """The json document of one split (info without a date: byte-identical output for a seed)."""
    return _document(_description(split, seed), images, annotations, [PERSON_CATEGORY])


def _person_counts(persons: List[PersonLabel]) -> Counter:
    counts = Counter()
    for person in persons:
        v = person.keypoints[:, 2]
        counts.update(persons=1, labelled=int(np.count_nonzero(v > 0)), visible=int(np.count_nonzero(v == 2)),
                      occluded=int(np.count_nonzero(v == 1)), no_joints=int(person.num_keypoints == 0),
                      border_cut=int(person.border_cut))
    return counts


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

    def render(rng, height, width):
        scene = render_scene(rng, height, width, max_people, person_height=person_height, clutter=clutter,
                             pose_kinds=pose_kinds, frontal=frontal)
        return scene.image, scene.persons, _person_counts(scene.persons)

    result = write_dataset(out_dir, ANNOTATION_KIND, (num_train, num_val), seed, image_size, render,
                           coco_annotation, lambda split: _description(split, seed), [PERSON_CATEGORY], overwrite,
                           progress, "synthetic pose")
    total = sum(result["counts"].values(), Counter())
    elapsed = time.time() - start
    if progress:
        print(f"synthetic pose: {total['images']} images, {total['persons']} persons "
              f"({total['no_joints']} without joints, {total['border_cut']} cut by the border), "
              f"{total['labelled']} labelled joints ({total['visible']} visible, {total['occluded']} occluded); "
              f"{elapsed:.1f} s ({total['images'] / max(elapsed, 1e-9):.0f} images/s) -> {out_dir}")
    return result


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    parser = layout_parser("python -m src.data.synthetic_pose", "Generate the synthetic COCO person-keypoint data "
                                                                  "set (see the module docstring).")
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
    with one_line_errors("synthetic_pose"):
        return generate(args.output_path, args.num_train, args.num_val, args.seed, args.image_size, args.max_people,
                        overwrite=args.overwrite, person_height=args.person_height, clutter=not args.no_clutter,
                        pose_kinds=args.pose_kinds, frontal=args.frontal)


if __name__ == "__main__":
    main()
