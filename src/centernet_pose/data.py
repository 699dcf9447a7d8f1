"""CenterNet pose training data: the CenterNet source (src/data/centernet_source.py) with the persons' joints.

Records come from `src.data.coco_keypoints.load_person_keypoints` (images with at least one usable person;
crowd annotations and empty boxes dropped, persons without labelled joints kept as the original) or from
`src.data.mindrecord.read_mindrecord_records` (the same records with the image bytes held in memory).
"""
from src.data.centernet_source import CenterNetSource

__all__ = ["PoseSource"]


class PoseSource(CenterNetSource):
    """Random-access pose training samples: record -> BGR image -> CenterNetAugment -> PoseTargets.

    ``source[i]`` is (image (3, H, W) float32, then the targets in ``targets.keys`` order); `column_names`
    says so. ``num_persons`` counts the persons of the records (none at all is an error).
    """

    def __init__(self, records, augment, targets, seed=0, epoch=0, name=""):
        super().__init__(records, augment, targets, seed=seed, epoch=epoch, name=name, keypoints=True,
                         what="person")

    @property
    def num_persons(self):
        return self.num_objects
