"""Tests for src/data/coco_instances.py: classes = rank of the category id (COCO's _valid_ids order, checked by
hand), the instances mini set against its json, the original ctdet's policy (every image kept, crowd boxes drawn
like any box, unless asked otherwise) and its counts, the config's class table, and one-line errors."""
import json

import numpy as np
import pytest

from src.data.coco_instances import CocoCategories, InstanceSummary, load_coco_instances, load_record_image
from tests.coco_instances_mini import COCO_IDS, CROWD, instances_json, write_instances_set


def test_class_of_a_category_is_its_rank_among_the_sorted_ids():
    table = CocoCategories.from_json([{"id": i, "name": f"c{i}"} for i in reversed(COCO_IDS)], "x.json")
    assert table.ids == tuple(COCO_IDS) and len(table) == 80
    # the original's _valid_ids: 1..11 -> 0..10, 13 (stop sign) -> 11, 27 -> 24, 46 -> 40, 90 -> 79
    assert [table.class_of[i] for i in (1, 11, 13, 27, 46, 90)] == [0, 10, 11, 24, 40, 79]
    assert table.names[11] == "c13"


@pytest.fixture()
def coco(tmp_path, coco_mini_dir):
    return write_instances_set(tmp_path / "coco", coco_mini_dir, "train2017")


def test_mini_set_matches_its_json_and_keeps_every_image(coco):
    records = load_coco_instances(coco / "annotations" / "instances_train2017.json", coco / "train2017")
    data = json.loads((coco / "annotations" / "instances_train2017.json").read_text())
    assert [r["image_id"] for r in records] == [i["id"] for i in data["images"]]  # json order, empty image too
    class_of = {category_id: k for k, category_id in enumerate(COCO_IDS)}
    for record in records:
        anns = [a for a in data["annotations"] if a["image_id"] == record["image_id"]]
        np.testing.assert_allclose(record["boxes_xywh"], np.array([a["bbox"] for a in anns]).reshape(-1, 4),
                                   atol=1e-4)
        assert record["labels"].tolist() == [class_of[a["category_id"]] for a in anns]
        assert "keypoints" not in record and record["labels"].dtype == np.int32
    assert records.summary == InstanceSummary(images=5, images_kept=5, images_without_objects=1, objects=14,
                                              crowd_annotations=1)
    assert sorted({int(label) for r in records for label in r["labels"]}) == [0, 2, 11, 79]
    assert records.categories.ids == tuple(COCO_IDS)
    assert load_record_image(records[1]).shape == (333, 500, 3)


def test_crowd_and_empty_policy(coco):
    path = coco / "annotations" / "instances_train2017.json"
    data = json.loads(path.read_text())
    data["annotations"][9]["bbox"][2] = 0.0  # an empty box
    path.write_text(json.dumps(data))
    original = load_coco_instances(path, coco / "train2017")
    assert original.summary.objects == 13 and original.summary.empty_boxes == 1
    crowd_image = data["annotations"][CROWD]["image_id"]
    assert len(next(r for r in original if r["image_id"] == crowd_image)["boxes"]) == 5  # the crowd box drawn
    skipped = load_coco_instances(path, coco / "train2017", crowd_as_objects=False, drop_empty=True)
    assert skipped.summary == InstanceSummary(images=5, images_kept=4, images_without_objects=1, objects=12,
                                              crowd_annotations=1, empty_boxes=1)
    assert len(next(r for r in skipped if r["image_id"] == crowd_image)["boxes"]) == 4
    assert "4 of 5 images kept (1 without objects" in str(skipped.summary)


def test_the_config_class_table_must_be_the_json_one(coco):
    path = coco / "annotations" / "instances_train2017.json"
    assert len(load_coco_instances(path, coco / "train2017", categories=COCO_IDS)) == 5
    with pytest.raises(ValueError) as error:
        load_coco_instances(path, coco / "train2017", categories=[1, 2, 3])
    assert "\n" not in str(error.value) and "differ from the 3 expected by the config" in str(error.value)


@pytest.mark.parametrize("change, expected", [
    (lambda d: d["annotations"][0].update(category_id=12), "annotations[0] (id 442619): category_id 12 is not in "
                                                           "'categories'"),
    (lambda d: d.update(categories=[]), "key 'categories' missing, empty or not a list"),
    (lambda d: d["categories"].append({"id": 3, "name": "again"}), "category ids [3] appear twice"),
    (lambda d: d["categories"].append({"id": "7"}), "expected an object with an integer 'id'"),
    (lambda d: d["annotations"][2].update(bbox=[1, 2, 3]), "annotations[2] (id 230195): 'bbox' must be [x, y, w, h]"),
    (lambda d: d["annotations"][3].update(image_id=5), "image_id 5 is not in 'images'"),
])
def test_malformed_files_raise_one_line(tmp_path, coco_mini_dir, change, expected):
    data = instances_json(coco_mini_dir)
    change(data)
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError) as error:
        load_coco_instances(path, coco_mini_dir, check_images=False)
    message = str(error.value)
    assert "\n" not in message and message.startswith(str(path)) and expected in message, message
