"""Tests for src/data/centernet_source.py (CenterNetSource, as the pose task builds it) on the 4 real COCO val images
of tests/data: the persons it counts (against the annotation file), the columns and shapes it returns, one heatmap
peak per person without augmentation, reproducible augmentation per (seed, epoch, index), unreadable images replaced,
no persons refused."""
import json
import shutil

import numpy as np
import pytest

from src.centernet_pose.targets import PoseTargets
from src.data.centernet_augment import CenterNetAugment
from src.data.centernet_source import CenterNetSource
from src.data.coco_keypoints import load_person_keypoints
from src.data.keypoints import COCO_PERSON

SIZE = 128


def source(image_dir, json_path, augment=True, seed=0):
    records = load_person_keypoints(json_path, image_dir)
    if augment:
        augmenter = CenterNetAugment((SIZE, SIZE), (SIZE // 4, SIZE // 4), flip_pairs=COCO_PERSON.flip_pairs)
    else:
        augmenter = CenterNetAugment((SIZE, SIZE), (SIZE // 4, SIZE // 4), flip_pairs=COCO_PERSON.flip_pairs,
                                     rand_crop=False, scale=0, shift=0, flip_prob=0, color_aug=False)
    return CenterNetSource(records, augmenter, PoseTargets((SIZE // 4, SIZE // 4)), seed=seed, name=str(json_path),
                           keypoints=True, what="person")


def test_persons_columns_and_shapes(coco_mini_dir):
    json_path = coco_mini_dir / "test_coco.json"
    data = json.loads(json_path.read_text())
    pose = source(coco_mini_dir, json_path)
    with_box = [a for a in data["annotations"] if a["bbox"][2] > 0 and a["bbox"][3] > 0]
    assert pose.num_objects == len(with_box) and len(pose) == len({a["image_id"] for a in with_box})
    targets = PoseTargets((SIZE // 4, SIZE // 4))
    assert pose.column_names == ("image",) + tuple(targets.keys)
    sample = pose[0]
    assert len(sample) == len(pose.column_names)
    assert sample[0].shape == (3, SIZE, SIZE) and sample[0].dtype == np.float32
    assert sample[pose.column_names.index("hm")].shape == (1, SIZE // 4, SIZE // 4)


def test_one_heatmap_peak_per_person_without_augmentation(coco_mini_dir):
    json_path = coco_mini_dir / "test_coco.json"
    pose = source(coco_mini_dir, json_path, augment=False)
    hm = pose.column_names.index("hm")
    for index, record in enumerate(pose.records):
        heatmap = pose[index][hm]
        # every person's centre lands inside the fitted image; distinct persons have distinct centre cells here
        assert np.count_nonzero(heatmap == 1.0) == len(record["boxes"]), record.get("image_path")


def test_augmentation_depends_on_seed_epoch_and_index_only(coco_mini_dir):
    json_path = coco_mini_dir / "test_coco.json"
    a, b = source(coco_mini_dir, json_path, seed=1), source(coco_mini_dir, json_path, seed=1)
    np.testing.assert_array_equal(a[1][0], b[1][0])
    a.set_epoch(1)
    assert not np.array_equal(a[1][0], b[1][0])
    assert not np.array_equal(source(coco_mini_dir, json_path, seed=2)[1][0], b[1][0])


def test_unreadable_image_is_replaced_by_the_next_and_no_persons_is_refused(coco_mini_dir, tmp_path):
    for path in coco_mini_dir.iterdir():
        shutil.copy(path, tmp_path / path.name)
    pose = source(tmp_path, tmp_path / "test_coco.json", augment=False)
    first = pose.records[0]["image_path"]
    expected = pose[1]
    with open(first, "wb") as handle:
        handle.write(b"not a jpeg")
    got = pose[0]  # record 0 cannot be read: record 1 takes its place
    assert pose.skipped_images == 1
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    with pytest.raises(ValueError, match="no usable person"):
        CenterNetSource([{**pose.records[1], "boxes": pose.records[1]["boxes"][:0],
                          "keypoints": pose.records[1]["keypoints"][:0]}], pose.augment, pose.targets, name="empty",
                        keypoints=True, what="person")
