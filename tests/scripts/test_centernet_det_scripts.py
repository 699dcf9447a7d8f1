"""The CenterNet launchers (scripts/run_*_{train,eval}_*.sh, convert_dataset_to_mindrecord.sh) with the detection
config: the model is chosen by a trailing --config_path FILE or by CONFIG=FILE (DRY_RUN commands, default output
folders named after the model, a missing config file is one line), and real runs on a small COCO instances set: its
MindRecord conversion, a 2-worker msrun data-parallel run (identical weights on both ranks after disjoint shards) and
a COCO box evaluation of its checkpoint. The pose launchers' own tests: tests/scripts/test_pose_scripts.py."""
import json
import re
import shlex
import sys

import pytest

from tests.coco_instances_mini import write_instances_set
from tests.scripts import helpers
from tests.scripts.helpers import ROOT
from tests.scripts.test_train_scripts import state_lines
from tests.test_train import checkpoint_digests

DET_CONFIG = str(ROOT / "configs" / "centernet_det.yaml")
TRAIN_PY, EVAL_PY = str(ROOT / "train.py"), str(ROOT / "eval.py")


def dry_run(name, *args, env=None):
    result = helpers.run_script(name, *args, env={"DRY_RUN": "1", **(env or {})})
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines()]


@pytest.fixture()
def paths(tmp_path):
    (tmp_path / "mindrecord").mkdir()
    (tmp_path / "coco" / "annotations").mkdir(parents=True)
    (tmp_path / "model.ckpt").write_bytes(b"")
    return {"mr": str(tmp_path / "mindrecord"), "coco": str(tmp_path / "coco"), "ckpt": str(tmp_path / "model.ckpt")}


def test_the_config_comes_from_a_trailing_flag_or_the_environment(paths):
    expected = [[sys.executable, TRAIN_PY, "--config_path", DET_CONFIG, "--device_target", "CPU", "--mindrecord_dir",
                 paths["mr"], "--load_checkpoint_path", paths["ckpt"], "--output_path", "outputs/train_det",
                 "--epochs", "2"]]
    assert dry_run("run_standalone_train_cpu.sh", paths["mr"], paths["ckpt"], "--config_path", DET_CONFIG,
                   "--epochs", "2") == expected
    assert dry_run("run_standalone_train_cpu.sh", paths["mr"], paths["ckpt"], f"--config_path={DET_CONFIG}",
                   "--epochs", "2") == expected
    assert dry_run("run_standalone_train_cpu.sh", paths["mr"], paths["ckpt"], "--epochs", "2",
                   env={"CONFIG": DET_CONFIG}) == expected
    [line] = dry_run("run_standalone_eval_cpu.sh", "val", paths["coco"], paths["ckpt"], "--config_path", DET_CONFIG)
    assert line == [sys.executable, EVAL_PY, "--config_path", DET_CONFIG, "--device_target", "CPU", "--run_mode",
                    "val", "--data_dir", paths["coco"], "--load_checkpoint_path", paths["ckpt"], "--output_path",
                    "outputs/eval_det"]
    [line] = dry_run("run_distributed_train_gpu.sh", "8", paths["mr"], "--config_path", DET_CONFIG)
    assert line[line.index(TRAIN_PY):] == [TRAIN_PY, "--config_path", DET_CONFIG, "--device_target", "GPU",
                                           "--mindrecord_dir", paths["mr"], "--output_path", "outputs/train_det",
                                           "--is_distributed", "True"]
    [line] = dry_run("convert_dataset_to_mindrecord.sh", paths["coco"], paths["mr"], "--config_path", DET_CONFIG)
    assert line[line.index("--coco_dir"):] == ["--coco_dir", paths["coco"], "--mindrecord_dir", paths["mr"],
                                               "--config_path", DET_CONFIG]


@pytest.mark.parametrize("name, args", [("run_standalone_train_cpu.sh", ["{mr}"]),
                                        ("run_standalone_eval_cpu.sh", ["val", "{coco}", "{ckpt}"]),
                                        ("convert_dataset_to_mindrecord.sh", ["{coco}", "{mr}"])])
def test_a_missing_config_file_is_one_line(paths, name, args, tmp_path):
    args = [a.format(**paths) for a in args]
    result = helpers.run_script(name, *args, "--config_path", tmp_path / "none.yaml")
    assert result.returncode == 2 and result.stderr == f"error: CONFIG {tmp_path / 'none.yaml'}: no such file\n"
    assert not (tmp_path / "outputs").exists()


TINY = ["--enable_dcn", "False", "--train_size", "64,64", "--batch_size", "2", "--num_workers", "1",
        "--log_interval", "1", "--seed", "5"]


@pytest.fixture(scope="module")
def det_data(tmp_path_factory, coco_mini_dir):
    """8 training images (the instances mini set twice less two) converted by the launcher with the det config, and
    the mini set as val2017."""
    root = tmp_path_factory.mktemp("det_data")
    coco = write_instances_set(root / "coco", coco_mini_dir, "train2017", copies=2)
    write_instances_set(coco, coco_mini_dir, "val2017")
    path = coco / "annotations" / "instances_train2017.json"
    data = json.loads(path.read_text())
    keep = {image["id"] for image in data["images"][:8]}
    data["images"] = data["images"][:8]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    path.write_text(json.dumps(data))
    result = helpers.run_script("convert_dataset_to_mindrecord.sh", coco, root / "mindrecord", "--shards", "2",
                                "--config_path", DET_CONFIG, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "wrote 8 images" in result.stdout
    return root


@pytest.mark.slow
def test_two_cpu_workers_train_the_detector_and_its_checkpoint_is_evaluated(det_data, tmp_path):
    """run_distributed_train_cpu.sh 2 MINDRECORD_DIR --config_path configs/centernet_det.yaml: 8 images, 2 per
    worker per step, 2 all-reduced steps; then run_standalone_eval_cpu.sh val on its checkpoint prints the box
    table."""
    out = tmp_path / "run"
    logs = helpers.run_two_cpu_workers(det_data / "mindrecord", out, "--epochs", "1", *TINY, "--config_path",
                                       DET_CONFIG)
    shards = helpers.epoch_shards(logs, 4)
    assert not shards[0] & shards[1] and shards[0] | shards[1] == set(range(8))
    final = [state_lines(log, "final") for log in logs]
    assert final[0][1]["weights"] == final[1][1]["weights"] and final[0][1]["optimizer"] == final[1][1]["optimizer"]
    assert checkpoint_digests(out / "ckpt" / "0-1_2.ckpt") == final[0][1]
    header, *rows = (out / "loss_history.csv").read_text().splitlines()
    assert header.split(",")[-3:] == ["hm", "wh", "off"] and len(rows) == 2  # the detection loss's components

    evaluated = tmp_path / "eval"
    result = helpers.run_script("run_standalone_eval_cpu.sh", "val", det_data / "coco", out / "ckpt" / "0-1_2.ckpt",
                                "--output_path", evaluated, "--enable_dcn", "False", "--input_size", "128,128",
                                "--config_path", DET_CONFIG, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    log = (evaluated / "eval.log").read_text()
    assert len(re.findall(r"Average (Precision|Recall) .*maxDets=", log)) == 12
    assert json.loads((evaluated / "0-1_2" / "val_pred_eval.json").read_text())
