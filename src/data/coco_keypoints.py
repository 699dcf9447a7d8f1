"""COCO person keypoints (person_keypoints_{split}2017.json) -> per-image records for CenterNet multi-pose: the
person-category case of src/data/coco_instances.py (same reader, checks and record layout, plus the joints).

    records = load_person_keypoints("coco/annotations/person_keypoints_train2017.json", "coco/train2017")
    print(records.summary)            # what was kept and dropped, one line for the training log
    image = load_record_image(records[0])   # BGR uint8, checked against the json's width and height

A record is a dict: file_name, image_id, width, height, image_path (or image_bytes when it comes from a
MindRecord set, see src/data/mindrecord.py), boxes (N, 4) float32 x1 y1 x2 y2, boxes_xywh (N, 4) float32 (the
COCO bbox as stored), labels (N,) int32 (all 0: one class), keypoints (N, 17, 3) float32 x, y, v in the json's
joint order, num_keypoints (N,) int32 (joints with v > 0). Coordinates are the json's, on the stored pixel grid
of the image.

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

Images: `load_record_image` (src/data/coco_instances.py) reads a record's image, refusing truncated files.
"""
import logging
from dataclasses import asdict, dataclass

import numpy as np

from .coco_instances import (check_image_files, collect_objects, image_records, load_record_image, read_annotations,
                             xywh_to_xyxy)
from .coco_instances import make_record as make_object_record
from .keypoints import COCO_PERSON

__all__ = ["NUM_JOINTS", "LoadSummary", "PersonRecords", "make_record", "load_person_keypoints", "load_record_image",
           "xywh_to_xyxy"]

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


def make_record(file_name, image_id, width, height, boxes_xywh, keypoints):
    """A person record (see the module docstring) from float32 xywh (N, 4) and keypoints (N, 17, 3)."""
    return make_object_record(file_name, image_id, width, height, boxes_xywh,
                              np.asarray(keypoints, np.float32).reshape(-1, NUM_JOINTS, 3))


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
    data = read_annotations(json_path)
    person_id = _person_category_id(data.get("categories"), json_path)
    found = collect_objects(data, json_path, {person_id: 0}, num_joints=NUM_JOINTS,
                            crowd_as_objects=crowd_as_persons, unknown_categories="count")
    kept, only_crowd_or_empty, without = image_records(found, image_dir, drop_empty)
    summary = LoadSummary(images=len(found.entries), images_kept=len(kept), images_without_persons=without,
                          images_only_crowd_or_empty=only_crowd_or_empty, persons=sum(len(r["boxes"]) for r in kept),
                          persons_without_joints=sum(int((r["num_keypoints"] == 0).sum()) for r in kept),
                          crowd_annotations=found.crowd_annotations, empty_boxes=found.empty_boxes,
                          other_categories=found.other_categories)
    records = PersonRecords(kept, summary=summary, category_id=person_id)
    if check_images:
        check_image_files(records, json_path, image_dir)
    logger.info("%s: %s", json_path, summary)
    return records
