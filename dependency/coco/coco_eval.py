"""COCO evaluation of "objects as points" results: the results-file writer and the COCOeval runner, for person
keypoints (CenterNet pose: OKS AP, then person-box AP) and for boxes of any categories (CenterNet detection: box
AP over COCO's 80 classes).

    python -m dependency.coco.coco_eval --ann ANNOTATIONS.json --results results.json \
        [--backend auto|pycocotools|faster_coco_eval] [--iou-types keypoints bbox | bbox] [--json stats.json]

or `from dependency.coco.coco_eval import write_results, evaluate`.

Protocol of the original CenterNet (docs/centernet.md "Test path", read from `datasets/dataset/coco_hp.py` and
`coco.py`): every detection of every image becomes one result {image_id, category_id, bbox [x, y, w, h], score[,
keypoints [x1, y1, 1, ..., x17, y17, 1]]}, every number rounded to 2 decimals (the score too). Person keypoints
are scored by COCOeval 'keypoints' (OKS, maxDets 20) and then 'bbox' on the person category; detections of several
categories by COCOeval 'bbox' (IoU, maxDets 1/10/100) over all categories of the annotation file. The keypoint
table is what the old model zoo's README reports ("Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all |
maxDets= 20 ] = 0.521"); the 12-line bbox table is what the original prints for ctdet.

Categories: detections carry either no class (person keypoints: category 1) or a contiguous class index, written
as the category id at that rank of the annotation file's categories sorted by id (for COCO the original's
`_valid_ids`: class 0 -> 1, ..., class 11 -> 13, class 79 -> 90).

What COCOeval (pycocotools 2.0, `cocoeval.py`) does that matters when reading the numbers:
- a ground-truth person with num_keypoints 0 is *ignored* by the keypoint evaluation, like a crowd region:
  a detection matched to it counts neither as a true nor as a false positive (its OKS against such a person
  is 1 for joints inside the person's box enlarged by the box size on every side). The box evaluation does
  not ignore these persons; it ignores crowd boxes (a detection inside one is neither true nor false).
- OKS = mean over the labelled joints (v > 0) of exp(-d^2 / (2 * area * (2 sigma_j)^2)), with the 17 COCO
  sigmas and the ground truth's segment area; a detection matches at threshold t when OKS >= t.
- a result with a 'bbox' gets that box's area (used to put unmatched detections into an area range); one
  without gets the extent of its keypoints. CenterNet writes boxes, and so does `write_results`.
- only the images in `params.imgIds` are scored. `evaluate` sets them to the images that were run, so that
  an image on which the model found nothing still counts its objects as missed.
- pycocotools' `loadRes` fails on an empty result list (it reads `anns[0]`); here no detections at all gives
  what COCOeval computes for that case: 0 where there are objects to find, -1 where an area range has none.

Backends: "pycocotools" is the reference implementation (cocodataset/cocoapi, BSD 2-clause licence).
"faster_coco_eval" is faster-coco-eval (MiXaiLL76/faster_coco_eval, Apache-2.0 licence), a drop-in
reimplementation of the same COCOeval whose per-image matching and accumulation run in C++;
tests/dependency/coco/test_coco_eval.py checks that its numbers equal pycocotools' to 1e-12 (22 for person
keypoints and boxes, 12 for boxes of many categories).
"auto" takes faster-coco-eval when it is importable and pycocotools otherwise. Both are imported lazily:
this module imports without either.
"""
import argparse
import contextlib
import io
import json
import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dependency.atomic import atomic_write

__all__ = ["PERSON_CATEGORY_ID", "NUM_JOINTS", "KEYPOINT_STAT_NAMES", "BBOX_STAT_NAMES", "STAT_NAMES", "BACKENDS",
           "IOU_TYPES", "round_decimals", "results_from_detections", "write_results", "load_annotations",
           "category_ids", "load_results", "resolve_backend", "evaluate", "main"]

PERSON_CATEGORY_ID = 1
NUM_JOINTS = 17  # COCO person keypoints; the OKS sigmas of COCOeval exist for these 17 only
# Order and meaning of COCOeval.stats after summarize() (pycocotools `_summarizeKps` / `_summarizeDets`)
KEYPOINT_STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
BBOX_STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
STAT_NAMES = {"keypoints": KEYPOINT_STAT_NAMES, "bbox": BBOX_STAT_NAMES}
IOU_TYPES = ("keypoints", "bbox")
TABLE_HEADINGS = {"keypoints": "person keypoints (COCOeval 'keypoints': OKS, maxDets 20):",
                  "bbox": "person boxes (COCOeval 'bbox': IoU, maxDets 1/10/100):"}
CATEGORY_BOXES_HEADING = "boxes of {count} categories (COCOeval 'bbox': IoU, maxDets 1/10/100):"
BACKENDS = ("auto", "pycocotools", "faster_coco_eval")
ANNOTATION_KEYS = ("keypoints", "num_keypoints", "bbox", "area", "iscrowd")
INSTANCE_KEYS = ("image_id", "category_id", "bbox", "area", "iscrowd")


# ------------------------------------------------------------------ writing results
def round_decimals(values, decimals=2):
    """`float(f"{v:.{decimals}f}")` for every value, vectorised (CenterNet's `_to_float` rounding).

    Python's formatting rounds the exact binary value half-to-even; `np.round` scales by 10**decimals first,
    and that product can land on the other side of a half. Values whose scaled fraction is within 1e-12
    (relative) of one half are therefore re-rounded by the formatting itself; all others round the same
    either way, since the product's error is about 1e-16 relative.
    """
    values = np.asarray(values, dtype=np.float64)
    scale = 10.0 ** decimals
    scaled = values * scale
    rounded = np.rint(scaled) / scale
    near_half = np.abs(scaled - np.floor(scaled) - 0.5) <= 1e-12 * np.maximum(1.0, np.abs(scaled))
    for index in zip(*np.nonzero(near_half)):
        rounded[index] = float(f"{values[index]:.{decimals}f}")
    return rounded


def _detection_arrays(image_id, detections):
    """(boxes (N, 4), scores (N,), keypoints (N, 17, 2) or None, labels (N,) int or None) as float64 / int64 from
    a Detections-like object (attributes boxes, scores, keypoints and optionally labels), a mapping with those
    keys, or a (boxes, scores, keypoints) tuple; shapes and values checked. Keypoints (N, 0, 2) mean boxes only."""
    labels = None
    if all(hasattr(detections, key) for key in ("boxes", "scores", "keypoints")):
        parts = (detections.boxes, detections.scores, detections.keypoints)
        labels = getattr(detections, "labels", None)
    elif isinstance(detections, Mapping) and all(key in detections for key in ("boxes", "scores", "keypoints")):
        parts = (detections["boxes"], detections["scores"], detections["keypoints"])
        labels = detections.get("labels")
    elif isinstance(detections, (tuple, list)) and len(detections) == 3:
        parts = tuple(detections)
    else:
        raise ValueError(f"image {image_id}: detections must have boxes, scores and keypoints (an object with "
                         f"those attributes, a dict with those keys or a 3-tuple), got {type(detections).__name__}")
    boxes, scores, keypoints = (np.asarray(p, dtype=np.float64) for p in parts)
    n = len(scores) if scores.ndim == 1 else -1
    if n == 0 and boxes.size == 0 and keypoints.size == 0:
        return np.zeros((0, 4)), np.zeros(0), None, None
    boxes_only = keypoints.shape == (n, 0, 2)
    if boxes.shape != (n, 4) or not (boxes_only or keypoints.shape == (n, NUM_JOINTS, 2)):
        raise ValueError(f"image {image_id}: expected boxes (N, 4), scores (N,) and keypoints (N, {NUM_JOINTS}, 2) "
                         f"(or (N, 0, 2) for boxes only), got {boxes.shape}, {scores.shape} and {keypoints.shape}")
    for name, array in (("boxes", boxes), ("scores", scores), ("keypoints", keypoints)):
        if not np.isfinite(array).all():
            raise ValueError(f"image {image_id}: {name} contain NaN or infinity (JSON results must be finite numbers)")
    if (boxes[:, 2:] < boxes[:, :2]).any():
        raise ValueError(f"image {image_id}: a box has x2 < x1 or y2 < y1 (boxes must be [x1, y1, x2, y2])")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (n,) or labels.dtype.kind not in "iu" or (n and labels.min() < 0):
            raise ValueError(f"image {image_id}: labels must be {n} non-negative class indices, got "
                             f"{labels.dtype} {labels.shape}")
        labels = labels.astype(np.int64)
    return boxes, scores, (None if boxes_only else keypoints), labels


def _image_id(key):
    if isinstance(key, bool) or not isinstance(key, numbers.Integral):
        raise ValueError(f"detections: image id {key!r} is not an integer COCO image id")
    return int(key)


def results_from_detections(detections_per_image, decimals=2, category_ids=None):
    """COCO results (a list of dicts) from {image_id: detections of that image}, CenterNet's format.

    Detections of one image: boxes (N, 4) [x1, y1, x2, y2], scores (N,), keypoints (N, 17, 2) (x, y) or (N, 0, 2)
    (boxes only) in original-image pixels, and optionally labels (N,) (contiguous class indices), given as an
    object with those attributes (src.inference.detections.Detections), a dict with those keys, or a (boxes,
    scores, keypoints) tuple. Each detection gives {"image_id", "category_id", "bbox": [x1, y1, x2 - x1, y2 - y1],
    "score"[, "keypoints": [x, y, 1] * 17]}, all rounded to `decimals` as CenterNet's `convert_eval_format` does
    (docs/centernet.md "Test path"; rounding the score makes ties, which COCOeval keeps in result order).
    category_id: 1 (person) without labels, else `category_ids[label]` (the annotation file's category ids sorted:
    see the module docstring). Images map in their order, detections in theirs.
    """
    if not isinstance(detections_per_image, Mapping):
        raise ValueError(f"detections: expected a mapping {{image_id: detections}}, "
                         f"got {type(detections_per_image).__name__}")
    results = []
    for key, detections in detections_per_image.items():
        image_id = _image_id(key)
        boxes, scores, keypoints, labels = _detection_arrays(image_id, detections)
        if len(scores) == 0:
            continue
        if labels is None:
            categories = [PERSON_CATEGORY_ID] * len(scores)
        else:
            if category_ids is None or labels.max() >= len(category_ids):
                raise ValueError(f"image {image_id}: class {labels.max()} has no category id (known: "
                                 f"{0 if category_ids is None else len(category_ids)} categories)")
            categories = [int(category_ids[label]) for label in labels]
        xywh = round_decimals(np.c_[boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], decimals).tolist()
        entries = [{"image_id": image_id, "category_id": category, "bbox": box, "score": score}
                   for category, box, score in zip(categories, xywh, round_decimals(scores, decimals).tolist())]
        if keypoints is not None:
            triplets = np.concatenate([keypoints, np.ones((len(scores), NUM_JOINTS, 1))], axis=2)
            flat_keypoints = round_decimals(triplets.reshape(len(scores), 3 * NUM_JOINTS), decimals).tolist()
            for entry, points in zip(entries, flat_keypoints):
                entry["keypoints"] = points
        results.extend(entries)
    return results


def write_results(detections_per_image, path, decimals=2, category_ids=None):
    """Write the COCO results json of {image_id: detections} (see `results_from_detections`) to `path`
    atomically (a reader sees the old file or the whole new one); return the list of results written."""
    results = results_from_detections(detections_per_image, decimals, category_ids)
    atomic_write(path, lambda handle: handle.write(json.dumps(results, separators=(",", ":")).encode("utf-8")))
    return results


# ------------------------------------------------------------------ reading and checking inputs
def _read_json(path, what):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {path} does not exist")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{what} file {path}: not valid JSON ({err})") from None


def load_annotations(annotations, keypoints=True):
    """(dataset dict, source name) from an annotation file path, a COCO object (pycocotools or
    faster-coco-eval: anything with a `.dataset` dict) or a COCO dict, checked to have 'images', 'annotations'
    and 'categories' lists, and then
    * `keypoints` True: to be COCO person keypoints: category 1 with a 17-name 'keypoints' list, and every person
      annotation with keypoints (51 values), num_keypoints, bbox, area and iscrowd;
    * `keypoints` False: to be COCO instances: categories with distinct integer ids, and every annotation with an
      image id of 'images', a category id of 'categories', bbox (4 numbers), area and iscrowd."""
    if isinstance(annotations, (str, os.PathLike)):
        source = str(annotations)
        dataset = _read_json(annotations, "annotation")
    elif isinstance(getattr(annotations, "dataset", None), dict):
        source, dataset = f"{type(annotations).__name__} object", annotations.dataset
    elif isinstance(annotations, dict):
        source, dataset = "annotation dict", annotations
    else:
        raise ValueError(f"annotations: expected a file path, a COCO object or a dict, "
                         f"got {type(annotations).__name__}")
    if not isinstance(dataset, dict):
        raise ValueError(f"{source}: expected a COCO json object with images, annotations and categories, "
                         f"got a {type(dataset).__name__}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(dataset.get(key), list):
            raise ValueError(f"{source}: no '{key}' list: not a COCO annotation file")
    if keypoints:
        _check_person_keypoints(dataset, source)
    else:
        _check_instances(dataset, source)
    return dataset, source


def _check_person_keypoints(dataset, source):
    person = next((c for c in dataset["categories"] if isinstance(c, dict) and c.get("id") == PERSON_CATEGORY_ID),
                  None)
    if person is None:
        raise ValueError(f"{source}: no category with id {PERSON_CATEGORY_ID} (person): "
                         f"not a COCO person-keypoints file (person_keypoints_*.json)")
    names = person.get("keypoints")
    if not isinstance(names, list) or not names:
        raise ValueError(f"{source}: category {PERSON_CATEGORY_ID} ({person.get('name')!r}) has no 'keypoints' list: "
                         f"not a COCO person-keypoints file (person_keypoints_*.json, not instances_*.json)")
    if len(names) != NUM_JOINTS:
        raise ValueError(f"{source}: category {PERSON_CATEGORY_ID} has {len(names)} keypoints, expected the "
                         f"{NUM_JOINTS} COCO joints (COCOeval's OKS sigmas exist for those only)")
    for ann in dataset["annotations"]:
        if not isinstance(ann, dict) or ann.get("category_id") != PERSON_CATEGORY_ID:
            continue
        missing = [key for key in ANNOTATION_KEYS if key not in ann]
        if missing:
            raise ValueError(f"{source}: person annotation {ann.get('id')} has no {missing}; person-keypoint "
                             f"annotations need {', '.join(ANNOTATION_KEYS)}")
        if len(ann["keypoints"]) != 3 * NUM_JOINTS:
            raise ValueError(f"{source}: person annotation {ann.get('id')} has {len(ann['keypoints'])} keypoint "
                             f"values, expected {3 * NUM_JOINTS} ({NUM_JOINTS} x (x, y, v))")


def category_ids(dataset):
    """The category ids of a COCO dataset dict, sorted: contiguous class k is category ``category_ids[k]`` (for
    COCO's instances the original CenterNet's `_valid_ids`)."""
    return sorted(c["id"] for c in dataset["categories"])


def _check_instances(dataset, source):
    ids = [c.get("id") if isinstance(c, dict) else None for c in dataset["categories"]]
    bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, numbers.Integral)]
    if bad or not ids:
        raise ValueError(f"{source}: 'categories' must be objects with integer ids, got "
                         f"{bad[:3] if ids else 'none'}")
    if len(set(ids)) != len(ids):
        raise ValueError(f"{source}: category ids {sorted(i for i in set(ids) if ids.count(i) > 1)} appear twice")
    known_images = {image.get("id") for image in dataset["images"] if isinstance(image, dict)}
    known_categories = set(ids)
    for index, ann in enumerate(dataset["annotations"]):
        where = f"{source}: annotation {ann.get('id') if isinstance(ann, dict) else index}"
        if not isinstance(ann, dict):
            raise ValueError(f"{source}: annotations[{index}] is a {type(ann).__name__}, expected an object")
        missing = [key for key in INSTANCE_KEYS if key not in ann]
        if missing:
            raise ValueError(f"{where} has no {missing}; box annotations need {', '.join(INSTANCE_KEYS)}")
        if ann["category_id"] not in known_categories:
            raise ValueError(f"{where}: category_id {ann['category_id']!r} is not in 'categories'")
        if ann["image_id"] not in known_images:
            raise ValueError(f"{where}: image_id {ann['image_id']!r} is not in 'images'")
        bbox = ann["bbox"]
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
            raise ValueError(f"{where}: 'bbox' must be [x, y, w, h] (4 finite numbers), got {bbox!r}")


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_list_lengths(source, entries, key, length):
    for index, entry in enumerate(entries):
        values = entry.get(key)
        if not isinstance(values, list) or len(values) != length:
            got = f"{len(values)} values" if isinstance(values, list) else f"a {type(values).__name__}"
            raise ValueError(f"{source}: entry {index}: '{key}' must be a list of {length} numbers, got {got}")


def _check_finite_numbers(source, entries, key):
    """Every entries[i][key] (lists of one length) holds finite numbers; one array for all, per entry only
    to name the first offender."""
    values = np.array([entry[key] for entry in entries])
    if values.dtype.kind in "iuf" and np.isfinite(values).all():
        return
    for index, entry in enumerate(entries):
        if not all(_is_number(v) for v in entry[key]):
            raise ValueError(f"{source}: entry {index}: '{key}' holds a value that is not a finite number")
    raise ValueError(f"{source}: '{key}' values are not all numbers")  # e.g. booleans only


def load_results(results, image_ids_in_annotations, iou_types=IOU_TYPES, categories=(PERSON_CATEGORY_ID,)):
    """(list of result dicts, source name) from a results json path or a list, checked entry by entry:
    integer image_id present in the annotations, category_id among `categories` (person results: 1), finite
    score, 'keypoints' of 51 finite numbers (needed for 'keypoints'), 'bbox' of 4 finite numbers with w, h >= 0
    (needed for 'bbox'); either every entry has a bbox or none has (COCO's loadRes treats all entries like the
    first)."""
    if isinstance(results, (str, os.PathLike)):
        source = str(results)
        entries = _read_json(results, "results")
    elif isinstance(results, list):
        source, entries = "results list", results
    else:
        raise ValueError(f"results: expected a json path, a list or {{image_id: detections}}, "
                         f"got {type(results).__name__}")
    if not isinstance(entries, list):
        raise ValueError(f"{source}: expected a JSON list of results, got a {type(entries).__name__}")
    has_bbox = bool(entries) and isinstance(entries[0], dict) and "bbox" in entries[0]
    categories = set(categories)
    unknown_images = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"{source}: entry {index} is a {type(entry).__name__}, expected an object")
        image_id = entry.get("image_id")
        if isinstance(image_id, bool) or not isinstance(image_id, numbers.Integral):
            raise ValueError(f"{source}: entry {index}: 'image_id' must be an integer, got {image_id!r}")
        if image_id not in image_ids_in_annotations:
            unknown_images.add(image_id)
        category = entry.get("category_id")
        if isinstance(category, bool) or category not in categories:
            expected = (f"{PERSON_CATEGORY_ID} (person)" if categories == {PERSON_CATEGORY_ID} else
                        f"a category id of the annotations ({len(categories)} known)")
            raise ValueError(f"{source}: entry {index}: 'category_id' is {category!r}, expected {expected}")
        if not _is_number(entry.get("score")):
            raise ValueError(f"{source}: entry {index}: 'score' must be a finite number, got {entry.get('score')!r}")
        if ("bbox" in entry) != has_bbox:
            raise ValueError(f"{source}: entry {index}: {'has' if not has_bbox else 'has no'} 'bbox' unlike entry 0 "
                             f"(either every result has a box or none has)")
    if unknown_images:
        shown = sorted(unknown_images)[:5]
        raise ValueError(f"{source}: image ids {shown}{' ...' if len(unknown_images) > 5 else ''} "
                         f"({len(unknown_images)} in all) are not in the annotations")
    if entries and ("keypoints" in iou_types or "keypoints" in entries[0]):
        _check_list_lengths(source, entries, "keypoints", 3 * NUM_JOINTS)
        _check_finite_numbers(source, entries, "keypoints")
    if entries and "bbox" in iou_types and not has_bbox:
        raise ValueError(f"{source}: results have no 'bbox', needed for the 'bbox' evaluation")
    if has_bbox:
        _check_list_lengths(source, entries, "bbox", 4)
        _check_finite_numbers(source, entries, "bbox")
        negative = np.nonzero((np.array([entry["bbox"][2:] for entry in entries]) < 0).any(axis=1))[0]
        if len(negative):
            index = int(negative[0])
            raise ValueError(f"{source}: entry {index}: 'bbox' {entries[index]['bbox']} has a negative width or "
                             f"height (expected [x, y, w, h])")
    return entries, source


def resolve_backend(backend):
    """'pycocotools' or 'faster_coco_eval' for `backend` ('auto': faster-coco-eval when importable)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    try:
        import faster_coco_eval  # noqa: F401
        return "faster_coco_eval"
    except ImportError:
        return "pycocotools"


# ------------------------------------------------------------------ the two backends
def _silent(*_args, **_kwargs):
    pass


def _pycocotools_eval(dataset, results, iou_types, image_ids, cat_ids=(PERSON_CATEGORY_ID,)):
    """{iou_type: (stats array, summary lines)} with pycocotools; its chatter on stdout is swallowed."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise ImportError("backend 'pycocotools' needs `pip install pycocotools` (pinned in this project: "
                          "pycocotools==2.0.11)") from None
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = COCO()
        ground_truth.dataset = dataset
        ground_truth.createIndex()
        if results:
            detections = ground_truth.loadRes(results)
        else:  # loadRes reads results[0]: build the empty result set it would have built
            detections = COCO()
            detections.dataset = {"images": list(dataset["images"]), "categories": list(dataset["categories"]),
                                  "annotations": []}
            detections.createIndex()
    out = {}
    for iou_type in iou_types:
        evaluator = COCOeval(ground_truth, detections, iou_type)
        evaluator.params.imgIds = list(image_ids)
        evaluator.params.catIds = list(cat_ids)
        with contextlib.redirect_stdout(io.StringIO()):
            evaluator.evaluate()
            evaluator.accumulate()
        table = io.StringIO()
        with contextlib.redirect_stdout(table):
            evaluator.summarize()
        out[iou_type] = (np.asarray(evaluator.stats, dtype=np.float64), table.getvalue().splitlines())
    return out


def _faster_coco_eval(dataset, results, iou_types, image_ids, cat_ids=(PERSON_CATEGORY_ID,)):
    """{iou_type: (stats array, summary lines)} with faster-coco-eval."""
    try:
        from faster_coco_eval import COCO, COCOeval_faster
    except ImportError:
        raise ImportError("backend 'faster_coco_eval' needs `pip install faster-coco-eval` (pinned in this "
                          "project: faster-coco-eval==1.8.0)") from None
    ground_truth = COCO(dataset, print_function=_silent)
    detections = ground_truth.loadRes(results)  # an empty list is handled by faster-coco-eval itself
    out = {}
    for iou_type in iou_types:
        evaluator = COCOeval_faster(ground_truth, detections, iou_type, print_function=_silent)
        evaluator.params.imgIds = list(image_ids)
        evaluator.params.catIds = list(cat_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        lines = []
        evaluator.print_function = lines.append
        evaluator.summarize()
        # faster-coco-eval also prints AR@0.50 and AR@0.75 for boxes (its `all_stats`); pycocotools' table and
        # `stats` stop before them
        count = len(STAT_NAMES[iou_type])
        out[iou_type] = (np.asarray(evaluator.stats, dtype=np.float64)[:count], lines[:count])
    return out


_RUNNERS = {"pycocotools": _pycocotools_eval, "faster_coco_eval": _faster_coco_eval}


# ------------------------------------------------------------------ public entry point
def evaluate(annotations, results, iou_types=IOU_TYPES, backend="auto", image_ids=None, print_fn=print):
    """COCO AP/AR of results: {"keypoints": {name: value} (10), "bbox": {...} (12)} for the iou_types asked.

    annotations: a person_keypoints_*.json (iou_types with "keypoints") or instances_*.json (("bbox",)) path, a
      COCO object or a COCO dict (`load_annotations`).
    results: a results json path, a list of result dicts (`load_results`), or {image_id: detections} as for
      `write_results` (converted with its rounding; labels mapped to the annotations' sorted category ids).
    iou_types: ("keypoints", "bbox") or a subset, evaluated and printed in that order (CenterNet pose's order is
      keypoints then bbox). With "keypoints", the person category alone is scored (both tables); ("bbox",)
      alone scores boxes of every category of the annotations (CenterNet detection). Names of the numbers:
      KEYPOINT_STAT_NAMES / BBOX_STAT_NAMES, i.e. COCOeval.stats.
    backend: "pycocotools", "faster_coco_eval" or "auto" (the module docstring says what they are).
    image_ids: the images that were run; only they are scored (COCOeval params.imgIds). Default: the keys of
      {image_id: detections} when results are given that way, else every image of the annotations.
    print_fn: receives each line of pycocotools' summarize() tables (keypoints first), each after a heading line
      naming it (TABLE_HEADINGS; boxes of several categories: CATEGORY_BOXES_HEADING); None prints nothing.
    """
    iou_types = tuple(iou_types)
    if not iou_types or any(t not in IOU_TYPES for t in iou_types) or len(set(iou_types)) != len(iou_types):
        raise ValueError(f"iou_types {iou_types!r}: expected distinct values among {IOU_TYPES}")
    backend = resolve_backend(backend)
    person_keypoints = "keypoints" in iou_types
    dataset, source = load_annotations(annotations, keypoints=person_keypoints)
    cat_ids = [PERSON_CATEGORY_ID] if person_keypoints else category_ids(dataset)
    annotation_image_ids = {image["id"] for image in dataset["images"]}
    if isinstance(results, Mapping):
        if image_ids is None:
            image_ids = [_image_id(key) for key in results]
        results = results_from_detections(results, category_ids=cat_ids)
    entries, _ = load_results(results, annotation_image_ids, iou_types, categories=cat_ids)
    if image_ids is None:
        image_ids = sorted(annotation_image_ids)
    image_ids = [_image_id(i) for i in image_ids]
    if not image_ids:
        raise ValueError("image_ids is empty: nothing to evaluate")
    unknown = sorted(set(image_ids) - annotation_image_ids)
    if unknown:
        raise ValueError(f"image_ids {unknown[:5]}{' ...' if len(unknown) > 5 else ''} ({len(unknown)} in all) "
                         f"are not images of {source}")
    # COCO's loadRes adds id/area/segmentation to every entry: give it copies, keep the caller's list intact
    copies = [dict(entry) for entry in entries]
    per_type = _RUNNERS[backend](dataset, copies, iou_types, image_ids, cat_ids)
    stats = {}
    for iou_type in iou_types:
        values, lines = per_type[iou_type]
        if print_fn is not None:
            heading = (TABLE_HEADINGS[iou_type] if person_keypoints
                       else CATEGORY_BOXES_HEADING.format(count=len(cat_ids)))
            for line in (heading, *lines):
                print_fn(line)
        stats[iou_type] = {name: float(value) for name, value in zip(STAT_NAMES[iou_type], values)}
    return stats


def default_iou_types(dataset):
    """("keypoints", "bbox") for a person-keypoints dataset dict (its person category lists keypoints), else
    ("bbox",)."""
    categories = dataset.get("categories") if isinstance(dataset, dict) else None
    person = next((c for c in categories or [] if isinstance(c, dict) and c.get("id") == PERSON_CATEGORY_ID), None)
    return IOU_TYPES if person is not None and person.get("keypoints") else ("bbox",)


def main(argv=None):
    """Command line: evaluate a results json against a COCO annotation file."""
    parser = argparse.ArgumentParser(description="COCO person keypoint (OKS) and box AP, or box AP over all "
                                                 "categories, of a results json.")
    parser.add_argument("--ann", required=True, help="person_keypoints_*.json or instances_*.json")
    parser.add_argument("--results", required=True, help="results json (list of {image_id, category_id, bbox, "
                                                         "score[, keypoints]})")
    parser.add_argument("--backend", default="auto", choices=BACKENDS)
    parser.add_argument("--iou-types", nargs="+", choices=IOU_TYPES,
                        help="default: keypoints bbox for a person-keypoints file, else bbox")
    parser.add_argument("--json", help="also write the numbers to this json file")
    args = parser.parse_args(argv)
    iou_types = args.iou_types or default_iou_types(_read_json(args.ann, "annotation"))
    stats = evaluate(args.ann, args.results, iou_types=iou_types, backend=args.backend)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(stats, indent=1) + "\n", encoding="utf-8")
    return stats


if __name__ == "__main__":
    main()
