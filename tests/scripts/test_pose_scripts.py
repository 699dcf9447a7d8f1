"""Tests for the CenterNet pose launchers with the old zoo's names (scripts/run_standalone_train_{ascend,gpu,cpu}.sh,
run_distributed_train_{ascend,gpu,cpu}.sh, run_standalone_eval_{ascend,gpu,cpu}.sh) and the common.sh functions
behind them: usage and argument errors (exit 2, one line, nothing started), the commands DRY_RUN prints for the
zoo's argument lists, processes started through a stub python (logs, exit codes, rank-table environment), and real
runs on synthetic pose data: the MindRecord route with a mid-epoch checkpoint resumed bit-identically, a 2-worker
msrun data-parallel run (identical weights on both ranks, disjoint shards) and a COCO evaluation.
shellcheck of every script: tests/scripts/test_common.py."""
import functools
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.scripts import helpers
from tests.scripts.helpers import ROOT, STUB, assert_strict_and_executable, install_stub, option, rank_table
from tests.training_runs import checkpoint_digests, state_lines

POSE_CONFIG = str(ROOT / "configs" / "centernet_pose.yaml")
TRAIN_PY, EVAL_PY = str(ROOT / "train.py"), str(ROOT / "eval.py")
MSRUN = [sys.executable, "-m", "mindspore.parallel.cluster.run"]
PATH_PREFIX = f"PATH={Path(sys.executable).parent}:$PATH"
# script -> (required argument count, the zoo's argument list as given in its usage line)
SCRIPTS = {
    "run_standalone_train_ascend.sh": (2, "DEVICE_ID MINDRECORD_DIR [CKPT]"),
    "run_standalone_train_gpu.sh": (2, "DEVICE_ID MINDRECORD_DIR [CKPT]"),
    "run_standalone_train_cpu.sh": (1, "MINDRECORD_DIR [CKPT]"),
    "run_distributed_train_ascend.sh": (2, "MINDRECORD_DIR RANK_TABLE_FILE|DEVICE_NUM [CKPT]"),
    "run_distributed_train_gpu.sh": (2, "DEVICE_NUM MINDRECORD_DIR [CKPT]"),
    "run_distributed_train_cpu.sh": (2, "WORKER_NUM MINDRECORD_DIR [CKPT]"),
    "run_standalone_eval_ascend.sh": (4, "DEVICE_ID RUN_MODE DATA_DIR CKPT"),
    "run_standalone_eval_gpu.sh": (4, "DEVICE_ID RUN_MODE DATA_DIR CKPT"),
    "run_standalone_eval_cpu.sh": (3, "RUN_MODE DATA_DIR CKPT"),
}
run_script = functools.partial(helpers.run_script, timeout=120)


@pytest.fixture()
def paths(tmp_path):
    """Placeholders the launchers check: a MindRecord folder, a COCO folder, a checkpoint, an output folder."""
    (tmp_path / "mindrecord").mkdir()
    (tmp_path / "coco" / "annotations").mkdir(parents=True)
    (tmp_path / "model.ckpt").write_bytes(b"")
    return {"mr": tmp_path / "mindrecord", "coco": tmp_path / "coco", "ckpt": tmp_path / "model.ckpt",
            "out": tmp_path / "out", "tmp": tmp_path}


@pytest.fixture()
def stub(tmp_path):
    """(env, read_calls): PYTHON replaced by the recording stub of test_train_scripts (the rank-table parser runs
    the real python); read_calls() -> [(rank-table env values, args)]."""
    env, read_rows = install_stub(tmp_path, STUB)
    return {**env, "REAL_PYTHON": sys.executable}, lambda: [(row[:4], row[4:]) for row in read_rows()]


def dry_run(name, *args, env=None, cwd=None):
    """The command lines a launcher prints with DRY_RUN=1, each split like the shell would."""
    result = run_script(name, *args, env={"DRY_RUN": "1", **(env or {})}, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines()]


def bash(code, *args):
    """CODE after sourcing common.sh as the launchers do -> CompletedProcess."""
    script = f'set -euo pipefail\nsource "{ROOT / "scripts" / "common.sh"}"\n{code}'
    return subprocess.run(["bash", "-c", script, "bash", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable}, timeout=60)


# ---------------------------------------------------------------- usage and argument errors

@pytest.mark.parametrize("name", SCRIPTS)
def test_strict_executable_usage_and_help(name):
    count, arguments = SCRIPTS[name]
    assert_strict_and_executable(ROOT / "scripts" / name)
    missing = run_script(name, *["x"] * (count - 1))
    assert missing.returncode == 2
    assert f"error: expected at least {count} arguments, got {count - 1}" in missing.stderr
    assert f"usage: bash scripts/{name} {arguments} [--key value ...]" in missing.stderr
    helped = run_script(name, "--help")
    assert helped.returncode == 0 and helped.stdout == ""
    assert "usage:" in helped.stderr and "PYTHON" in helped.stderr and "DRY_RUN=1" in helped.stderr
    assert "configs/centernet_pose.yaml" in helped.stderr


@pytest.mark.parametrize("name, args, env, message", [
    ("run_standalone_train_cpu.sh", ["{tmp}/none"], {}, "MINDRECORD_DIR {tmp}/none: no such folder"),
    ("run_standalone_train_cpu.sh", ["{mr}", "{tmp}/none.ckpt"], {}, "CKPT {tmp}/none.ckpt: no such file"),
    ("run_standalone_train_ascend.sh", ["x1", "{mr}"], {}, "DEVICE_ID x1: expected a non-negative integer"),
    ("run_standalone_train_gpu.sh", ["-1", "{mr}", "{ckpt}"], {}, "DEVICE_ID -1: expected"),
    ("run_distributed_train_cpu.sh", ["0", "{mr}"], {}, "WORKER_NUM 0: expected a positive integer"),
    ("run_distributed_train_cpu.sh", ["2", "{mr}"], {"MASTER_PORT": "80"}, "MASTER_PORT 80: expected a TCP port"),
    ("run_distributed_train_cpu.sh", ["2", "{mr}"], {"PYTHON": "no-such-python"}, "PYTHON no-such-python: not found"),
    ("run_distributed_train_gpu.sh", ["two", "{mr}"], {}, "DEVICE_NUM two: expected a positive integer"),
    ("run_distributed_train_gpu.sh", ["2", "{mr}"], {"LAUNCHER": "horovod"},
     "LAUNCHER horovod: expected msrun or mpirun"),
    ("run_distributed_train_ascend.sh", ["{mr}", "{tmp}/rt.json"], {},
     "RANK_TABLE_FILE|DEVICE_NUM {tmp}/rt.json: neither a file nor a positive integer"),
    ("run_distributed_train_ascend.sh", ["{tmp}/none", "8"], {}, "MINDRECORD_DIR {tmp}/none: no such folder"),
    ("run_distributed_train_ascend.sh", ["{mr}", "{ckpt}"], {}, "RANK_TABLE_FILE {ckpt}: not an HCCL rank table"),
    ("run_standalone_eval_cpu.sh", ["valid", "{coco}", "{ckpt}"], {}, "RUN_MODE valid: expected val or test"),
    ("run_standalone_eval_cpu.sh", ["val", "{tmp}/none", "{ckpt}"], {}, "DATA_DIR {tmp}/none: no such folder"),
    ("run_standalone_eval_cpu.sh", ["test", "{coco}", "{tmp}/none.ckpt"], {},
     "CKPT {tmp}/none.ckpt: no such checkpoint file or folder"),
    ("run_standalone_eval_ascend.sh", ["one", "val", "{coco}", "{ckpt}"], {}, "DEVICE_ID one: expected"),
    ("run_standalone_eval_gpu.sh", ["0", "train", "{coco}", "{ckpt}"], {}, "RUN_MODE train: expected val or test"),
])
def test_argument_errors_are_one_line_and_start_nothing(paths, stub, name, args, env, message):
    def expand(text):
        for key, value in paths.items():
            text = text.replace("{" + key + "}", str(value))
        return text
    stub_env, calls = stub
    result = run_script(name, *map(expand, args), env={**stub_env, **env}, cwd=paths["tmp"])
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and expand(message) in result.stderr
    assert result.stderr.count("\n") == 1  # one line
    assert calls() == [] and not paths["out"].exists() and not (paths["tmp"] / "outputs").exists()


# ---------------------------------------------------------------- the commands (DRY_RUN), zoo argument lists

def test_standalone_train_commands_take_the_zoos_arguments_verbatim(paths):
    py, mr, ckpt = sys.executable, str(paths["mr"]), str(paths["ckpt"])
    head = [py, TRAIN_PY, "--config_path", POSE_CONFIG]
    default_out = ["--output_path", "outputs/train_pose"]
    # bash scripts/run_standalone_train_ascend.sh 0 /path/mindrecord_dataset /path/load_ckpt
    assert dry_run("run_standalone_train_ascend.sh", "0", mr, ckpt, cwd=paths["tmp"]) == [
        [*head, "--device_target", "Ascend", "--device_id", "0", "--mindrecord_dir", mr,
         "--load_checkpoint_path", ckpt, *default_out]]
    # the zoo's "if no ckpt, just set \"\"", and extra options passed on
    assert dry_run("run_standalone_train_gpu.sh", "3", mr, "", "--epochs", "2") == [
        [*head, "--device_target", "GPU", "--device_id", "3", "--mindrecord_dir", mr, *default_out, "--epochs", "2"]]
    # bash scripts/run_standalone_train_cpu.sh /path/mindrecord_dataset; a COCO folder is read directly
    assert dry_run("run_standalone_train_cpu.sh", mr) == [
        [*head, "--device_target", "CPU", "--mindrecord_dir", mr, *default_out]]
    coco, out = str(paths["coco"]), str(paths["out"])
    assert dry_run("run_standalone_train_cpu.sh", coco, ckpt, "--save_checkpoint_path", out, "--lr", "1e-4") == [
        [*head, "--device_target", "CPU", "--data_dir", coco, "--load_checkpoint_path", ckpt, "--output_path", out,
         "--save_checkpoint_path", out, "--lr", "1e-4"]]
    assert not paths["out"].exists() and not (paths["tmp"] / "outputs").exists()


def test_distributed_train_commands(paths):
    py, mr, ckpt, out = sys.executable, str(paths["mr"]), str(paths["ckpt"]), str(paths["out"])
    train = [TRAIN_PY, "--config_path", POSE_CONFIG]

    def msrun(num, port, log_dir):
        return [PATH_PREFIX, *MSRUN, f"--worker_num={num}", f"--local_worker_num={num}", f"--master_port={port}",
                f"--log_dir={log_dir}/msrun_log", "--join=True"]
    assert dry_run("run_distributed_train_cpu.sh", "2", mr, "--output_path", out, env={"MASTER_PORT": "29001"}) == [
        [*msrun(2, 29001, out), *train, "--device_target", "CPU", "--mindrecord_dir", mr, "--output_path", out,
         "--output_path", out, "--is_distributed", "True"]]
    assert dry_run("run_distributed_train_gpu.sh", "8", mr, ckpt) == [
        [*msrun(8, 8118, "outputs/train_pose"), *train, "--device_target", "GPU", "--mindrecord_dir", mr,
         "--load_checkpoint_path", ckpt, "--output_path", "outputs/train_pose", "--is_distributed", "True"]]
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    assert dry_run("run_distributed_train_gpu.sh", "4", mr, env={"LAUNCHER": "mpirun"}) == [
        ["mpirun", *root, "-n", "4", "--output-filename", "outputs/train_pose/mpirun_log", "--merge-stderr-to-stdout",
         py, *train, "--device_target", "GPU", "--mindrecord_dir", mr, "--output_path", "outputs/train_pose",
         "--is_distributed", "True"]]
    # bash scripts/run_distributed_train_ascend.sh /path/mindrecord_dataset 8 (a device count: msrun)
    assert dry_run("run_distributed_train_ascend.sh", mr, "8") == [
        [*msrun(8, 8118, "outputs/train_pose"), *train, "--device_target", "Ascend", "--mindrecord_dir", mr,
         "--output_path", "outputs/train_pose", "--is_distributed", "True"]]


def test_rank_table_commands_one_per_device_of_this_server(paths):
    """bash scripts/run_distributed_train_ascend.sh /path/mindrecord_dataset /path/hccl.json /path/load_ckpt"""
    table = paths["tmp"] / "hccl.json"
    table.write_text(rank_table(("10.0.0.1", [(0, 0), (1, 1)]), ("10.0.0.2", [(4, 2), (5, 3)])))
    mr, ckpt = str(paths["mr"]), str(paths["ckpt"])
    lines = dry_run("run_distributed_train_ascend.sh", mr, table, ckpt, env={"SERVER_ID": "10.0.0.2"})
    assert lines == [["env", f"RANK_TABLE_FILE={table}", f"DEVICE_ID={device}", f"RANK_ID={rank}", "RANK_SIZE=4",
                      sys.executable, TRAIN_PY, "--config_path", POSE_CONFIG, "--device_target", "Ascend",
                      "--mindrecord_dir", mr, "--load_checkpoint_path", ckpt, "--output_path", "outputs/train_pose",
                      "--is_distributed", "True", "--device_id", str(device)] for device, rank in ((4, 2), (5, 3))]


def test_eval_commands_take_the_zoos_arguments_verbatim(paths):
    py, coco, ckpt = sys.executable, str(paths["coco"]), str(paths["ckpt"])
    head = [py, EVAL_PY, "--config_path", POSE_CONFIG]
    # bash scripts/run_standalone_eval_ascend.sh device_id val(or test) /path/coco_dataset /path/load_ckpt
    assert dry_run("run_standalone_eval_ascend.sh", "1", "val", coco, ckpt) == [
        [*head, "--device_target", "Ascend", "--device_id", "1", "--run_mode", "val", "--data_dir", coco,
         "--load_checkpoint_path", ckpt, "--output_path", "outputs/eval_pose"]]
    assert dry_run("run_standalone_eval_gpu.sh", "0", "test", coco, paths["tmp"], "--flip_test", "True") == [
        [*head, "--device_target", "GPU", "--device_id", "0", "--run_mode", "test", "--data_dir", coco,
         "--load_checkpoint_path", str(paths["tmp"]), "--output_path", "outputs/eval_pose", "--flip_test", "True"]]
    # bash scripts/run_standalone_eval_cpu.sh val(or test) /path/coco_dataset /path/load_ckpt
    out = str(paths["out"])
    assert dry_run("run_standalone_eval_cpu.sh", "val", coco, ckpt, "--save_result_dir", out) == [
        [*head, "--device_target", "CPU", "--run_mode", "val", "--data_dir", coco, "--load_checkpoint_path", ckpt,
         "--output_path", out, "--save_result_dir", out]]


@pytest.mark.parametrize("args, expected", [
    ([], "DEF"),
    (["--epochs", "2"], "DEF"),
    (["--output_path", "a b"], "a b"),
    (["--output_path=x", "--lr", "1"], "x"),
    (["--save_checkpoint_path", "c", "--output_path", "d"], "d"),  # the last one wins, as in train.py
    (["--save_result_dir=e"], "e"),
    (["--save_dir", "f", "--epochs", "3"], "f"),
    (["--output_path"], "DEF"),  # no value: train.py reports the error
])
def test_output_path_option(args, expected):
    result = bash('output_path_option "${ROOT}/configs/centernet_pose.yaml" DEF "$@"', *args)
    assert (result.returncode, result.stdout) == (0, expected + "\n")


# ---------------------------------------------------------------- processes (stub python)

def test_standalone_logs_to_the_output_folder_and_passes_the_exit_code(paths, stub):
    env, calls = stub
    out = paths["out"]
    result = run_script("run_standalone_train_cpu.sh", paths["mr"], "--output_path", out, env=env)
    assert result.returncode == 0, result.stderr
    assert (out / "train.log").read_text() == "stub training output\n"
    [(_, args)] = calls()
    assert option(args, "--output_path") == str(out) and option(args, "--device_target") == "CPU"
    failed = run_script("run_standalone_train_ascend.sh", "0", paths["mr"], "--output_path", out,
                        env={**env, "STUB_EXIT": "3"})
    assert failed.returncode == 3  # train.py's exit code survives the tee
    evaluated = run_script("run_standalone_eval_cpu.sh", "val", paths["coco"], paths["ckpt"], "--output_path", out,
                           env=env)
    assert evaluated.returncode == 0 and (out / "eval.log").read_text() == "stub training output\n"


def test_rank_table_starts_every_local_rank_and_reports_failures(paths, stub):
    table = paths["tmp"] / "hccl.json"
    table.write_text(rank_table(("10.0.0.1", [(0, 0), (1, 1)])))
    env, calls = stub
    out = paths["out"]
    result = run_script("run_distributed_train_ascend.sh", paths["mr"], table, "--output_path", out, env=env)
    assert result.returncode == 0, result.stderr
    started = sorted((tuple(e), option(args, "--device_id"), option(args, "--is_distributed")) for e, args in calls())
    assert started == [((str(table), "0", "0", "2"), "0", "True"), ((str(table), "1", "1", "2"), "1", "True")]
    for rank in (0, 1):
        assert (out / "log" / f"train_rank{rank}.log").read_text() == "stub training output\n"
    failed = run_script("run_distributed_train_ascend.sh", paths["mr"], table, "--output_path", out,
                        env={**env, "STUB_FAIL_RANK": "0"})
    assert failed.returncode == 1 and "run_distributed_train_ascend: 2 process(es), 1 failed" in failed.stdout


# ---------------------------------------------------------------- real runs on synthetic pose data

TINY = ["--enable_dcn", "False", "--train_size", "64,64", "--batch_size", "2", "--num_workers", "1",
        "--log_interval", "1", "--seed", "5"]


def final_state(log):
    found = re.findall(r"final state rank 0/1: weights sha256 (\w+), optimizer sha256 (\w+), moving_stats sha256 (\w+)",
                       log)
    assert len(found) == 1, log[-3000:]
    return found[0]


@pytest.mark.slow
def test_mindrecord_route_step_checkpoints_and_exact_resume_inside_an_epoch(pose_data, tmp_path):
    """run_standalone_train_cpu.sh MINDRECORD_DIR: 4 steps of 2 images, a checkpoint every 3 steps (0-1_3 inside
    the epoch, 0-1_4 at its end) and the zoo's log lines. Then a second run resumes from 0-1_3 alone: it reads only
    the last batch and must end with the same weights, optimizer state and BN statistics, bit for bit."""
    straight = tmp_path / "straight"
    args = [pose_data / "mindrecord", "--output_path", straight, "--epochs", "1", "--save_checkpoint_steps", "3",
            *TINY]
    result = helpers.run_script("run_standalone_train_cpu.sh", *args, timeout=900)
    log = (straight / "log_rank0.txt").read_text() if (straight / "log_rank0.txt").exists() else ""
    assert result.returncode == 0, (result.stdout + result.stderr + log)[-4000:]
    config = next(yaml.safe_load_all((straight / "config.yaml").read_text()))
    assert (config["mindrecord_dir"], config["data_dir"]) == (str(pose_data / "mindrecord"), "")
    assert sorted(p.name for p in (straight / "ckpt").iterdir()) == ["0-1_3.ckpt", "0-1_4.ckpt"]
    lines = re.findall(r"epoch: 1, current epoch percent: ([\d.]+), step: (\d), outputs are \([\d.]+, False, 1024\)",
                       log)
    assert lines == [("0.250", "1"), ("0.500", "2"), ("0.750", "3"), ("1.000", "4")]
    assert (straight / "train.log").read_text().count("current epoch percent") == 4

    resumed = tmp_path / "resumed"
    (resumed / "ckpt").mkdir(parents=True)
    shutil.copy(straight / "ckpt" / "0-1_3.ckpt", resumed / "ckpt")
    result = helpers.run_script("run_standalone_train_cpu.sh", pose_data / "mindrecord", "--output_path", resumed,
                                "--epochs", "1", "--save_checkpoint_steps", "3", "--resume", "True", *TINY,
                                timeout=900)
    resumed_log = (resumed / "log_rank0.txt").read_text()
    assert result.returncode == 0, (result.stdout + result.stderr + resumed_log)[-4000:]
    assert "resume: inside epoch 1, its first 3 of 4 steps are done and skipped" in resumed_log
    assert re.findall(r"current epoch percent: ([\d.]+), step: (\d)", resumed_log) == [("1.000", "4")]
    assert final_state(resumed_log) == final_state(log)
    assert checkpoint_digests(resumed / "ckpt" / "0-1_4.ckpt") == checkpoint_digests(straight / "ckpt" / "0-1_4.ckpt")


@pytest.mark.slow
def test_two_cpu_workers_end_with_identical_weights_after_reading_disjoint_shards(pose_data, tmp_path):
    """run_distributed_train_cpu.sh 2 MINDRECORD_DIR: 8 images, 2 per worker per step, 2 all-reduced steps. Each
    rank logs its shard and digests of its state; rank 0's are recomputed from its checkpoint."""
    out = tmp_path / "run"
    logs = helpers.run_two_cpu_workers(pose_data / "mindrecord", out, "--epochs", "1", *TINY)
    shards = helpers.epoch_shards(logs, 4)
    assert len(shards[0]) == len(shards[1]) == 4 and not shards[0] & shards[1]
    assert shards[0] | shards[1] == set(range(8))

    initial = [state_lines(log, "initial") for log in logs]
    final = [state_lines(log, "final") for log in logs]
    assert initial[0][1] == initial[1][1]
    assert final[0][1]["weights"] == final[1][1]["weights"] != initial[0][1]["weights"]
    assert final[0][1]["optimizer"] == final[1][1]["optimizer"]
    assert final[0][1]["moving_stats"] != final[1][1]["moving_stats"]  # each rank normalised its own images
    assert sorted(p.name for p in (out / "ckpt").iterdir()) == ["0-1_2.ckpt"]
    assert checkpoint_digests(out / "ckpt" / "0-1_2.ckpt") == final[0][1]
    assert re.findall(r"current epoch percent: ([\d.]+), step: (\d)", logs[0]) == [("0.500", "1"), ("1.000", "2")]
    assert "current epoch percent" not in logs[1]  # only rank 0 prints the step lines


@pytest.mark.slow
def test_cpu_eval_of_a_random_weight_checkpoint_on_synthetic_val(pose_data, tmp_path):
    """run_standalone_eval_cpu.sh val DATA_DIR CKPT: COCO results json and pycocotools' tables (random weights:
    the contract, not the accuracy)."""
    import mindspore as ms

    from src.model_utils.config import parse_config
    from src.tasks import get_task

    ms.set_seed(2)
    cfg = parse_config(["--config_path", POSE_CONFIG, "--enable_dcn", "False"])
    ckpt = tmp_path / "random.ckpt"
    ms.save_checkpoint(get_task(cfg).build_network(), str(ckpt), append_dict={"model": "centernet_pose"})
    out = tmp_path / "eval"
    result = helpers.run_script("run_standalone_eval_cpu.sh", "val", pose_data / "coco", ckpt, "--output_path", out,
                                "--enable_dcn", "False", "--input_size", "128,128", timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    results = out / "random" / "val_pred_eval.json"
    import json

    detections = json.loads(results.read_text())
    assert len(detections) == 2 * 100 and {len(d["keypoints"]) for d in detections} == {51}  # K=100 per image
    log = (out / "eval.log").read_text()
    assert log.count("Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ]") == 1
    assert re.search(r"Average Precision  \(AP\) @\[ IoU=0.50:0.95 \| area=   all \| maxDets=100 \] = ", log)
