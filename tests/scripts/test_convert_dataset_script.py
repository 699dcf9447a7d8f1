"""Tests for scripts/convert_dataset_to_mindrecord.sh: usage and argument checks (exit 2, nothing started), the
command DRY_RUN prints, the arguments and module path a stand-in PYTHON receives, and one real conversion of the
mini COCO set run from another folder with relative paths (then refused a second time, exit 2); exit codes and
error lines of bad input, an OS error and unreadable images.
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
    assert shlex.split(result.stdout) == ["env", f"PYTHONPATH={ROOT}", sys.executable, "-m",
                                          "src.convert_dataset_to_mindrecord",
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
    assert args[:2] == ["-m", "src.convert_dataset_to_mindrecord"]
    assert option(args, "--coco_dir") == str(tmp_path) and option(args, "--mindrecord_dir") == str(tmp_path / "out")
    assert args[-3:] == ["--overwrite", "--split", "val2017"]


def mini_coco(root, mini_dir):
    """root/coco: the mini set as COCO train2017 (annotations/person_keypoints_train2017.json, train2017/)."""
    coco = root / "coco"
    (coco / "train2017").mkdir(parents=True)
    (coco / "annotations").mkdir()
    for path in mini_dir.glob("*.jpg"):
        shutil.copy(path, coco / "train2017")
    shutil.copy(mini_dir / "test_coco.json", coco / "annotations" / "person_keypoints_train2017.json")
    return coco


def test_real_conversion_from_another_folder(tmp_path, coco_mini_dir):
    mini_coco(tmp_path, coco_mini_dir)
    result = run_script(SCRIPT, "coco", "records", "--shards", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote 4 images, 14 persons to 2 shards" in result.stdout
    assert "2 without labelled joints" in result.stdout
    assert [r["file_name"] for r in read_mindrecord_records(tmp_path / "records")] == \
        ["000000000785.jpg", "000000040083.jpg", "000000196141.jpg", "000000197388.jpg"]
    again = run_script(SCRIPT, "coco", "records", cwd=tmp_path)
    assert again.returncode == 2  # bad input: the set exists
    assert again.stderr.strip().splitlines()[-1].startswith("error: records already holds the MindRecord set "
                                                            "coco_hp.train.mind")


def one_error_line(result, code):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr[-2000:]
    assert [line for line in lines if line.startswith("error: ")] == [lines[-1]] and "Traceback" not in result.stderr
    return lines[-1]


def test_exit_codes_and_error_lines_as_every_script(tmp_path, coco_mini_dir):
    """README "Exit codes and outputs": bad input 2, an operating-system error 3 (a path under a regular file), each one
    `error:` line; unreadable images are each named and skipped, the conversion ends with exit 1."""
    coco = mini_coco(tmp_path, coco_mini_dir)
    (tmp_path / "a_file").write_text("x")
    line = one_error_line(run_script(SCRIPT, coco, tmp_path / "a_file" / "records"), 3)
    assert line == f"error: {tmp_path / 'a_file' / 'records'}: Not a directory"
    assert "--bogus" in one_error_line(run_script(SCRIPT, coco, tmp_path / "records", "--bogus"), 2)
    (coco / "annotations" / "person_keypoints_train2017.json").write_text("{not json")
    assert "cannot be read as JSON" in one_error_line(run_script(SCRIPT, coco, tmp_path / "records"), 2)

    coco = mini_coco(tmp_path / "second", coco_mini_dir)
    images = sorted((coco / "train2017").glob("*.jpg"))
    images[0].write_bytes(images[0].read_bytes()[:5000])  # two corrupt JPEGs: both named, not only the first
    images[1].write_bytes(images[1].read_bytes()[:5000])
    done = run_script(SCRIPT, coco, tmp_path / "records", "--shards", "1")
    assert done.returncode == 1, done.stderr[-2000:]
    for image in images[:2]:
        assert f"{image}: cannot be read as an image" in done.stderr
    assert "wrote 2 images" in done.stdout and "2 unreadable" in done.stdout
