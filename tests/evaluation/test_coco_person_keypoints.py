"""Tests for src/evaluation/coco.py as CenterNet pose uses it (person keypoints and boxes), on the 4 real COCO val
images of tests/data: the layout it reads, its one-line refusals, the writer's files, and the evaluation of the ground
truth itself written as results (every person found exactly: keypoint and box AP 1 by COCO's definition)."""
import json
import shutil

import numpy as np
import pytest

from src.evaluation.coco import CocoEvalSet
from src.evaluation.eval_set import EvalImage
from src.inference.detections import Detections
from src.model_utils.config import ConfigError


@pytest.fixture(scope="module")
def coco_dir(coco_mini_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    (root / "annotations").mkdir()
    shutil.copytree(coco_mini_dir, root / "val2017", ignore=shutil.ignore_patterns("*.json"))
    shutil.copy(coco_mini_dir / "test_coco.json", root / "annotations" / "person_keypoints_val2017.json")
    return root


def pose_drawing(image, dets):
    """The pose task's drawing (what eval.py --visual_image draws with)."""
    from src.model_utils.config import parse_config
    from src.tasks import get_task, task_config_path

    return get_task(parse_config(["--config_path", str(task_config_path("centernet_pose"))])).draw(image, dets)


def ground_truth(coco_dir):
    return json.loads((coco_dir / "annotations" / "person_keypoints_val2017.json").read_text())


def test_images_in_the_annotation_files_order(coco_dir):
    eval_set = CocoEvalSet(coco_dir, "val")
    expected = [(image["id"], image["file_name"]) for image in ground_truth(coco_dir)["images"]]
    assert [(i.info["image_id"], i.info["file_name"]) for i in eval_set.images] == expected
    assert all(i.path == coco_dir / "val2017" / i.info["file_name"] and i.key == i.path.stem for i in eval_set.images)
    assert eval_set.can_evaluate


def test_refusals(coco_dir, tmp_path):
    with pytest.raises(ConfigError, match="--run_mode train"):
        CocoEvalSet(coco_dir, "train")
    test_dev = CocoEvalSet(coco_dir, "test")  # no test-dev annotations here: results only, and no images found
    assert not test_dev.can_evaluate
    with pytest.raises(FileNotFoundError, match="image_info_test-dev2017.json"):
        test_dev.images
    with pytest.raises(ConfigError, match="no ground truth"):
        test_dev.evaluate(tmp_path)
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "person_keypoints_val2017.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot be read as JSON"):
        CocoEvalSet(tmp_path, "val").images
    shutil.copy(coco_dir / "annotations" / "person_keypoints_val2017.json", tmp_path / "annotations")
    with pytest.raises(FileNotFoundError, match="none of the images"):
        CocoEvalSet(tmp_path, "val").images
    with pytest.raises(FileNotFoundError, match="run test.py or eval.py first"):
        CocoEvalSet(coco_dir, "val").evaluate(tmp_path / "empty")


def detections_of_ground_truth(annotations, image_id):
    """The image's non-crowd persons as detections: box xywh -> corners, the labelled joints where they are."""
    persons = [a for a in annotations if a["image_id"] == image_id and not a["iscrowd"]]
    boxes = [[x, y, x + w, y + h] for x, y, w, h in (p["bbox"] for p in persons)]
    joints = np.array([p["keypoints"] for p in persons], np.float32).reshape(len(persons), 17, 3)
    # Persons without labelled joints are boxes for the box AP but ignored by the keypoint AP, where their
    # detection is a false positive: scored below every other person it cannot lower a precision (AP stays 1).
    scores = [0.1 if p["num_keypoints"] == 0 else 0.9 - 0.01 * i for i, p in enumerate(persons)]
    return Detections(boxes, scores, joints[..., :2], np.ones((len(persons), 17), np.float32))


def test_ground_truth_as_results_scores_one_and_unrun_images_are_left_out(coco_dir, tmp_path):
    gt = ground_truth(coco_dir)
    eval_set = CocoEvalSet(coco_dir, "val", visual=True, draw=pose_drawing)
    writer = eval_set.writer(tmp_path)
    run = eval_set.images[:3]  # the fourth image is not run: it must not count as missed persons
    image_pixels = np.zeros((40, 60, 3), np.uint8)
    for image in run:
        writer.add(image, detections_of_ground_truth(gt["annotations"], image.info["image_id"]), (40, 60),
                   pixels=image_pixels)
    writer.close()
    results = json.loads((tmp_path / "val_pred_eval.json").read_text())
    run_ids = sorted(image.info["image_id"] for image in run)
    assert json.loads((tmp_path / "image_ids.json").read_text()) == run_ids
    expected = sum(1 for a in gt["annotations"] if a["image_id"] in run_ids and not a["iscrowd"])
    assert len(results) == expected and {r["category_id"] for r in results} == {1}
    assert sorted(p.name for p in (tmp_path / "visual").iterdir()) == sorted(f"{i.key}.jpg" for i in run)
    metrics = eval_set.evaluate(tmp_path)
    assert metrics["keypoints"]["AP"] == pytest.approx(1.0) and metrics["bbox"]["AP"] == pytest.approx(1.0)
    # one person moved by half its box: the keypoint AP drops below 1 (the evaluation reads what was written)
    moved = EvalImage(run[0].key, run[0].path, run[0].info)
    dets = detections_of_ground_truth(gt["annotations"], moved.info["image_id"])
    dets.keypoints[0] += (dets.boxes[0, 2:] - dets.boxes[0, :2]) / 2
    writer = eval_set.writer(tmp_path / "moved")
    for image in run:
        writer.add(image, dets if image is run[0] else detections_of_ground_truth(gt["annotations"],
                                                                                  image.info["image_id"]), (40, 60))
    writer.close()
    assert CocoEvalSet(coco_dir, "val").evaluate(tmp_path / "moved")["keypoints"]["AP"] < 0.95
