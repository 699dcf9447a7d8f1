"""Tests for src/centernet_pose/task.py: the heads and keypoint schema computed from the config (the original's
head order by hand), the one-line refusals, the inference options per config, predict.py's record and the
headline APs."""
import json

import numpy as np
import pytest

from src.data.keypoints import COCO_PERSON
from src.inference.detections import Detections
from src.model_utils.config import ConfigError, parse_config
from src.tasks import get_task, task_config_path


def task(*args, script=None):
    return get_task(parse_config(["--config_path", str(task_config_path("centernet_pose")), *args], script=script))


@pytest.mark.parametrize("flags, heads", [
    ((), [("hm", 1), ("wh", 2), ("hps", 34), ("reg", 2), ("hm_hp", 17), ("hp_offset", 2)]),
    (("--reg_offset", "False"), [("hm", 1), ("wh", 2), ("hps", 34), ("hm_hp", 17), ("hp_offset", 2)]),
    (("--reg_hp_offset", "False"), [("hm", 1), ("wh", 2), ("hps", 34), ("reg", 2), ("hm_hp", 17)]),
    (("--hm_hp", "False", "--reg_hp_offset", "False"), [("hm", 1), ("wh", 2), ("hps", 34), ("reg", 2)]),
])
def test_heads_follow_the_flags_in_the_originals_order(flags, heads):
    pose = task(*flags)
    assert list(pose.heads) == heads and pose.head_names == tuple(n for n, _ in heads)
    assert pose.output_names == pose.head_names and pose.input_name == "input"


def test_other_joint_counts_get_generic_names_and_the_configs_pairs():
    pose = task("--num_joints", "3", "--flip_idx", "[[0, 2]]", "--edges", "[[0, 1], [1, 2]]")
    assert pose.keypoints.names == ("joint_0", "joint_1", "joint_2") and pose.keypoints.flip_order == (2, 1, 0)
    assert dict(pose.heads)["hps"] == 6 and dict(pose.heads)["hm_hp"] == 3
    assert task().keypoints == COCO_PERSON


@pytest.mark.parametrize("args, message", [
    (("--hm_hp", "False"), "--reg_hp_offset True needs --hm_hp True"),
    (("--aug_color_jitter", "0"), "--aug_color_jitter 0"),
    (("--num_joints", "3", "--flip_idx", "[[0, 3]]", "--edges", "[[0, 1]]"), "--flip_idx / --edges"),
])
def test_contradicting_options_are_one_line_config_errors(args, message):
    with pytest.raises(ConfigError, match=message):
        task(*args)


def test_onnx_export_refused_with_deformable_convs_only():
    with pytest.raises(ConfigError, match="ONNX"):
        task().check_export("onnx")
    task().check_export("MINDIR")
    task("--enable_dcn", "False").check_export("ONNX")


def test_inference_options():
    fixed = task("--input_size", "256,384").pass_options("test")
    assert fixed == {"input_size": (256, 384), "fit_scale": 1.0, "scales": (1.0,)}
    keep_res = task("--keep_res", "True").pass_options("predict")
    assert keep_res["input_size"] is None
    multi = task("--test_scales", "0.5,1.0,1.5").inference_options("test")
    assert multi.nms == "soft_gaussian" and tuple(multi.scales) == (0.5, 1.0, 1.5)
    assert task("--soft_nms", "True").inference_options("test").nms == "soft_gaussian"


def test_predict_record_by_hand():
    dets = Detections([[1, 2, 30, 40]], [0.75], np.arange(34, dtype=np.float32).reshape(1, 17, 2),
                      np.full((1, 17), 0.5, np.float32))
    record = json.loads(json.dumps(task().to_json(dets, "a.jpg")))
    assert record["image"] == "a.jpg" and len(record["detections"]) == 1
    person = record["detections"][0]
    assert person["bbox"] == [1, 2, 30, 40] and person["score"] == 0.75
    assert person["keypoints"][3] == [6, 7, 0.5] and len(person["keypoints"]) == 17
    no_scores = Detections([[1, 2, 30, 40]], [0.75], np.zeros((1, 17, 2), np.float32))
    assert task().to_json(no_scores, "b.jpg")["detections"][0]["keypoints"][0] == [0, 0, 1.0]


def test_headline_aps_and_synthetic_data_refusal(tmp_path):
    metrics = {"keypoints": {"AP": 0.25, "AP50": 0.5}, "bbox": {"AP": 0.125}}
    assert task().headline_aps(metrics) == {"keypoints AP": 0.25, "bbox AP": 0.125}
    with pytest.raises(ConfigError, match="17 COCO joints"):
        three = task("--num_joints", "3", "--flip_idx", "[[0, 2]]", "--edges", "[[0, 1]]")
        three.synthetic_dataset(tmp_path, 1, 1, 128)
