"""CenterNet training data: COCO records (the json and images, or the MindRecord shards of
scripts/convert_dataset_to_mindrecord.sh) -> augmented normalised BGR images and the task's targets, as a
`src.data.dataset.TrainingSource`.

Records come from src/data/coco_instances.py (detection: every category; `load_coco_instances`), from
src/data/coco_keypoints.py (pose: persons with joints; `load_person_keypoints`) or from
`src.data.mindrecord.read_mindrecord_records` (the same records with the image bytes held in memory).
"""
import logging

from src.data.coco_instances import load_record_image
from src.data.dataset import TrainingSource, UnreadableImageError

logger = logging.getLogger(__name__)

__all__ = ["CenterNetSource"]


class CenterNetSource(TrainingSource):
    """Random-access CenterNet training samples: record -> BGR image -> CenterNetAugment -> targets.

    targets: a callable (boxes, labels) -> dict (detection: CenterTargets) or (boxes, keypoints) -> dict
    (`keypoints` True; pose: PoseTargets), with `keys` in the loss's order. ``source[i]`` is (image (3, H, W)
    float32, then the targets in ``targets.keys`` order); `column_names` says so. ``num_objects`` counts the
    objects of the records (none at all is an error; `what` names them in that message). A record's image file
    missing when the source is built, or unreadable when a sample is read, is skipped by the policy of
    src/data/dataset.py (named in a warning; MindRecord records hold their bytes).
    """

    def __init__(self, records, augment, targets, seed=0, epoch=0, name="", keypoints=False, what="object"):
        super().__init__(records, seed=seed, epoch=epoch, name=name, image_path=lambda r: r.get("image_path"))
        self.augment = augment
        self.targets = targets
        self.keypoints = bool(keypoints)
        self.column_names = ("image",) + tuple(targets.keys)
        self.num_objects = int(sum(len(r["boxes"]) for r in self.records))
        if self.num_objects == 0:
            raise ValueError(f"{self.name}: no usable {what} annotations in {len(self.records)} images")

    def sample(self, index, rng):
        record = self.records[index]
        try:
            image = load_record_image(record)
        except ValueError as err:
            raise UnreadableImageError(str(err)) from None
        keypoints = record["keypoints"] if self.keypoints else None
        chw, boxes, keypoints, _ = self.augment(image, record["boxes"], keypoints, rng)
        target = self.targets(boxes, keypoints if self.keypoints else record["labels"])
        return (chw,) + tuple(target[key] for key in self.targets.keys)
