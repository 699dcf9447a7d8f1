"""CenterNet pose training data: COCO person keypoints (the json and images, or the MindRecord shards of
scripts/convert_dataset_to_mindrecord.sh) -> augmented normalised BGR images and the pose targets, as a
`src.data.dataset.TrainingSource`.

Records come from `src.data.coco_keypoints.load_person_keypoints` (images with at least one usable person;
crowd annotations and empty boxes dropped, persons without labelled joints kept as the original) or from
`src.data.mindrecord.read_mindrecord_records` (the same records with the image bytes held in memory).
"""
import logging

from src.data.coco_keypoints import load_record_image
from src.data.dataset import TrainingSource, UnreadableImageError

logger = logging.getLogger(__name__)

__all__ = ["PoseSource"]


class PoseSource(TrainingSource):
    """Random-access pose training samples: record -> BGR image -> PoseAugment -> PoseTargets.

    ``source[i]`` is (image (3, H, W) float32, then the targets in ``targets.keys`` order); `column_names`
    says so. ``num_persons`` counts the persons of the records (none at all is an error).
    """

    def __init__(self, records, augment, targets, seed=0, epoch=0, name=""):
        super().__init__(records, seed=seed, epoch=epoch, name=name, image_path=lambda r: r.get("image_path"))
        self.augment = augment
        self.targets = targets
        self.column_names = ("image",) + tuple(targets.keys)
        self.num_persons = int(sum(len(r["boxes"]) for r in self.records))
        if self.num_persons == 0:
            raise ValueError(f"{self.name}: no usable person annotations in {len(self.records)} images")

    def sample(self, index, rng):
        record = self.records[index]
        try:
            image = load_record_image(record)
        except ValueError as err:
            raise UnreadableImageError(str(err)) from None
        chw, boxes, keypoints, _ = self.augment(image, record["boxes"], record["keypoints"], rng)
        target = self.targets(boxes, keypoints)
        return (chw,) + tuple(target[key] for key in self.targets.keys)
