"""CenterFace's training data: COCO-format face annotations (boxes + 5 landmarks) -> augmented RGB images
and CenterFace targets, as a `src.data.dataset.TrainingSource`.
"""
import json
import logging
import os

import numpy as np

from src.data.dataset import TrainingSource, UnreadableImageError, hwc_to_chw
from src.data.image_io import read_image
from src.data.keypoints import FACE_LANDMARKS

COLUMN_NAMES = ("image", "heatmap", "ind", "mask", "scale", "offset", "landmarks", "landmark_mask",
                "size_weight")
NUM_LANDMARKS = FACE_LANDMARKS.num_points

logger = logging.getLogger(__name__)


def _annotation_arrays(ann, where):
    """(box xyxy, landmarks (5,2), valid (5,)) of one COCO annotation, or None if the box is empty."""
    bbox = ann.get("bbox")
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        raise ValueError(f"{where}: 'bbox' must be [x, y, w, h], got {bbox!r}")
    x, y, w, h = (float(v) for v in bbox)
    if not (w > 0 and h > 0):
        return None
    keypoints = ann.get("keypoints") or []
    if len(keypoints) not in (0, 3 * NUM_LANDMARKS):
        raise ValueError(f"{where}: 'keypoints' must hold {3 * NUM_LANDMARKS} numbers "
                         f"([x, y, v] * {NUM_LANDMARKS}) or be empty, got {len(keypoints)}")
    if keypoints:
        kp = np.asarray(keypoints, dtype=np.float64).reshape(NUM_LANDMARKS, 3)
        landmarks, valid = kp[:, :2], kp[:, 2] > 0
    else:
        landmarks, valid = np.zeros((NUM_LANDMARKS, 2)), np.zeros(NUM_LANDMARKS, bool)
    return np.array([x, y, x + w, y + h]), landmarks, valid


def load_face_annotations(json_path, category_id=1):
    """Read a COCO-format face json into a list of per-image records (dicts with file_name, width,
    height, boxes (N,4) float32 xyxy, landmarks (N,5,2) float32, landmark_valid (N,5) bool), in the
    order of ``images``. Crowd annotations, other categories and empty boxes are skipped."""
    try:
        with open(json_path, "r", encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read annotation json {json_path}: {exc}") from exc
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{json_path}: key '{key}' missing or not a list (COCO format expected)")
    records, by_id = [], {}
    for pos, img in enumerate(data["images"]):
        if "id" not in img or "file_name" not in img:
            raise ValueError(f"{json_path}: images[{pos}] needs 'id' and 'file_name', got keys {sorted(img)}")
        record = {"file_name": img["file_name"], "width": img.get("width"), "height": img.get("height"),
                  "faces": []}
        by_id[img["id"]] = record
        records.append(record)
    for pos, ann in enumerate(data["annotations"]):
        where = f"{json_path}: annotations[{pos}]"
        record = by_id.get(ann.get("image_id"))
        if record is None:
            raise ValueError(f"{where}: image_id {ann.get('image_id')!r} is not in 'images'")
        if ann.get("iscrowd", 0) or ann.get("category_id", category_id) != category_id:
            continue
        face = _annotation_arrays(ann, where)
        if face is not None:
            record["faces"].append(face)
    for record in records:
        faces = record.pop("faces")
        record["boxes"] = np.array([f[0] for f in faces], np.float32).reshape(-1, 4)
        record["landmarks"] = np.array([f[1] for f in faces], np.float32).reshape(-1, NUM_LANDMARKS, 2)
        record["landmark_valid"] = np.array([f[2] for f in faces], bool).reshape(-1, NUM_LANDMARKS)
    return records


class FaceDetectionSource(TrainingSource):
    """Random-access CenterFace training samples: read image (RGB), augment, build targets.

    Args:
        json_path: COCO-format face annotations (see load_face_annotations).
        image_dir: folder that ``file_name`` entries are relative to.
        augment: callable (image_rgb, boxes, landmarks, landmark_valid, rng) -> same four, e.g.
            ``TrainAugment``; its output image must be HxWx3 float32 of the targets' input size.
        targets: callable (boxes, landmarks, landmark_valid) -> dict, e.g. ``CenterFaceTargets``.
        seed: base seed of the per-sample generators.
        epoch: initial epoch (see set_epoch).

    ``source[i]`` returns a tuple in ``COLUMN_NAMES`` order: image (3,H,W) float32 RGB 0..255, then the
    target arrays. ``num_faces`` is the number of face boxes the annotations give (an annotation file
    without any is an error); ``dropped_faces`` counts faces (in this process) that exceeded the targets'
    max_objs and only received heatmap peaks.
    """

    column_names = COLUMN_NAMES

    def __init__(self, json_path, image_dir, augment, targets, seed=0, epoch=0):
        self.json_path = str(json_path)
        self.image_dir = str(image_dir)
        records = load_face_annotations(json_path)
        if not sum(len(r["boxes"]) for r in records):
            raise ValueError(f"{json_path}: no usable face boxes (category_id 1, not crowd, width and height > 0) "
                             f"in {len(records)} images; check the annotations' category_id")
        super().__init__(records, seed=seed, epoch=epoch, name=self.json_path,
                         image_path=lambda r: os.path.join(self.image_dir, r["file_name"]))
        self.num_faces = int(sum(len(r["boxes"]) for r in self.records))
        self.augment = augment
        self.targets = targets
        self.dropped_faces = 0

    def read_image(self, index):
        """The RGB uint8 image of record ``index``; UnreadableImageError naming the file if it cannot be used."""
        record = self.records[index]
        path = os.path.join(self.image_dir, record["file_name"])
        image = read_image(path)
        if image is None:
            raise UnreadableImageError(f"cannot read image {path}: missing, truncated, empty or not an image file")
        height, width = image.shape[:2]
        if record["width"] is not None and record["height"] is not None and \
                (int(record["width"]), int(record["height"])) != (width, height):
            raise UnreadableImageError(f"image {path} is {width}x{height} but {self.json_path} says "
                                       f"{record['width']}x{record['height']}")
        return image

    def sample(self, index, rng):
        record = self.records[index]
        image, boxes, landmarks, valid = self.augment(
            self.read_image(index), record["boxes"], record["landmarks"], record["landmark_valid"], rng)
        target = self.targets(boxes, landmarks, valid)
        if target.get("num_dropped"):
            if not self.dropped_faces:
                logger.warning("%s: %d faces beyond max_objs only got heatmap peaks (warned once per "
                               "process; see FaceDetectionSource.dropped_faces)",
                               record["file_name"], target["num_dropped"])
            self.dropped_faces += target["num_dropped"]
        return (hwc_to_chw(image),) + tuple(target[name] for name in COLUMN_NAMES[1:])
