"""Faults and bad input through the real scripts, in subprocesses: inputs never modified, one run per
output folder, one `error:` line with the documented exit code for every user and operating-system fault, bounded
memory for large photos, Ctrl-C and resume after a damaged checkpoint.

How the faults are made, as root in a container (the tests run as root, which ignores permission bits):
* a file where a folder is expected: an output path under a regular file (ENOTDIR), or the file itself;
* a full disk: the script's files limited by RLIMIT_FSIZE (`resource.setrlimit` in the child). A write past the
  limit fails with EFBIG "File too large" through the same code path as ENOSPC (Python ignores SIGXFSZ); a log
  file symlinked to /dev/full gives the real ENOSPC (an atomic write replaces a symlink, a log file appends);
* a read-only folder: a 0o555 folder, the script run in a new user namespace (`unshare(CLONE_NEWUSER)` in the
  child, no mapping): there root's files obey their permission bits; as another user, the bits alone suffice.
  Skipped when neither is possible. Mounting a read-only or tiny tmpfs needs CAP_SYS_ADMIN: not assumed.
"""
import ctypes
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.processes import interrupt_at

ROOT = Path(__file__).resolve().parents[1]
CLONE_NEWUSER = 0x10000000
EXIT_USAGE, EXIT_OS, EXIT_INTERRUPTED = 2, 3, 130
ENV = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "GLOG_v": "3"}


def _new_user_namespace():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUSER) failed")


@pytest.fixture(scope="session")
def read_only(tmp_path_factory):
    """(folder, preexec_fn): a read-only folder and how to start a child that cannot write into it."""
    folder = tmp_path_factory.mktemp("read_only")
    folder.chmod(0o555)
    preexec = _new_user_namespace if os.geteuid() == 0 else None
    probe = f"open({str(folder / 'probe')!r}, 'w')"
    try:
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, preexec_fn=preexec)
    except subprocess.SubprocessError:
        proc = None
    if proc is None or "PermissionError" not in proc.stderr:
        pytest.skip("cannot make a folder read-only for the scripts here (root without user namespaces)")
    return folder, preexec


def run_script(script, *args, cwd=None, file_size_limit=None, preexec=None, timeout=600):
    def limit():
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
        if preexec is not None:
            preexec()

    return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], cwd=cwd or ROOT, env=ENV,
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit if (file_size_limit is not None or preexec is not None) else None)


def one_error_line(proc, code, *fragments):
    """The single `error:` line of a failed run, which is its last stderr line; no traceback."""
    assert proc.returncode == code, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == [lines[-1]] and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    for fragment in fragments:
        assert str(fragment) in errors[0], errors[0]
    return errors[0]


def snapshot(folder):
    """{relative path: bytes} of every file under `folder`."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def val_set(tmp_path_factory):
    from src.data.synthetic import generate

    paths = generate(str(tmp_path_factory.mktemp("val")), num_train=0, num_val=3, seed=7, image_size=192,
                     progress=False)
    return Path(paths["val_images"]), Path(paths["val_gt_dir"])


@pytest.fixture(scope="module")
def wider_results(tmp_path_factory):
    """A tiny WIDER ground truth and a result folder for it (written directly; eval.py needs no network)."""
    from tests.dependency.evaluate.wider_files import write_predictions, write_wider_gt

    root = tmp_path_factory.mktemp("wider")
    gt = write_wider_gt(root / "gt", [("0--A", [("a_1", [[10, 10, 20, 20]], {}), ("a_2", [[5, 5, 9, 9]], {})])])
    preds = write_predictions(root / "pred", {("0--A", "a_1"): [[10, 10, 20, 20, 0.9]],
                                              ("0--A", "a_2"): [[5, 5, 9, 9, 0.8]]})
    return gt, preds


# ---------------------------------------------------------------- inputs never modified (items 1, 2, 9)

@pytest.mark.slow
def test_predict_never_writes_among_its_inputs_and_keeps_every_result(official_ckpt, tmp_path):
    import cv2

    photo = cv2.imread(str(ROOT / "assets" / "astronaut.png"))
    images = tmp_path / "images"
    for name in ("a/photo.jpg", "a/photo.png", "b/photo.jpg"):
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(images / name), cv2.resize(photo, (128, 128)))
    (images / "b" / "cut.jpg").write_bytes((images / "a" / "photo.jpg").read_bytes()[:3000])  # truncated JPEG
    before = snapshot(images)

    refused = run_script("predict.py", "--ckpt_path", official_ckpt, "--image", images, "--output_path", images)
    one_error_line(refused, EXIT_USAGE, f"output folder {images} holds the input")
    assert snapshot(images) == before

    out = images / "predictions"  # inside the input folder: left out of the walk, on every run
    for _ in range(2):
        proc = run_script("predict.py", "--ckpt_path", official_ckpt, "--image", images, "--output_path", out)
        assert proc.returncode == 1, proc.stderr[-3000:]  # the truncated JPEG is unreadable: named, others done
        assert "cut.jpg: cannot be read as an image" in proc.stderr and "predict: 3/4 images" in proc.stdout
    assert sorted(str(p.relative_to(out)) for p in out.rglob("[!.]*.json")) == [
        "a/photo_jpg.json", "a/photo_png.json", "b/photo.json"]
    assert {k: v for k, v in snapshot(images).items() if not k.startswith("predictions/")} == before


# ---------------------------------------------------------------- bad values, before MindSpore loads (item 6)

@pytest.mark.parametrize("args, fragment", [
    (["--input_size", "100,100"], "'input_size': value 100 is not a multiple of 32 (--input_size)"),
    (["--input_size", "31,31"], "'input_size': value 31 is below the minimum 32 (--input_size)"),
    (["--input_size", "a,b"], "'input_size': value 'a' is not a number (--input_size)"),
    (["--input_size", "-32,-32"], "argument --input_size: expected one argument (a value starting with '-' is "
                                  "written --key=value)"),
    (["--input_size=-32,-32"], "'input_size': value -32 is below the minimum 32 (--input_size)"),
    (["--score_thresh=-1"], "'score_thresh': value -1.0 is below the minimum 0 (--score_thresh)"),
    (["--score_thresh", "2"], "'score_thresh': value 2.0 is above the maximum 1 (--score_thresh)"),
    (["--nms_iou", "5"], "'nms_iou': value 5.0 is above the maximum 1 (--nms_iou)"),
    (["--max_input_side", "100"], "'max_input_side': value 100 is not a multiple of 32 (--max_input_side)"),
])
def test_bad_inference_values_are_one_line_naming_the_flag(official_ckpt, tmp_path, args, fragment):
    proc = run_script("predict.py", "--ckpt_path", official_ckpt, "--image", ROOT / "assets" / "astronaut.png",
                      "--output_path", tmp_path / "out", *args, cwd=tmp_path)
    one_error_line(proc, EXIT_USAGE, fragment)
    assert "device: CPU" not in proc.stderr  # refused before MindSpore started
    assert not (tmp_path / "rank_0").exists() and not (tmp_path / "out").exists()


def test_negative_lr_is_one_line_before_mindspore(tmp_path):
    proc = run_script("train.py", "--train_json", tmp_path / "t.json", "--lr", "-1", "--output_path",
                      tmp_path / "out", cwd=tmp_path)
    one_error_line(proc, EXIT_USAGE, "--lr")
    assert not (tmp_path / "rank_0").exists() and not (tmp_path / "out").exists()


# ---------------------------------------------------------------- damaged ground truth (item 8)

@pytest.mark.parametrize("damage", ["truncated", "random", "missing_variable"])
def test_damaged_wider_ground_truth_is_one_line_naming_it_in_test_and_eval(official_ckpt, val_set, wider_results,
                                                                           tmp_path, damage):
    import scipy.io

    gt = tmp_path / "gt"
    shutil.copytree(wider_results[0], gt)
    mat = gt / "wider_face_val.mat"
    if damage == "truncated":
        mat.write_bytes(mat.read_bytes()[:150])
    elif damage == "random":
        mat.write_bytes(np.random.default_rng(1).integers(0, 256, 3000).astype(np.uint8).tobytes())
    else:
        values = scipy.io.loadmat(str(mat))
        scipy.io.savemat(str(mat), {"event_list": values["event_list"], "file_list": values["file_list"]})
    tested = run_script("test.py", "--ckpt_path", official_ckpt, "--data_dir", val_set[0], "--ground_truth_path",
                        gt, "--output_path", tmp_path / "test")
    evaluated = run_script("eval.py", "--pred_dir", wider_results[1], "--ground_truth_path", gt)
    for proc in (tested, evaluated):
        line = one_error_line(proc, EXIT_USAGE, f"{mat}: ")
        assert ("missing variable(s) face_bbx_list" if damage == "missing_variable"
                else "cannot be read as a MATLAB .mat file") in line


# ---------------------------------------------------------------- result folders (items 4, 10)

def test_eval_of_a_folder_without_results_is_an_error_and_missing_files_are_counted(wider_results, tmp_path):
    gt, preds = wider_results
    wrong = run_script("eval.py", "--pred_dir", preds.parent, "--ground_truth_path", gt)  # the parent folder
    one_error_line(wrong, EXIT_USAGE, "none of the 2 prediction files")
    partial = tmp_path / "pred"
    shutil.copytree(preds, partial)
    (partial / "0--A" / "a_2.txt").unlink()
    proc = run_script("eval.py", "--pred_dir", partial, "--ground_truth_path", gt)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING: 1 of 2 images have no prediction file" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_retest_into_its_folder_describes_the_new_run_only(official_ckpt, val_set, tmp_path):
    images = tmp_path / "images"
    shutil.copytree(val_set[0], images)
    out = tmp_path / "test"
    first = run_script("test.py", "--ckpt_path", official_ckpt, "--data_dir", images, "--ground_truth_path",
                       val_set[1], "--output_path", out, "--input_size", "192,192")
    assert first.returncode == 0, first.stderr[-3000:]
    results = sorted((out / official_ckpt.stem).rglob("*.txt"))
    assert len(results) == 3
    gone = images / results[0].parent.name / f"{results[0].stem}.jpg"
    gone.write_bytes(b"")  # now unreadable
    second = run_script("test.py", "--ckpt_path", official_ckpt, "--data_dir", images, "--ground_truth_path",
                        val_set[1], "--output_path", out, "--input_size", "192,192")
    assert second.returncode == 1, second.stderr[-3000:]
    assert not results[0].exists() and sorted((out / official_ckpt.stem).rglob("*.txt")) == results[1:]


# ---------------------------------------------------------------- operating-system faults (item 5)

def test_predict_os_faults_are_one_line_naming_the_path_exit_3(official_ckpt, read_only, tmp_path):
    photo = ROOT / "assets" / "astronaut.png"
    (tmp_path / "a_file").write_text("x")
    common = ("--ckpt_path", official_ckpt, "--image", photo)
    one_error_line(run_script("predict.py", *common, "--output_path", tmp_path / "a_file" / "out"), EXIT_OS,
                   tmp_path / "a_file")
    one_error_line(run_script("predict.py", *common, "--output_path", tmp_path / "a_file"), EXIT_OS,
                   f"{tmp_path / 'a_file'}: is a file; expected a folder")
    full = run_script("predict.py", *common, "--output_path", tmp_path / "full", file_size_limit=20000)
    one_error_line(full, EXIT_OS, f"{tmp_path / 'full' / 'astronaut.jpg'}: File too large")
    folder, preexec = read_only
    one_error_line(run_script("predict.py", *common, "--output_path", folder / "out", preexec=preexec), EXIT_OS,
                   f"{folder / 'out'}: Permission denied")
    assert os.listdir(folder) == []


def test_test_py_os_faults_are_one_line_exit_3(official_ckpt, val_set, read_only, tmp_path):
    common = ("--ckpt_path", official_ckpt, "--data_dir", val_set[0], "--ground_truth_path", val_set[1],
              "--input_size", "192,192")
    full = run_script("test.py", *common, "--output_path", tmp_path / "full", file_size_limit=300)
    line = one_error_line(full, EXIT_OS, tmp_path / "full", "File too large")
    assert re.search(r"error: \S+: File too large$", line)
    folder, preexec = read_only
    one_error_line(run_script("test.py", *common, "--output_path", folder / "t", preexec=preexec), EXIT_OS,
                   f"{folder / 't'}: Permission denied")


def test_eval_os_faults_are_one_line_exit_3(wider_results, read_only, tmp_path):
    gt, preds = wider_results
    (tmp_path / "a_file").write_text("x")
    common = ("--pred_dir", preds, "--ground_truth_path", gt)
    one_error_line(run_script("eval.py", *common, "--eval_plot", tmp_path / "a_file" / "pr.png"), EXIT_OS,
                   f"{tmp_path / 'a_file'}: is a file; expected a folder")
    folder, preexec = read_only
    one_error_line(run_script("eval.py", *common, "--eval_json", folder / "aps.json", preexec=preexec), EXIT_OS,
                   f"{folder / 'aps.json'}: Permission denied")
    one_error_line(run_script("eval.py", *common, "--eval_json", tmp_path / "aps.json", "--eval_plot",
                              tmp_path / "pr.png", file_size_limit=1000), EXIT_OS, "File too large")


@pytest.mark.slow
@pytest.mark.parametrize("file_format", ["MINDIR", "ONNX"])
def test_export_os_faults_are_one_line_exit_3(official_ckpt, read_only, tmp_path, file_format):
    suffix = {"MINDIR": ".mindir", "ONNX": ".onnx"}[file_format]
    common = ("--ckpt_file", official_ckpt, "--file_format", file_format, "--input_size", "64,64")
    folder, preexec = read_only
    one_error_line(run_script("export.py", *common, "--file_name", folder / "m", preexec=preexec), EXIT_OS,
                   f"{folder / 'm'}{suffix}: Permission denied")
    full = run_script("export.py", *common, "--file_name", tmp_path / "m", file_size_limit=100000)
    # ONNX goes through MindSpore's writer in the temporary folder first: the error names that folder
    one_error_line(full, EXIT_OS, f"{tmp_path / 'm'}{suffix}: File too large" if file_format == "MINDIR"
                   else "mindspore.onnx.export could not write")
    assert sorted(os.listdir(tmp_path)) == []  # no partial model, no temporary


# ---------------------------------------------------------------- memory bound (item 13)

@pytest.mark.slow
def test_a_large_photo_is_tested_within_max_input_side_and_mapped_back(official_ckpt, tmp_path):
    import cv2

    photo = cv2.imread(str(ROOT / "assets" / "astronaut.png"))
    large = tmp_path / "large" / "astronaut_x4.png"
    large.parent.mkdir()
    cv2.imwrite(str(large), cv2.resize(photo, (2048, 2048), interpolation=cv2.INTER_CUBIC))
    small = run_script("predict.py", "--ckpt_path", official_ckpt, "--image", ROOT / "assets" / "astronaut.png",
                       "--output_path", tmp_path / "small")
    bounded = run_script("predict.py", "--ckpt_path", official_ckpt, "--image", large, "--output_path",
                         tmp_path / "bounded", "--max_input_side", 512)
    for proc in (small, bounded):
        assert proc.returncode == 0, proc.stderr[-3000:]
    notes = [line for line in bounded.stderr.splitlines() if "max_input_side" in line]
    assert len(notes) == 1 and "a 2048x2048 image" in notes[0] and "scale 0.25" in notes[0], bounded.stderr
    assert "max_input_side" not in small.stderr
    face = json.loads((tmp_path / "small" / "astronaut.json").read_text())["detections"][0]
    big_face = json.loads((tmp_path / "bounded" / "astronaut_x4.json").read_text())["detections"][0]
    # The network saw the 2048 px photo at 512 px (~ the original): the same face, at 4x the coordinates
    # (within 4x a couple of pixels: the down- and up-scaled image is not bit-identical to the original).
    np.testing.assert_allclose(np.array(big_face["bbox"]) / 4, face["bbox"], atol=2.0)
    np.testing.assert_allclose(np.array(big_face["landmarks"]) / 4, face["landmarks"], atol=2.0)


# ---------------------------------------------------------------- Ctrl-C in the middle of predict.py

@pytest.mark.slow
def test_ctrl_c_in_the_middle_of_predict_is_exit_130_and_leaves_a_reusable_folder(official_ckpt, tmp_path):
    """SIGINT once the network is loaded (MindSpore then owns SIGINT and answers it with SIGTERM): exit 130 with the
    interrupted line, only whole files in the output folder (no temporaries), and the folder is predict.py's run,
    which the next run into it replaces."""
    import cv2

    images = tmp_path / "images"
    images.mkdir()
    photo = cv2.imread(str(ROOT / "assets" / "astronaut.png"))
    for i in range(6):
        cv2.imwrite(str(images / f"p{i}.jpg"), cv2.resize(photo, (640 + 32 * i, 640)))
    out = tmp_path / "out"
    args = [sys.executable, str(ROOT / "predict.py"), "--ckpt_path", str(official_ckpt), "--image", str(images),
            "--output_path", str(out)]
    proc = subprocess.Popen(args, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if "compiled CPU kernels" in line:  # the network is loaded; the first image's graph compiles next
                break
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_INTERRUPTED, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == "error: interrupted"
    names = sorted(p.name for p in out.rglob("*"))
    assert ".run.json" in names and "config.yaml" in names
    assert not [n for n in names if n.startswith(".") and n != ".run.json"]  # no temporary of a cut write
    for result in out.glob("[!.]*.json"):
        json.loads(result.read_text())  # whole
    again = run_script("predict.py", "--ckpt_path", official_ckpt, "--image", images, "--output_path", out)
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted(p.name for p in out.glob("[!.]*.json")) == [f"p{i}.json" for i in range(6)]


# ---------------------------------------------------------------- train.py (items 3, 5, 12, 14, Ctrl-C)

TRAIN_ARGS = ["--batch_size", "4", "--train_size", "64,64", "--log_interval", "1", "--num_workers", "1",
              "--keep_checkpoint_max", "0", "--seed", "3"]


@pytest.fixture(scope="module")
def tiny_train(tmp_path_factory):
    from src.data.synthetic import generate

    paths = generate(str(tmp_path_factory.mktemp("tiny")), 4, 0, seed=11, image_size=160, min_face=12,
                     max_face=120, progress=False)
    return ["--train_json", paths["train_json"], "--train_image_dir", paths["train_images"]]


def test_a_fresh_run_into_a_folder_with_checkpoints_is_refused_and_writes_nothing(tiny_train, tmp_path):
    out = tmp_path / "run"
    (out / "ckpt").mkdir(parents=True)
    (out / "ckpt" / "0-3_2.ckpt").write_bytes(b"another run's checkpoint")
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    start = time.perf_counter()
    proc = run_script("train.py", *tiny_train, *TRAIN_ARGS, "--epochs", "1", "--output_path", out)
    one_error_line(proc, EXIT_USAGE, f"--output_path {out} holds 1 checkpoint(s) of an earlier run",
                   "0-3_2.ckpt", "--resume True", "another --output_path")
    assert "device: CPU" not in proc.stderr and time.perf_counter() - start < 60
    assert snapshot(out) == before


def test_train_os_faults_before_the_first_checkpoint(tiny_train, read_only, tmp_path):
    (tmp_path / "a_file").write_text("x")
    one_error_line(run_script("train.py", *tiny_train, *TRAIN_ARGS, "--epochs", "1", "--output_path",
                              tmp_path / "a_file" / "run"), EXIT_OS, tmp_path / "a_file")
    folder, preexec = read_only
    one_error_line(run_script("train.py", *tiny_train, *TRAIN_ARGS, "--epochs", "1", "--output_path", folder,
                              preexec=preexec), EXIT_OS, f"{folder / '.run.json'}: Permission denied")
    full_log = tmp_path / "log_full"
    full_log.mkdir()
    (full_log / "log_rank0.txt").symlink_to("/dev/full")
    one_error_line(run_script("train.py", *tiny_train, *TRAIN_ARGS, "--epochs", "1", "--output_path", full_log),
                   EXIT_OS, f"{full_log / 'log_rank0.txt'}: No space left on device")


@pytest.mark.slow
def test_disk_full_at_the_checkpoint_write_is_one_line_and_leaves_no_temporary(tiny_train, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    # What an earlier run that never reached a checkpoint left: a fresh run starts its own log and history
    (out / "log_rank0.txt").write_text("a line of an earlier run\n")
    (out / "loss_history.json").write_text('{"stale": true}')
    (out / "notes.txt").write_text("the user's")
    proc = run_script("train.py", *tiny_train, *TRAIN_ARGS, "--epochs", "1", "--output_path", out,
                      file_size_limit=2_000_000)  # logs and history fit; the ~22 MB checkpoint does not
    one_error_line(proc, EXIT_OS, f"{out / 'ckpt' / '0-1_1.ckpt'}: File too large")
    assert os.listdir(out / "ckpt") == []
    log = (out / "log_rank0.txt").read_text()
    assert "an earlier run" not in log and "first train step" in log
    assert not (out / "loss_history.json").exists()  # the failed epoch wrote none; the stale one is gone
    assert (out / "notes.txt").read_text() == "the user's"


def _train_until_interrupted(args, checkpoint_name):
    """train.py with `args`, sent SIGINT (Ctrl-C) once `checkpoint_name` is saved; (return code, stderr)."""
    return interrupt_at([sys.executable, str(ROOT / "train.py"), *map(str, args)],
                        lambda line: "saved checkpoint" in line and line.rstrip().endswith(checkpoint_name),
                        signal.SIGINT, cwd=ROOT, env=ENV)


@pytest.mark.slow
def test_ctrl_c_then_resume_past_a_truncated_checkpoint_and_stale_temporaries(tiny_train, tmp_path):
    out = tmp_path / "run"
    code, stderr = _train_until_interrupted([*tiny_train, *TRAIN_ARGS, "--epochs", "50", "--output_path", out],
                                            "0-2_1.ckpt")
    assert code == EXIT_INTERRUPTED, stderr[-3000:]
    saved = sorted((out / "ckpt").glob("0-*.ckpt"), key=lambda p: int(p.name[2:].split("_")[0]))
    assert len(saved) >= 2 and stderr.strip().splitlines()[-1] == (
        f"error: interrupted; last checkpoint {saved[-1]}; continue with --resume True --output_path {out}")
    newest = int(saved[-1].name[2:].split("_")[0])

    # The newest checkpoint cut short; temporaries of writes killed midway, under this and earlier versions' names
    data = saved[-1].read_bytes()
    saved[-1].chmod(0o600)
    saved[-1].write_bytes(data[:len(data) // 3])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = [f".0-{newest + 1}_1.ckpt.{dead}.part.tmp", f".tmp-{dead}-0-{newest + 1}_1.tmp"]
    for name in stale:
        (out / "ckpt" / name).write_bytes(data[:1000])

    proc = run_script("train.py", *tiny_train, *TRAIN_ARGS, "--epochs", newest + 1, "--output_path", out,
                      "--resume", "True")
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (out / "log_rank0.txt").read_text()
    assert f"resume: skipping {saved[-1]}, it cannot be used" in log
    assert f"resume: fell back to {saved[-2]}" in log
    assert f"resume: {saved[-2]} -> epoch {newest - 1} done" in log
    names = sorted(os.listdir(out / "ckpt"))
    assert not any(name in names for name in stale)  # cleaned up by the first save
    assert f"0-{newest}_1.ckpt" in names and f"0-{newest + 1}_1.ckpt" in names
    import mindspore as ms

    assert int(ms.load_checkpoint(str(saved[-1]))["train_epoch"].asnumpy()) == newest  # rewritten whole
    history = json.loads((out / "loss_history.json").read_text())
    assert history["global_step"] == list(range(1, newest + 2))  # one step per epoch, none twice
