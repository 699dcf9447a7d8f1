"""Tests for the bash scripts in scripts/ (test, test_distribute, eval, eval_all, test_and_eval,
run_infer_310) and ascend310_infer/build.sh: strictness, usage errors, argument passing (through a stub
PYTHON that records its arguments), and eval_all.sh's choice of the best checkpoint on fabricated results
whose APs are worked out by hand below. shellcheck of every script: tests/scripts/test_common.py."""
import numpy as np
import pytest

from src.data.wider_gt import write_wider_gt
from tests.scripts.helpers import ROOT, assert_strict_and_executable, install_stub, option, run_script

SCRIPTS = ["test.sh", "test_distribute.sh", "eval.sh", "eval_all.sh", "test_and_eval.sh", "run_infer_310.sh"]
SCRIPT_PATHS = [ROOT / "scripts" / name for name in SCRIPTS] + [ROOT / "ascend310_infer" / "build.sh"]

STUB = """#!/usr/bin/env bash
# Stand-in for python: records its arguments (one line per call), exits with STUB_EXIT (default 0), or 3 when
# its --device_id equals STUB_FAIL_DEVICE.
line="$(printf '%s\\x1f' "$@")"
printf '%s\\n' "${line}" >>"${STUB_LOG:?}"  # one write: parallel calls do not interleave
device=""
for ((i = 1; i < $#; i++)); do
  if [[ "${!i}" == "--device_id" ]]; then j=$((i + 1)); device="${!j}"; fi
done
if [[ -n "${STUB_FAIL_DEVICE:-}" && "${device}" == "${STUB_FAIL_DEVICE}" ]]; then exit 3; fi
exit "${STUB_EXIT:-0}"
"""


@pytest.fixture()
def stub(tmp_path):
    """(env, read_calls): PYTHON replaced by the recording stub; read_calls() -> list of argument lists."""
    return install_stub(tmp_path, STUB)


# ---------------------------------------------------------------- static checks and usage

@pytest.mark.parametrize("script", SCRIPT_PATHS, ids=lambda p: p.name)
def test_scripts_are_strict_and_executable(script):
    assert_strict_and_executable(script)


@pytest.mark.parametrize("name", SCRIPTS)
def test_usage_on_missing_arguments_and_help(name):
    missing = run_script(name)
    assert missing.returncode == 2
    assert "usage: bash scripts/" + name in missing.stderr and "error: expected" in missing.stderr
    helped = run_script(name, "--help")
    assert helped.returncode == 0 and "usage:" in helped.stderr


@pytest.mark.parametrize("name, args, message", [
    ("test.sh", ["{tmp}/none.ckpt", "{tmp}", "{tmp}", "{tmp}/out"], "CKPT_PATH {tmp}/none.ckpt: no such"),
    ("test.sh", ["{tmp}", "{tmp}", "{tmp}", "{tmp}/out", "TPU"], "DEVICE_TARGET TPU"),
    ("test.sh", ["{tmp}", "{tmp}", "{tmp}", "{tmp}/out", "CPU", "x1"], "DEVICE_ID x1"),
    ("eval.sh", ["{tmp}", "{tmp}", "1.5"], "IOU 1.5"),
    ("eval.sh", ["{tmp}/none", "{tmp}"], "PRED_DIR {tmp}/none"),
    ("eval_all.sh", ["{tmp}", "{tmp}"], "no result folders"),
    ("test_distribute.sh", ["{tmp}", "{tmp}", "{tmp}", "{tmp}/o", "5", "3", "2"], "START 5 > END 3"),
    ("test_distribute.sh", ["{tmp}", "{tmp}", "{tmp}", "{tmp}/o", "1", "3", "0"], "NUM_PROCESSES 0"),
    ("test_distribute.sh", ["{tmp}", "{tmp}", "{tmp}", "{tmp}/o", "1", "3", "2"], "no 0-{epoch}_{step}.ckpt"),
    ("run_infer_310.sh", ["{tmp}/m.onnx", "{tmp}", "{tmp}", "{tmp}/w"], "expected a .mindir or a .ckpt"),
    ("run_infer_310.sh", ["{tmp}/m.mindir", "{tmp}", "{tmp}", "{tmp}/w", "0", "gpu"], "RUNNER gpu"),
    ("run_infer_310.sh", ["{tmp}/m.mindir", "{tmp}", "{tmp}", "{tmp}/w", "0", "cpu", "832"], "INPUT_SIZE 832"),
])
def test_argument_validation(tmp_path, stub, name, args, message):
    (tmp_path / "m.onnx").write_bytes(b"x")
    (tmp_path / "m.mindir").write_bytes(b"x")
    env, calls = stub
    result = run_script(name, *[a.replace("{tmp}", str(tmp_path)) for a in args], env=env)
    assert result.returncode == 2, result.stderr
    assert "error: " in result.stderr and message.replace("{tmp}", str(tmp_path)) in result.stderr
    assert calls() == []  # nothing was started


# ---------------------------------------------------------------- argument passing

def test_test_sh_passes_arguments_to_test_py(tmp_path, stub):
    env, calls = stub
    result = run_script("test.sh", tmp_path, tmp_path, tmp_path, tmp_path / "out", "GPU", "3",
                        "--flip_test", "True", env=env)
    assert result.returncode == 0, result.stderr
    [args] = calls()
    assert args[0] == str(ROOT / "test.py")
    assert option(args, "--save_dir") == str(tmp_path / "out") and option(args, "--device_target") == "GPU"
    assert option(args, "--device_id") == "3" and args[-2:] == ["--flip_test", "True"]


def test_test_distribute_splits_present_epochs_over_devices(tmp_path, stub):
    env, calls = stub
    ckpts = tmp_path / "ckpt"
    ckpts.mkdir()
    for name in ["0-1_5.ckpt", "0-2_5.ckpt", "0-3_5.ckpt", "0-5_5.ckpt", "0-5_9.ckpt", "0-8_5.ckpt", "1-4_5.ckpt"]:
        (ckpts / name).write_bytes(b"x")
    result = run_script("test_distribute.sh", ckpts, tmp_path, tmp_path, tmp_path / "out", 2, 8, 2,
                        "Ascend", 4, "--multi_scale", "True", env=env)
    assert result.returncode == 0, result.stderr
    shares = sorted((option(a, "--device_id"), option(a, "--start"), option(a, "--end")) for a in calls())
    assert shares == [("4", "2", "3"), ("5", "5", "8")]  # epochs 2, 3, 5, 8 in two contiguous shares
    assert all(option(a, "--device_target") == "Ascend" and a[-1] == "True" for a in calls())
    assert (tmp_path / "out" / "log" / "test_0.log").exists()


def test_test_distribute_more_processes_than_epochs_and_failure(tmp_path, stub):
    env, calls = stub
    for name in ["0-1_5.ckpt", "0-2_5.ckpt"]:
        (tmp_path / name).write_bytes(b"x")
    result = run_script("test_distribute.sh", tmp_path, tmp_path, tmp_path, tmp_path / "out", 0, 9, 3,
                        env={**env, "STUB_FAIL_DEVICE": "1"})
    assert sorted((option(a, "--device_id"), option(a, "--start")) for a in calls()) == [("0", "1"), ("1", "2")]
    assert result.returncode == 1
    assert "process 1: failed with exit code 3" in result.stderr


def test_test_and_eval_stops_when_test_fails_badly(tmp_path, stub):
    env, calls = stub
    result = run_script("test_and_eval.sh", tmp_path, tmp_path, tmp_path, tmp_path / "out",
                        env={**env, "STUB_EXIT": "2"})
    assert result.returncode == 2 and "nothing evaluated" in result.stderr
    assert len(calls()) == 1  # test.py only, no eval.py


def test_run_infer_310_ascend_stops_with_the_cmake_message_here(tmp_path, stub):
    env, calls = stub
    (tmp_path / "m.mindir").write_bytes(b"x")
    result = run_script("run_infer_310.sh", tmp_path / "m.mindir", tmp_path, tmp_path,
                        tmp_path / "work", 0, "ascend", "256,256",
                        env={**env, "BUILD_DIR": str(tmp_path / "build"), "MINDSPORE_PATH": "",
                             "ASCEND_HOME": str(tmp_path / "no_cann")})
    assert result.returncode != 0
    assert "ascend310_infer cannot be built on this machine" in result.stderr
    [preprocess, _mindspore_path_probe] = calls()
    assert preprocess[0] == str(ROOT / "preprocess.py") and option(preprocess, "--input_size") == "256,256"


# ---------------------------------------------------------------- eval_all.sh on fabricated results

# One image; face f1 is kept in easy/medium/hard, f2 in medium/hard, f3 in hard only; FP matches nothing.
FACES = {"f1": (10, 10, 40, 40), "f2": (100, 10, 30, 30), "f3": (200, 10, 20, 20)}
FALSE_POSITIVE = (300, 100, 30, 30)
# folder -> predictions (face or FP, score). APs by hand (VOC all-point AP over the official thresholds):
#  0-1_5:  f1                      easy 1 (1/1)   medium 1/2          hard 1/3                 sum 1.8333
#  0-2_5:  f1 .9, f2 .8            easy 1 (f2 ignored) medium 1       hard 2/3                 sum 2.6667
#  0-10_5: FP .95, f3 .9, f2 .8, f1 .7
#          easy: FP then f1 -> P=1/2 at R=1: 0.5;  medium: FP, f2 (R 1/2, P 1/2), f1 (R 1, P 2/3): 2/3
#          hard: FP, f3 (1/3, 1/2), f2 (2/3, 2/3), f1 (1, 3/4): envelope 3/4 everywhere: 0.75; sum 1.9167
RESULTS = {
    "0-1_5": [("f1", 0.9)],
    "0-2_5": [("f1", 0.9), ("f2", 0.8)],
    "0-10_5": [("fp", 0.95), ("f3", 0.9), ("f2", 0.8), ("f1", 0.7)],
}
EXPECTED = {"0-1_5": (1.0, 0.5, 1 / 3), "0-2_5": (1.0, 1.0, 2 / 3), "0-10_5": (0.5, 2 / 3, 0.75)}


def fabricate(save_dir, gt_dir):
    kept = np.array([[1, 1, 1], [0, 1, 1], [0, 0, 1]], bool)
    write_wider_gt(str(gt_dir), {"0--Parade": [("0_Parade_1", np.array(list(FACES.values())), kept)]})
    for folder, preds in RESULTS.items():
        lines = [f"{x} {y} {w} {h} {score}" for name, score in preds
                 for x, y, w, h in [FACES.get(name, FALSE_POSITIVE)]]
        path = save_dir / folder / "0--Parade" / "0_Parade_1.txt"
        path.parent.mkdir(parents=True)
        path.write_text("\n".join(["0_Parade_1", str(len(lines)), *lines]) + "\n")
    (save_dir / "log").mkdir()  # not a result folder: ignored
    (save_dir / "log" / "test_0.log").write_text("x")


def test_eval_all_reports_best_checkpoint_per_setting(tmp_path):
    fabricate(tmp_path / "save", tmp_path / "gt")
    result = run_script("eval_all.sh", tmp_path / "save", tmp_path / "gt" / "wider_face_val.mat")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in lines[1:4]}
    assert [line.split()[0] for line in lines[1:4]] == ["0-1_5", "0-2_5", "0-10_5"]  # version order
    for name, (easy, medium, hard) in EXPECTED.items():
        np.testing.assert_allclose(rows[name], [easy, medium, hard, easy + medium + hard], atol=1e-4)
    best = {line.split(":")[0]: line.split(":")[1].split()[0] for line in lines[4:]}
    # Easy ties at 1.0 between 0-1_5 and 0-2_5: the first in version order wins.
    assert best == {"best Easy": "0-1_5", "best Medium": "0-2_5", "best Hard": "0-10_5", "best Sum": "0-2_5"}
    assert (tmp_path / "save" / "eval_all.txt").read_text() == result.stdout
    assert (tmp_path / "save" / "0-10_5" / "eval.json").exists()


def test_eval_all_goes_on_after_a_broken_folder(tmp_path):
    fabricate(tmp_path / "save", tmp_path / "gt")
    (tmp_path / "save" / "0-2_5" / "0--Parade" / "0_Parade_1.txt").write_text("0_Parade_1\n3\n1 2 3 4 0.5\n")
    result = run_script("eval_all.sh", tmp_path / "save", tmp_path / "gt")
    assert result.returncode == 1
    assert "0-2_5: evaluation failed" in result.stderr and "count line says 3 boxes" in result.stderr
    assert "best Medium: 0-10_5" in result.stdout  # among the folders that could be evaluated


def test_eval_sh_prints_the_three_lines(tmp_path):
    fabricate(tmp_path / "save", tmp_path / "gt")
    result = run_script("eval.sh", tmp_path / "save" / "0-2_5", tmp_path / "gt")
    assert result.returncode == 0, result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["Easy   Val AP", "Medium Val AP",
                                                                          "Hard   Val AP"]
    assert float(result.stdout.splitlines()[1].split(":")[1]) == pytest.approx(1.0)
