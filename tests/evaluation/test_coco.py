"""Tests for src/evaluation/coco.py: the COCO evaluation set of the CenterNet tasks on the instances mini set
(tests/coco_instances_mini.py): images of the annotation file, the annotation file and the class table checked
before any image is run, the results file with COCO category ids and the run's image ids, box AP over every
category, test-dev (results only) and the drawings."""
import json

import numpy as np
import pytest

from src.evaluation.coco import CocoEvalSet
from src.evaluation.eval_set import EvalImage
from src.inference.detections import Detections
from src.model_utils.config import ConfigError
from tests.coco_instances_mini import COCO_IDS, write_instances_set


@pytest.fixture(scope="module")
def coco(coco_mini_dir, tmp_path_factory):
    return write_instances_set(tmp_path_factory.mktemp("coco"), coco_mini_dir, "val2017")


def boxes_set(coco, **kwargs):
    return CocoEvalSet(coco, "val", "instances", ("bbox",), category_ids=COCO_IDS, **kwargs)


def test_images_results_and_box_ap(coco, tmp_path):
    eval_set = boxes_set(coco)
    images = eval_set.images
    assert [image.key for image in images] == ["000000000785", "000000040083", "000000196141", "000000197388",
                                               "empty"]
    assert images[1].path == coco / "val2017" / "000000040083.jpg" and images[1].info["image_id"] == 40083
    data = json.loads((coco / "annotations" / "instances_val2017.json").read_text())
    writer = eval_set.writer(tmp_path)
    class_of = {category_id: k for k, category_id in enumerate(COCO_IDS)}
    for image in images[:3]:  # the annotated boxes of three images, as detections of their classes
        anns = [a for a in data["annotations"] if a["image_id"] == image.info["image_id"]]
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)])
        writer.add(image, Detections(boxes, np.full(len(anns), 0.8), np.zeros((len(anns), 0, 2)),
                                     labels=[class_of[a["category_id"]] for a in anns]), (480, 640))
    writer.close()
    results = json.loads((tmp_path / "val_pred_eval.json").read_text())
    assert {r["category_id"] for r in results} == {1, 3, 13, 90}
    assert json.loads((tmp_path / "image_ids.json").read_text()) == [785, 40083, 196141]
    stats = eval_set.evaluate(tmp_path)
    # only the 3 images that were run are scored; the crowd box is ignored: every other box found exactly
    assert list(stats) == ["bbox"] and stats["bbox"]["AP"] == pytest.approx(1.0)


def test_the_annotation_file_and_the_class_table_are_checked_first(coco, tmp_path):
    other = tmp_path / "other"
    (other / "annotations").mkdir(parents=True)
    data = json.loads((coco / "annotations" / "instances_val2017.json").read_text())
    data["categories"] = [c for c in data["categories"] if c["id"] <= 10]  # no 13 and 90 any more
    (other / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"instances_val2017.json: annotations\[2\] \(id 230195\): category_id 90 is not "
                                         "in 'categories'"):
        boxes_set(other).images
    data["annotations"] = [a for a in data["annotations"] if a["category_id"] <= 10]
    (other / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    with pytest.raises(ValueError) as error:
        boxes_set(other).images
    assert "\n" not in str(error.value) and "are not the model's 80 classes" in str(error.value)
    with pytest.raises(FileNotFoundError, match="expected the COCO layout annotations/instances_val2017.json"):
        boxes_set(tmp_path / "nothing").images
    with pytest.raises(ConfigError, match="--run_mode train"):
        CocoEvalSet(coco, "train", "instances", ("bbox",))


def test_test_dev_gives_results_only(coco, tmp_path):
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "test2017").mkdir()
    (root / "test2017" / "a.jpg").write_bytes((coco / "val2017" / "000000000785.jpg").read_bytes())
    info = {"images": [{"id": 7, "file_name": "a.jpg", "width": 640, "height": 425}],
            "categories": [{"id": i, "name": str(i)} for i in COCO_IDS]}
    (root / "annotations" / "image_info_test-dev2017.json").write_text(json.dumps(info))
    eval_set = CocoEvalSet(root, "test", "instances", ("bbox",), category_ids=COCO_IDS)
    assert [image.key for image in eval_set.images] == ["a"] and not eval_set.can_evaluate
    writer = eval_set.writer(tmp_path / "out")
    writer.add(eval_set.images[0], Detections([[1, 2, 3, 4]], [0.5], np.zeros((1, 0, 2)), labels=[79]), (425, 640))
    writer.close()
    assert json.loads((tmp_path / "out" / "test_pred_eval.json").read_text())[0]["category_id"] == 90
    with pytest.raises(ConfigError, match="no ground truth to evaluate against"):
        eval_set.evaluate(tmp_path / "out")


def test_visual_drawings_use_the_task_drawing(coco, tmp_path):
    drawn = []

    def draw(pixels, dets):
        drawn.append(len(dets))
        return pixels

    eval_set = boxes_set(coco, draw=draw, visual=True)
    writer = eval_set.writer(tmp_path)
    image = EvalImage("x", coco / "val2017" / "empty.jpg", {"image_id": 999})
    writer.add(image, Detections.empty(0, labelled=True), (4, 4), pixels=np.zeros((4, 4, 3), np.uint8))
    assert drawn == [0] and (tmp_path / "visual" / "x.jpg").is_file()
