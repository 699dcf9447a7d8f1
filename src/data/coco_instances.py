"""COCO annotation files -> per-image training records for the CenterNet tasks: object detection from
instances_{split}2017.json (every category) and, through src/data/coco_keypoints.py, multi-person pose from
person_keypoints_{split}2017.json (the person category with its 17 joints).

    records = load_coco_instances("coco/annotations/instances_train2017.json", "coco/train2017")
    print(records.summary)              # what was kept and dropped, one line for the training log
    records.categories.names[3]         # 'motorcycle': contiguous class 3 is category id 4
    image = load_record_image(records[0])   # BGR uint8, checked against the json's width and height

A record is a dict: file_name, image_id, width, height, image_path (or image_bytes when it comes from a
MindRecord set, see src/data/mindrecord.py), boxes (N, 4) float32 x1 y1 x2 y2, boxes_xywh (N, 4) float32 (the
COCO bbox as stored), labels (N,) int32 contiguous classes, and for keypoint files keypoints (N, J, 3) float32
x, y, v and num_keypoints (N,) int32 (joints with v > 0). Coordinates are the json's, on the stored pixel grid.

Classes (`CocoCategories`): contiguous class k is the k-th category of the json's 'categories' sorted by id. For
COCO's 80 categories that is the original CenterNet's `_valid_ids` order (datasets/dataset/coco.py: class 0 ->
id 1 'person', class 11 -> id 13 'stop sign', class 79 -> id 90 'toothbrush'), so checkpoints of the original
keep their meaning; other files (e.g. synthetic data) need no table.

Policy of the original CenterNet (datasets/sample/ctdet.py, coco.py; multi_pose.py, coco_hp.py):
- ctdet trains on every image of the json (`coco.getImgIds()`), annotated or not: an image without objects
  teaches background (`drop_empty=False`, the default here); multi_pose keeps only images with annotations.
- Crowd annotations (iscrowd 1) are NOT skipped: `getAnnIds` has no iscrowd filter, so a crowd region is drawn
  like any box (a centre peak with its size). `crowd_as_objects=False` leaves them out (a crowd box is a region
  of many objects, not one centre); an image whose annotations are then all crowd or empty boxes is counted
  apart (and dropped with drop_empty).
- Boxes with w <= 0 or h <= 0 are skipped and counted (the original skips them when building targets).
  max_objs (128 for ctdet) is the target builder's business, not applied here.

Images: `load_record_image` reads a record's image through src/data/image_io.py (BGR, EXIF orientation ignored:
COCO's coordinates describe the stored pixels), refusing truncated files: cv2.imread decodes a truncated JPEG
partially (grey or repeated rows below the cut) with only a libjpeg warning on stderr, so a JPEG must end with
its end-of-image marker FF D9 (trailing 00/FF padding allowed) and a PNG with its IEND chunk.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .image_io import decode_image, read_image

__all__ = ["CocoCategories", "InstanceSummary", "CocoRecords", "load_coco_instances", "read_annotations",
           "collect_objects", "image_records", "check_image_files", "make_record", "xywh_to_xyxy", "load_record_image"]

logger = logging.getLogger(__name__)

_NUMBER_TYPES = {int, float}  # exact types: bool (an int subclass) is not a number here; json has no others


@dataclass(frozen=True)
class CocoCategories:
    """The categories of an annotation file in class order: ``ids[k]`` and ``names[k]`` of contiguous class k."""

    ids: Tuple[int, ...]
    names: Tuple[str, ...]

    def __len__(self):
        return len(self.ids)

    @property
    def class_of(self) -> Dict[int, int]:
        """{category id: contiguous class}."""
        return {category_id: k for k, category_id in enumerate(self.ids)}

    def as_dict(self):
        return {"ids": list(self.ids), "names": list(self.names)}

    @staticmethod
    def from_json(categories, where) -> "CocoCategories":
        """The categories of a json's 'categories' list (objects with an integer 'id' and a 'name'), sorted by id;
        a one-line ValueError naming `where` and the entry otherwise."""
        if not isinstance(categories, list) or not categories:
            raise ValueError(f"{where}: key 'categories' missing, empty or not a list (COCO format expected)")
        entries = []
        for pos, category in enumerate(categories):
            if not isinstance(category, dict) or type(category.get("id")) is not int:
                raise ValueError(f"{where}: categories[{pos}]: expected an object with an integer 'id', "
                                 f"got {category!r}"[:300])
            entries.append((category["id"], str(category.get("name", category["id"]))))
        ids = [category_id for category_id, _ in entries]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{where}: category ids {sorted({i for i in ids if ids.count(i) > 1})} appear twice")
        entries.sort()
        return CocoCategories(tuple(i for i, _ in entries), tuple(n for _, n in entries))


@dataclass
class InstanceSummary:
    """What load_coco_instances kept and dropped (counts over the whole json)."""

    images: int = 0                     # images in the json
    images_kept: int = 0                # records returned
    images_without_objects: int = 0     # no annotation at all
    images_only_crowd_or_empty: int = 0  # annotations, but none usable (all crowd with crowd_as_objects False, or empty)
    objects: int = 0                    # usable objects in the kept images
    crowd_annotations: int = 0          # annotations with iscrowd 1 (objects, or skipped: crowd_as_objects)
    empty_boxes: int = 0                # annotations with w <= 0 or h <= 0 (skipped)
    other_categories: int = 0           # annotations of categories not asked for (ignored)
    images_unreadable: int = 0          # images left out because they cannot be read (MindRecord)

    def as_dict(self):
        return asdict(self)

    def __str__(self):
        unreadable = f", {self.images_unreadable} unreadable" if self.images_unreadable else ""
        return (f"{self.images_kept} of {self.images} images kept ({self.images_without_objects} without objects, "
                f"{self.images_only_crowd_or_empty} with only crowd regions or empty boxes{unreadable}); "
                f"{self.objects} objects; "
                f"{self.crowd_annotations} crowd annotations; skipped {self.empty_boxes} empty boxes, "
                f"{self.other_categories} annotations of other categories")


class CocoRecords(list):
    """A list of records, with the summary of how it was made in ``summary`` and the categories (class order) in
    ``categories``."""

    def __init__(self, records=(), summary=None, categories=None):
        super().__init__(records)
        self.summary = summary if summary is not None else InstanceSummary()
        self.categories = categories


def _all_numbers(values):
    return set(map(type, values)) <= _NUMBER_TYPES  # C-level loop: ~1 us for 51 values


def read_annotations(json_path):
    """The json of a COCO annotation file as a dict with 'images' and 'annotations' lists; FileNotFoundError
    (missing) or a one-line ValueError naming the file otherwise."""
    json_path = str(json_path)
    if not os.path.isfile(json_path):
        raise FileNotFoundError(f"annotation json {json_path}: no such file")
    try:
        with open(json_path, "r", encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"annotation json {json_path}: cannot be read as JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{json_path}: expected a JSON object (COCO format), got {type(data).__name__}")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{json_path}: key '{key}' missing or not a list (COCO format expected)")
    return data


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


def _check_fields(ann, where, pos, num_joints):
    """The bbox (and keypoints) lists of annotation ``pos`` (where(pos) names it in errors), after checking their
    shape and number types (their values are checked for all annotations at once by _check_values)."""
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4 or not _all_numbers(bbox):
        raise ValueError(f"{where(pos)}: 'bbox' must be [x, y, w, h] (4 finite numbers), got {bbox!r}")
    if not num_joints:
        return bbox, None
    keypoints = ann.get("keypoints")
    if not isinstance(keypoints, list) or len(keypoints) != 3 * num_joints:
        count = len(keypoints) if isinstance(keypoints, list) else type(keypoints).__name__
        raise ValueError(f"{where(pos)}: 'keypoints' must be a list of {3 * num_joints} numbers "
                         f"([x, y, v] * {num_joints}), got {count}")
    if not _all_numbers(keypoints):
        bad = next(v for v in keypoints if type(v) not in _NUMBER_TYPES)
        raise ValueError(f"{where(pos)}: 'keypoints' must hold numbers only, got {bad!r}")
    return bbox, keypoints


def _check_values(bboxes, keypoints, name_of):
    """bboxes (P, 4) and keypoints (P, J, 3) float64 (or None) of all kept annotations: finite, visibility
    0/1/2; a one-line ValueError naming the first bad annotation (name_of(row)) otherwise."""
    bad_box = ~np.isfinite(bboxes).all(axis=1)
    bad_value = np.zeros_like(bad_box) if keypoints is None else ~np.isfinite(keypoints).all(axis=(1, 2))
    bad_visibility = (np.zeros_like(bad_box) if keypoints is None
                      else ~np.isin(keypoints[:, :, 2], (0, 1, 2)).all(axis=1))
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


def make_record(file_name, image_id, width, height, boxes_xywh, keypoints=None, labels=None):
    """A record (see the module docstring) from float32 xywh (N, 4), keypoints (N, J, 3) or None, labels (N,)
    (None: all class 0)."""
    boxes_xywh = np.asarray(boxes_xywh, np.float32).reshape(-1, 4)
    record = {"file_name": file_name, "image_id": int(image_id), "width": int(width), "height": int(height),
              "boxes": xywh_to_xyxy(boxes_xywh), "boxes_xywh": boxes_xywh,
              "labels": (np.zeros(len(boxes_xywh), np.int32) if labels is None
                         else np.asarray(labels, np.int32).reshape(-1))}
    if keypoints is not None:
        keypoints = np.asarray(keypoints, np.float32)
        if keypoints.ndim != 3 or keypoints.shape[0] != len(boxes_xywh) or keypoints.shape[2] != 3:
            raise ValueError(f"make_record: keypoints must have shape ({len(boxes_xywh)}, J, 3), got {keypoints.shape}")
        record["keypoints"] = keypoints
        record["num_keypoints"] = (keypoints[:, :, 2] > 0).sum(axis=1).astype(np.int32)
    return record


@dataclass
class CollectedObjects:
    """The usable objects of an annotation file (see collect_objects), with the counts behind a summary."""

    entries: list                    # (image_id, file_name, width, height) per image, json order
    rows_of_image: list              # per image: row indices into the arrays below (usable objects)
    annotated: list                  # per image: whether any annotation of a wanted category names it
    boxes_xywh: np.ndarray           # (P, 4) float32
    labels: np.ndarray               # (P,) int32
    keypoints: Optional[np.ndarray]  # (P, J, 3) float32 or None
    crowd_annotations: int = 0
    empty_boxes: int = 0
    other_categories: int = 0


def collect_objects(data, json_path, class_of, num_joints=0, crowd_as_objects=True,
                    unknown_categories="error") -> CollectedObjects:
    """Every usable annotation of the json `data` whose category is in `class_of` ({category id: class}).

    num_joints: keypoints per object read from the annotations (0: none). crowd_as_objects: a crowd annotation is
    an object (its box; with keypoints, all joints unlabelled, since COCO gives crowd regions none), or skipped
    before any of its fields is read. unknown_categories: "error" (a one-line ValueError naming the annotation)
    or "count" (ignored, counted in other_categories). Boxes with w <= 0 or h <= 0 are not usable (counted)."""
    entries, position_of = [], {}
    for pos in range(len(data["images"])):
        entry = _image_entry(data["images"], pos, json_path)
        if entry[0] in position_of:
            raise ValueError(f"{json_path}: images[{pos}]: id {entry[0]} already used by "
                             f"images[{position_of[entry[0]]}]")
        position_of[entry[0]] = pos
        entries.append(entry)

    annotated = [False] * len(entries)
    object_images, object_bboxes, object_labels, object_keypoints, object_positions = [], [], [], [], []
    crowd = other = 0

    def where(pos):  # formatted only for an error: 860k f-strings cost seconds on COCO train2017
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
        cls = class_of.get(ann["category_id"]) if type(ann["category_id"]) is int else None
        if cls is None:
            if unknown_categories == "error":
                raise ValueError(f"{where(pos)}: category_id {ann['category_id']!r} is not in 'categories'")
            other += 1
            continue
        annotated[image_pos] = True
        if ann.get("iscrowd", 0):
            crowd += 1
            if not crowd_as_objects:
                continue
            # a crowd region as the original takes it: its box, no labelled joint (COCO gives it all zeros)
            fields = {"bbox": ann.get("bbox"), "keypoints": [0] * (3 * num_joints)}
            bbox, keypoints = _check_fields(fields, where, pos, num_joints)
        else:
            bbox, keypoints = _check_fields(ann, where, pos, num_joints)
        object_images.append(image_pos)
        object_bboxes.append(bbox)
        object_labels.append(cls)
        object_keypoints.append(keypoints)
        object_positions.append(pos)

    # All objects at once: per-annotation numpy calls took 45 s on COCO train2017's 262k person annotations.
    bboxes = np.array(object_bboxes, np.float64).reshape(-1, 4)
    keypoints = np.array(object_keypoints, np.float64).reshape(-1, num_joints, 3) if num_joints else None
    _check_values(bboxes, keypoints, lambda row: where(object_positions[row]))
    usable = (bboxes[:, 2] > 0) & (bboxes[:, 3] > 0)
    rows_of_image = [[] for _ in entries]
    for row in np.flatnonzero(usable).tolist():
        rows_of_image[object_images[row]].append(row)
    return CollectedObjects(entries, rows_of_image, annotated, bboxes.astype(np.float32),
                            np.array(object_labels, np.int32).reshape(-1),
                            None if keypoints is None else keypoints.astype(np.float32),
                            crowd_annotations=crowd, empty_boxes=int((~usable).sum()), other_categories=other)


def image_records(found: CollectedObjects, image_dir, drop_empty):
    """(records of the images kept, images whose annotations are all unusable, images without annotations): one
    record per image of `found` in json order (make_record, with image_path), images without a usable object
    left out when `drop_empty`."""
    records, only_crowd_or_empty, without = [], 0, 0
    for (image_id, file_name, width, height), rows, annotated in zip(found.entries, found.rows_of_image,
                                                                      found.annotated):
        if not rows:
            only_crowd_or_empty, without = only_crowd_or_empty + annotated, without + (not annotated)
            if drop_empty:
                continue
        keypoints = None if found.keypoints is None else found.keypoints[rows]
        record = make_record(file_name, image_id, width, height, found.boxes_xywh[rows], keypoints,
                             found.labels[rows])
        record["image_path"] = os.path.join(image_dir, file_name)
        records.append(record)
    return records, only_crowd_or_empty, without


def check_image_files(records, json_path, image_dir):
    """FileNotFoundError naming the first few records whose image file is missing."""
    missing = [r["file_name"] for r in records if not os.path.isfile(r["image_path"])]
    if missing:
        raise FileNotFoundError(f"{len(missing)} image(s) of {json_path} not found under {image_dir}, "
                                f"e.g. {missing[:3]}")


def load_coco_instances(json_path, image_dir, drop_empty=False, check_images=True, crowd_as_objects=True,
                        categories: Optional[Sequence[int]] = None):
    """Read a COCO instances json into a CocoRecords list (records in the order of 'images'; classes, policy,
    record layout and the InstanceSummary in ``.summary``: see the module docstring), and log the summary.

    drop_empty: leave out images without a usable object (the original ctdet keeps them: False).
    crowd_as_objects: crowd annotations are objects (the original) or skipped.
    check_images: all image files of the kept records must exist under image_dir (one FileNotFoundError naming
    the first few missing ones otherwise).
    categories: expected category ids in class order (a config's); the json's must be the same (one-line
    ValueError otherwise, e.g. a model trained for other classes). None: whatever the json has.
    Raises FileNotFoundError (json missing) or a one-line ValueError naming the json, the entry and the problem
    for malformed content (an annotation of a category not in 'categories' included)."""
    json_path, image_dir = str(json_path), str(image_dir)
    data = read_annotations(json_path)
    table = CocoCategories.from_json(data.get("categories"), json_path)
    if categories is not None and tuple(categories) != table.ids:
        raise ValueError(f"{json_path}: categories {list(table.ids)[:10]}{' ...' if len(table) > 10 else ''} "
                         f"({len(table)}) differ from the {len(categories)} expected by the config")
    found = collect_objects(data, json_path, table.class_of, crowd_as_objects=crowd_as_objects)
    kept, only_crowd_or_empty, without = image_records(found, image_dir, drop_empty)
    summary = InstanceSummary(images=len(found.entries), images_kept=len(kept), images_without_objects=without,
                              images_only_crowd_or_empty=only_crowd_or_empty,
                              objects=sum(len(r["boxes"]) for r in kept), crowd_annotations=found.crowd_annotations,
                              empty_boxes=found.empty_boxes, other_categories=found.other_categories)
    records = CocoRecords(kept, summary=summary, categories=table)
    if check_images:
        check_image_files(records, json_path, image_dir)
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
