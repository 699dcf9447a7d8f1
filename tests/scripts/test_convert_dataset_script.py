"""Tests for scripts/convert_dataset_to_mindrecord.sh: usage and argument checks (exit 2, nothing started), the
command DRY_RUN prints, the arguments and module path a stand-in PYTHON receives, and one real conversion of the
mini COCO set run from another folder with relative paths (then refused a second time, exit 1).
shellcheck of the script: tests/scripts/test_common.py (all scripts)."""
import shlex
import shutil
import sys

from src.data.mindrecord import read_mindrecord_records
from tests.scripts.helpers import ROOT, assert_strict_and_executable, install_stub, option, run_script

SCRIPT = "convert_dataset_to_mindrecord.sh"
STUB = """#!/usr/bin/env bash
# Stand-in for python: records PYTHONPATH then its arguments, one line per call.
line="$(printf '%s\\x1f' "${PYTHONPATH:-}" "$@")"
printf '%s\\n' "${line}" >>"${STUB_LOG:?}"
"""


def test_strict_and_executable():
    assert_strict_and_executable(ROOT / "scripts" / SCRIPT)


def test_usage():
    missing = run_script(SCRIPT, "only_one")
    assert missing.returncode == 2
    assert "error: expected at least 2 arguments, got 1" in missing.stderr
    assert f"usage: bash scripts/{SCRIPT} COCO_DIR MINDRECORD_DIR" in missing.stderr
    helped = run_script(SCRIPT, "--help")
    assert helped.returncode == 0 and "usage:" in helped.stderr and "--overwrite" in helped.stderr


def test_missing_coco_dir_starts_nothing(tmp_path):
    env, calls = install_stub(tmp_path, STUB)
    result = run_script(SCRIPT, tmp_path / "none", tmp_path / "out", env=env)
    assert result.returncode == 2 and f"error: COCO_DIR {tmp_path / 'none'}: no such folder" in result.stderr
    assert calls() == []


def test_dry_run_prints_the_command(tmp_path):
    result = run_script(SCRIPT, tmp_path, tmp_path / "out dir", "--shards", "4", env={"DRY_RUN": "1",
                                                                                       "PYTHONPATH": ""})
    assert result.returncode == 0, result.stderr
    assert shlex.split(result.stdout) == ["env", f"PYTHONPATH={ROOT}", sys.executable, "-m", "src.data.mindrecord",
                                          "--coco_dir", str(tmp_path), "--mindrecord_dir", str(tmp_path / "out dir"),
                                          "--shards", "4"]
    assert not (tmp_path / "out dir").exists()


def test_arguments_reach_python(tmp_path):
    env, calls = install_stub(tmp_path, STUB)
    result = run_script(SCRIPT, tmp_path, tmp_path / "out", "--overwrite", "--split", "val2017",
                        env={**env, "PYTHONPATH": "/elsewhere"})
    assert result.returncode == 0, result.stderr
    [[pythonpath, *args]] = calls()
    assert pythonpath == f"{ROOT}:/elsewhere"  # the repository first, the caller's path kept
    assert args[:2] == ["-m", "src.data.mindrecord"]
    assert option(args, "--coco_dir") == str(tmp_path) and option(args, "--mindrecord_dir") == str(tmp_path / "out")
    assert args[-3:] == ["--overwrite", "--split", "val2017"]


def test_real_conversion_from_another_folder(tmp_path, coco_mini_dir):
    coco = tmp_path / "coco"
    (coco / "train2017").mkdir(parents=True)
    (coco / "annotations").mkdir()
    for path in coco_mini_dir.glob("*.jpg"):
        shutil.copy(path, coco / "train2017")
    shutil.copy(coco_mini_dir / "test_coco.json", coco / "annotations" / "person_keypoints_train2017.json")
    result = run_script(SCRIPT, "coco", "records", "--shards", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote 4 images, 14 persons to 2 shards" in result.stdout
    assert "2 without labelled joints" in result.stdout
    assert [r["file_name"] for r in read_mindrecord_records(tmp_path / "records")] == \
        ["000000000785.jpg", "000000040083.jpg", "000000196141.jpg", "000000197388.jpg"]
    again = run_script(SCRIPT, "coco", "records", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines()[-1].startswith("convert_dataset_to_mindrecord: error: records already "
                                                            "holds the MindRecord set coco_hp.train.mind")
