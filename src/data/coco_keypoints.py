"""COCO person keypoints (person_keypoints_{split}2017.json) -> per-image records for CenterNet multi-pose.

    records = load_person_keypoints("coco/annotations/person_keypoints_train2017.json", "coco/train2017")
    print(records.summary)            # what was kept and dropped, one line for the training log
    image = load_record_image(records[0])   # BGR uint8, checked against the json's width and height

A record is a dict: file_name, image_id, width, height, image_path (or image_bytes when it comes from a
MindRecord set, see src/data/mindrecord.py), boxes (N, 4) float32 x1 y1 x2 y2, boxes_xywh (N, 4) float32 (the
COCO bbox as stored), keypoints (N, 17, 3) float32 x, y, v in the json's joint order, num_keypoints (N,) int32
(joints with v > 0). Coordinates are the json's, on the stored pixel grid of the image.

Policy, compared with the original CenterNet (xingyizhou/CenterNet, src/lib/datasets/dataset/coco_hp.py and
datasets/sample/multi_pose.py):
- The original keeps a training image when `coco.getAnnIds(imgIds=[id])` is non-empty. getAnnIds has no
  iscrowd filter, so crowd annotations count there, and multi_pose.py then uses every annotation, crowd ones
  included, as a person (a crowd region has no labelled joints: it becomes a heatmap peak without size loss).
- `crowd_as_persons=True` (the default, and config key `crowd_as_persons`) does the same: a crowd annotation is
  a person without labelled joints (its box, all joints v = 0). With False, crowd annotations (iscrowd 1) are not
  persons (a crowd box is a region of many people, not one centre): an image is then kept when it has at least
  one usable person (not crowd, w > 0 and h > 0), and an image whose person annotations are all crowd or empty
  boxes is dropped too (the original keeps it), since training on it would teach that the people of the crowd
  region are background. Both kinds of dropped images are counted separately in the summary.
- Persons without labelled joints are kept (as the original: they get a centre peak; xingyizhou/CenterNet issue #957).
- Person boxes with w <= 0 or h <= 0 are skipped and counted; annotations of other categories are
  ignored and counted. max_objs (32 in the original) is the target builder's business, not applied here.

Images: `load_record_image` reads a record's image through src/data/image_io.py (BGR, EXIF orientation ignored:
COCO's coordinates describe the stored pixels), refusing truncated files.
cv2.imread decodes a truncated JPEG partially (grey or repeated rows below the cut) with only a libjpeg
warning on stderr, so a JPEG must end with its end-of-image marker FF D9 (trailing 00/FF padding allowed) and
a PNG with its IEND chunk. EXIF orientation is ignored: COCO's width/height and coordinates describe the
stored pixels.
"""
import json
import logging
import os
from dataclasses import asdict, dataclass

import numpy as np

from .image_io import decode_image, read_image
from .keypoints import COCO_PERSON

NUM_JOINTS = COCO_PERSON.num_points  # 17
PERSON_CATEGORY = "person"

logger = logging.getLogger(__name__)


@dataclass
class LoadSummary:
    """What load_person_keypoints kept and dropped (counts over the whole json)."""

    images: int = 0                     # images in the json
    images_kept: int = 0                # records returned
    images_without_persons: int = 0     # no person annotation at all (the original CenterNet drops these too)
    images_only_crowd_or_empty: int = 0  # person annotations, but all crowd or empty boxes (original keeps them)
    persons: int = 0                    # usable persons in the kept images
    persons_without_joints: int = 0     # of which with no labelled joint (kept: heatmap peak only)
    crowd_annotations: int = 0          # person annotations with iscrowd 1 (persons, or skipped: crowd_as_persons)
    empty_boxes: int = 0                # person annotations with w <= 0 or h <= 0 (skipped)
    other_categories: int = 0           # annotations of other categories (ignored)
    images_unreadable: int = 0          # images with persons left out because they cannot be read (MindRecord)

    def as_dict(self):
        return asdict(self)

    def __str__(self):
        unreadable = f", {self.images_unreadable} unreadable" if self.images_unreadable else ""
        return (f"{self.images_kept} of {self.images} images kept ({self.images_without_persons} without persons, "
                f"{self.images_only_crowd_or_empty} with only crowd regions or empty boxes{unreadable}); "
                f"{self.persons} persons ({self.persons_without_joints} without labelled joints); "
                f"{self.crowd_annotations} crowd annotations; skipped {self.empty_boxes} empty boxes, "
                f"{self.other_categories} annotations of other categories")


class PersonRecords(list):
    """A list of records, with the LoadSummary of how it was made in ``summary`` and the json's person
    category id in ``category_id`` (1 in COCO)."""

    def __init__(self, records=(), summary=None, category_id=None):
        super().__init__(records)
        self.summary = summary if summary is not None else LoadSummary()
        self.category_id = category_id


_NUMBER_TYPES = {int, float}  # exact types: bool (an int subclass) is not a number here; json has no others


def _all_numbers(values):
    return set(map(type, values)) <= _NUMBER_TYPES  # C-level loop: ~1 us for 51 values


def _image_entry(images, pos, where):
    image = images[pos]
    if not isinstance(image, dict):
        raise ValueError(f"{where}: images[{pos}] must be an object, got {type(image).__name__}")
    image_id, file_name = image.get("id"), image.get("file_name")
    if type(image_id) is not int:
        raise ValueError(f"{where}: images[{pos}]: 'id' must be an integer, got {image_id!r}")
    if not isinstance(file_name, str) or not file_name:
        raise ValueError(f"{where}: images[{pos}] (id {image_id}): 'file_name' must be a non-empty string, "
                         f"got {file_name!r}")
    for key in ("width", "height"):
        if type(image.get(key)) is not int or image[key] <= 0:
            raise ValueError(f"{where}: images[{pos}] (id {image_id}): '{key}' must be a positive integer, "
                             f"got {image.get(key)!r}")
    return image_id, file_name, image["width"], image["height"]


def _person_category_id(categories, where):
    if not isinstance(categories, list):
        raise ValueError(f"{where}: key 'categories' missing or not a list (COCO format expected)")
    found = [(pos, c) for pos, c in enumerate(categories) if isinstance(c, dict) and c.get("name") == PERSON_CATEGORY]
    if len(found) != 1:
        raise ValueError(f"{where}: expected one category named '{PERSON_CATEGORY}', found {len(found)}")
    pos, category = found[0]
    names = category.get("keypoints")
    if not isinstance(names, list) or tuple(names) != COCO_PERSON.names:
        raise ValueError(f"{where}: categories[{pos}] ('{PERSON_CATEGORY}'): 'keypoints' must be the "
                         f"{NUM_JOINTS} COCO joint names {list(COCO_PERSON.names)}, got {names!r}")
    if type(category.get("id")) is not int:
        raise ValueError(f"{where}: categories[{pos}] ('{PERSON_CATEGORY}'): 'id' must be an integer, "
                         f"got {category.get('id')!r}")
    return category["id"]


def _check_person_fields(ann, where, pos):
    """The bbox and keypoints lists of person annotation ``pos`` (where(pos) names it in errors), after checking
    their shape and number types (their values are checked for all annotations at once by
    _check_person_values)."""
    bbox, keypoints = ann.get("bbox"), ann.get("keypoints")
    if not isinstance(bbox, list) or len(bbox) != 4 or not _all_numbers(bbox):
        raise ValueError(f"{where(pos)}: 'bbox' must be [x, y, w, h] (4 finite numbers), got {bbox!r}")
    if not isinstance(keypoints, list) or len(keypoints) != 3 * NUM_JOINTS:
        count = len(keypoints) if isinstance(keypoints, list) else type(keypoints).__name__
        raise ValueError(f"{where(pos)}: 'keypoints' must be a list of {3 * NUM_JOINTS} numbers "
                         f"([x, y, v] * {NUM_JOINTS}), got {count}")
    if not _all_numbers(keypoints):
        bad = next(v for v in keypoints if type(v) not in _NUMBER_TYPES)
        raise ValueError(f"{where(pos)}: 'keypoints' must hold numbers only, got {bad!r}")
    return bbox, keypoints


def _check_person_values(bboxes, keypoints, name_of):
    """bboxes (P, 4) and keypoints (P, 17, 3) float64 of all person annotations: finite, visibility 0/1/2;
    a one-line ValueError naming the first bad annotation (name_of(row)) otherwise."""
    bad_box = ~np.isfinite(bboxes).all(axis=1)
    bad_value = ~np.isfinite(keypoints).all(axis=(1, 2))
    bad_visibility = ~np.isin(keypoints[:, :, 2], (0, 1, 2)).all(axis=1)
    for row in np.flatnonzero(bad_box | bad_value | bad_visibility)[:1]:
        if bad_box[row]:
            raise ValueError(f"{name_of(row)}: 'bbox' must be [x, y, w, h] (4 finite numbers), "
                             f"got {bboxes[row].tolist()}")
        if bad_value[row]:
            raise ValueError(f"{name_of(row)}: 'keypoints' must be finite, "
                             f"got {keypoints[row][~np.isfinite(keypoints[row])][0]}")
        raise ValueError(f"{name_of(row)}: keypoint visibility must be 0, 1 or 2, "
                         f"got {sorted(set(keypoints[row, :, 2].tolist()))}")


def xywh_to_xyxy(xywh):
    """(N, 4) float32 COCO x, y, w, h -> x1, y1, x2, y2, computed in float32 so that every reader of the same
    float32 xywh (json or MindRecord) gets bit-identical corners."""
    xywh = np.asarray(xywh, np.float32).reshape(-1, 4)
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


def make_record(file_name, image_id, width, height, boxes_xywh, keypoints):
    """A record (see the module docstring) from float32 xywh (N, 4) and keypoints (N, 17, 3)."""
    boxes_xywh = np.asarray(boxes_xywh, np.float32).reshape(-1, 4)
    keypoints = np.asarray(keypoints, np.float32).reshape(-1, NUM_JOINTS, 3)
    return {"file_name": file_name, "image_id": int(image_id), "width": int(width), "height": int(height),
            "boxes": xywh_to_xyxy(boxes_xywh), "boxes_xywh": boxes_xywh, "keypoints": keypoints,
            "num_keypoints": (keypoints[:, :, 2] > 0).sum(axis=1).astype(np.int32)}


def _read_json(json_path):
    if not os.path.isfile(json_path):
        raise FileNotFoundError(f"annotation json {json_path}: no such file")
    try:
        with open(json_path, "r", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"annotation json {json_path}: cannot be read as JSON: {exc}") from None


def load_person_keypoints(json_path, image_dir, drop_empty=True, check_images=True, crowd_as_persons=True):
    """Read a COCO person-keypoint json into a PersonRecords list (records in the order of 'images'; policy,
    record layout and the LoadSummary in ``.summary``: see the module docstring), and log the summary.

    drop_empty: leave out images without a usable person (False: every image, some with N = 0).
    crowd_as_persons: crowd annotations are persons without labelled joints (the original), or skipped.
    check_images: all image files of the kept records must exist under image_dir (one FileNotFoundError
    naming the first few missing ones otherwise).
    Raises FileNotFoundError (json missing) or a one-line ValueError naming the json, the entry and the
    problem for malformed content."""
    json_path, image_dir = str(json_path), str(image_dir)
    data = _read_json(json_path)
    if not isinstance(data, dict):
        raise ValueError(f"{json_path}: expected a JSON object (COCO format), got {type(data).__name__}")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{json_path}: key '{key}' missing or not a list (COCO format expected)")
    person_id = _person_category_id(data.get("categories"), json_path)
    summary = LoadSummary(images=len(data["images"]))

    entries, position_of = [], {}
    for pos in range(len(data["images"])):
        entry = _image_entry(data["images"], pos, json_path)
        if entry[0] in position_of:
            raise ValueError(f"{json_path}: images[{pos}]: id {entry[0]} already used by "
                             f"images[{position_of[entry[0]]}]")
        position_of[entry[0]] = pos
        entries.append(entry)

    has_person_annotation = [False] * len(entries)
    person_images, person_bboxes, person_keypoints, person_positions = [], [], [], []

    def where(pos):  # formatted only for an error: 262k f-strings cost seconds on COCO train2017
        ann = data["annotations"][pos]
        return f"{json_path}: annotations[{pos}]" + (f" (id {ann.get('id')!r})" if isinstance(ann, dict) else "")

    for pos, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            raise ValueError(f"{where(pos)}: must be an object, got {type(ann).__name__}")
        image_pos = position_of.get(ann.get("image_id")) if type(ann.get("image_id")) is int else None
        if image_pos is None:
            raise ValueError(f"{where(pos)}: image_id {ann.get('image_id')!r} is not in 'images'")
        if "category_id" not in ann:
            raise ValueError(f"{where(pos)}: 'category_id' missing")
        if ann["category_id"] != person_id:
            summary.other_categories += 1
            continue
        has_person_annotation[image_pos] = True
        if ann.get("iscrowd", 0):
            summary.crowd_annotations += 1
            if not crowd_as_persons:
                continue
            # a crowd region as the original takes it: its box, no labelled joint (COCO gives it 51 zeros)
            bbox, _ = _check_person_fields({"bbox": ann.get("bbox"), "keypoints": [0] * (3 * NUM_JOINTS)}, where,
                                           pos)
            keypoints = [0] * (3 * NUM_JOINTS)
        else:
            bbox, keypoints = _check_person_fields(ann, where, pos)
        person_images.append(image_pos)
        person_bboxes.append(bbox)
        person_keypoints.append(keypoints)
        person_positions.append(pos)

    # All persons at once: per-annotation numpy calls took 45 s on COCO train2017's 262k annotations.
    bboxes = np.array(person_bboxes, np.float64).reshape(-1, 4)
    keypoints = np.array(person_keypoints, np.float64).reshape(-1, NUM_JOINTS, 3)
    _check_person_values(bboxes, keypoints, lambda row: where(person_positions[row]))
    usable = (bboxes[:, 2] > 0) & (bboxes[:, 3] > 0)
    summary.empty_boxes = int((~usable).sum())
    persons_of_image = [[] for _ in entries]
    for row in np.flatnonzero(usable).tolist():
        persons_of_image[person_images[row]].append(row)
    bboxes32, keypoints32 = bboxes.astype(np.float32), keypoints.astype(np.float32)

    records = PersonRecords(summary=summary, category_id=person_id)
    for (image_id, file_name, width, height), rows, annotated in zip(entries, persons_of_image,
                                                                      has_person_annotation):
        if not rows:
            if annotated:
                summary.images_only_crowd_or_empty += 1
            else:
                summary.images_without_persons += 1
            if drop_empty:
                continue
        record = make_record(file_name, image_id, width, height, bboxes32[rows], keypoints32[rows])
        record["image_path"] = os.path.join(image_dir, file_name)
        records.append(record)
        summary.persons += len(rows)
        summary.persons_without_joints += int((record["num_keypoints"] == 0).sum())
    summary.images_kept = len(records)
    if check_images:
        missing = [r["file_name"] for r in records if not os.path.isfile(r["image_path"])]
        if missing:
            raise FileNotFoundError(f"{len(missing)} image(s) of {json_path} not found under {image_dir}, "
                                    f"e.g. {missing[:3]}")
    logger.info("%s: %s", json_path, summary)
    return records


def load_record_image(record):
    """The BGR uint8 image of a record from either source (image_path or image_bytes); ValueError naming the
    file if it cannot be decoded or its size differs from the record's width x height."""
    if "image_bytes" in record:
        image = decode_image(record["image_bytes"], "BGR", ignore_orientation=True)
        name = f"{record['file_name']} (MindRecord bytes)"
    else:
        image, name = read_image(record["image_path"], "BGR", ignore_orientation=True), record["image_path"]
    if image is None:
        raise ValueError(f"cannot read image {name}: missing, truncated, or not an image file")
    height, width = image.shape[:2]
    if (width, height) != (record["width"], record["height"]):
        raise ValueError(f"image {name} is {width}x{height} but its annotation says "
                         f"{record['width']}x{record['height']}")
    return image
