"""End to end on CPU with the official weights and synthetic WIDER-layout images (one of them corrupt):
scripts/test_and_eval.sh over an epoch range of checkpoints, and the offline chain scripts/run_infer_310.sh
(export MindIR -> preprocess.py -> CPU MindIR runner -> postprocess.py -> AP), which must give the same
detections and the same AP as test.py on the same checkpoint and images.

test.py runs the compiled CPU kernels by default, the exported MindIR MindSpore's own ops (export.py never uses
the kernels): the network outputs then differ in the last float bits (<= 1e-5 of each head's range). Result
files are compared byte for byte when test.py ran without the kernels (no compiler), else to TOLERANCE: boxes and
landmarks 0.01 px, scores 1e-5 (measured <= 1e-3 px and 1e-6; the files print 1e-3 px and 1e-6), AP 1e-3
(measured 0). A wrong input, weight or decode changes them by whole pixels and percents.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dependency.evaluate.eval import evaluate

ROOT = Path(__file__).resolve().parents[1]
INPUT_SIZE = "256,256"  # small canvas: one quick compilation, same code path as the zoo's 832
BOX_TOL, SCORE_TOL, AP_TOL = 0.01, 1e-5, 1e-3
KERNELS_LINE = "compiled CPU kernels: 17 depthwise"  # test.py's log when the kernels run


def run_script(name, *args, env=None):
    full_env = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    return subprocess.run(["bash", str(ROOT / "scripts" / name), *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=ROOT, timeout=600)


@pytest.fixture(scope="module")
def val_set(tmp_path_factory):
    """5 synthetic val images + WIDER .mat ground truth; the last image is made unreadable."""
    from dependency.evaluate.ground_truth import load_ground_truth
    from src.data.synthetic import generate

    root = tmp_path_factory.mktemp("synthetic")
    paths = generate(str(root), num_train=0, num_val=5, seed=3, image_size=256, progress=False)
    gt = load_ground_truth(paths["val_gt_dir"], settings=())
    broken = Path(paths["val_images"]) / gt.events[-1] / f"{gt.stems[-1]}.jpg"
    broken.write_bytes(b"\xff\xd8 truncated")
    return Path(paths["val_images"]), Path(paths["val_gt_dir"]), broken


@pytest.fixture(scope="module")
def checkpoints(official_ckpt, tmp_path_factory):
    """Epochs 1..3: 1 and 2 are the official weights, 3 has its heatmap bias lowered by 1 (other results)."""
    import mindspore as ms

    folder = tmp_path_factory.mktemp("ckpt")
    for epoch in (1, 2):
        shutil.copy(official_ckpt, folder / f"0-{epoch}_10.ckpt")
    params = ms.load_checkpoint(str(official_ckpt))
    bias = params["head_heatmap.bias"]
    bias.set_data(ms.Tensor(bias.asnumpy() - 1.0))
    tensors = [{"name": k, "data": v} for k, v in params.items() if isinstance(v, ms.Tensor)]
    ms.save_checkpoint(tensors, str(folder / "0-3_10.ckpt"))
    return folder


@pytest.fixture(scope="module")
def sweep(val_set, checkpoints, tmp_path_factory):
    images, gt_dir, _ = val_set
    save = tmp_path_factory.mktemp("sweep")
    result = run_script("test_and_eval.sh", checkpoints, images, gt_dir, save, "CPU", "0", "--start", "2",
                        "--end", "3", "--input_size", INPUT_SIZE)
    return save, result


@pytest.fixture(scope="module")
def chain(val_set, checkpoints, tmp_path_factory):
    images, gt_dir, _ = val_set
    work = tmp_path_factory.mktemp("infer_310")
    result = run_script("run_infer_310.sh", checkpoints / "0-3_10.ckpt", images, gt_dir, work, "0", "cpu", INPUT_SIZE)
    return work, result


def read_wider(path):
    lines = path.read_text().splitlines()
    return lines[0], int(lines[1]), np.array([[float(v) for v in line.split()] for line in lines[2:]]).reshape(-1, 5)


def kernels_ran(result):
    """Did this test.py run use the compiled kernels? (Not when the library cannot be built here.)"""
    return KERNELS_LINE in result.stderr


def _rows_match(a, b, tolerances):
    """Every row of a has a row of b within `tolerances` (per column) and the other way round; equal counts.
    Matching instead of comparing in order: two scores closer than the tolerance may swap places."""
    if a.shape != b.shape:
        return False
    if len(a) == 0:
        return True
    gap = (np.abs(a[:, None, :] - b[None, :, :]) / tolerances).max(axis=-1)
    return bool((gap.min(axis=1) <= 1).all() and (gap.min(axis=0) <= 1).all())


def same_detections(txt, twin, exact):
    """The WIDER result file `txt` and its landmark json against `twin`'s: byte for byte, or within tolerance."""
    if exact:
        return (twin.read_text() == txt.read_text()
                and twin.with_suffix(".json").read_text() == txt.with_suffix(".json").read_text())
    (name, count, rows), (twin_name, twin_count, twin_rows) = read_wider(txt), read_wider(twin)
    if (name, count) != (twin_name, twin_count):
        return False
    marks, twin_marks = ([[*np.ravel(d["landmarks"]), *d["bbox"], d["score"]]
                          for d in json.loads(p.with_suffix(".json").read_text())["detections"]] for p in (txt, twin))
    box_tol = np.array([BOX_TOL] * 4 + [SCORE_TOL])
    mark_tol = np.array([BOX_TOL] * 14 + [SCORE_TOL])
    return (_rows_match(rows, twin_rows, box_tol)
            and _rows_match(np.array(marks).reshape(-1, 15), np.array(twin_marks).reshape(-1, 15), mark_tol))


def test_sweep_tests_the_epoch_range_and_reports_the_best(sweep, val_set):
    save, result = sweep
    _, _, broken = val_set
    assert result.returncode == 1, result.stderr  # one unreadable image: the rest is tested and evaluated
    assert str(broken) in result.stderr and "AP counts them as missed" in result.stderr
    assert sorted(p.name for p in save.iterdir() if p.is_dir()) == ["0-2_10", "0-3_10"]
    summary = (save / "eval_all.txt").read_text()
    assert "best Easy:" in summary and "best Sum:" in summary
    assert (save / "0-2_10" / "config.yaml").exists() and (save / "0-2_10" / "eval.json").exists()
    info = json.loads((save / "0-2_10" / "test_info.json").read_text())
    assert info["summary"]["images"] == 5 and info["summary"]["failed"] == [str(broken)]


def test_result_files_are_wider_format_with_landmark_json(sweep):
    save, _ = sweep
    files = sorted((save / "0-2_10").glob("*/*.txt"))
    assert len(files) == 4  # 5 images, one unreadable
    total = 0
    for txt in files:
        stem, count, rows = read_wider(txt)
        assert stem == txt.stem and count == len(rows)  # the true count, not the zoo's constant 1
        assert np.all(np.diff(rows[:, 4]) <= 0) and np.all(rows[:, 2:4] > 0)
        record = json.loads(txt.with_suffix(".json").read_text())
        assert len(record["detections"]) == count
        for det, row in zip(record["detections"], rows):
            assert np.array(det["landmarks"]).shape == (5, 2)
            np.testing.assert_allclose([det["bbox"][0], det["bbox"][1]], row[:2], atol=1e-3)
        total += count
    assert total > 0


def test_second_checkpoint_of_a_sweep_gets_its_own_weights(sweep, chain):
    """0-3_10 was tested after 0-2_10 in one process (weights swapped into the compiled network); its files
    differ from 0-2_10's and equal those of a fresh process exporting 0-3_10 alone (the chain)."""
    save, result = sweep
    work, _ = chain
    first = sorted(p.relative_to(save / "0-2_10") for p in (save / "0-2_10").glob("*/*.txt"))
    second = sorted(p.relative_to(save / "0-3_10") for p in (save / "0-3_10").glob("*/*.txt"))
    alone = sorted(p.relative_to(work / "pred") for p in (work / "pred").glob("*/*.txt"))
    assert first == second == alone and len(first) == 4
    exact = not kernels_ran(result)
    assert not all(same_detections(save / "0-2_10" / f, save / "0-3_10" / f, exact=False) for f in first)
    assert all(same_detections(save / "0-3_10" / f, work / "pred" / f, exact) for f in second)


def test_offline_chain_on_cpu_matches_test_py(sweep, chain, val_set):
    save, sweep_result = sweep
    work, result = chain
    _, gt_dir, broken = val_set
    assert result.returncode == 1, result.stderr  # preprocess skipped the unreadable image, the rest went on
    assert str(broken) in result.stderr
    for sub in ("preprocess/input", "preprocess/meta"):
        assert len(list((work / sub).iterdir())) == 4
    assert len(list((work / "result").glob("*.bin"))) == 4 * 4
    exact = not kernels_ran(sweep_result)
    for txt in (save / "0-3_10").glob("*/*.txt"):  # same detections, landmarks included
        assert same_detections(txt, work / "pred" / txt.parent.name / txt.name, exact), txt
    with pytest.warns(UserWarning, match="1 of 5 prediction files missing"):  # the unreadable image
        chain_ap = evaluate(work / "pred", gt_dir)
    with pytest.warns(UserWarning, match="1 of 5 prediction files missing"):
        test_ap = evaluate(save / "0-3_10", gt_dir)
    printed = dict(line.split(" Val AP: ") for line in (work / "acc.log").read_text().splitlines() if "Val AP" in line)
    tolerance = 1e-6 if exact else AP_TOL
    for setting, label in (("easy", "Easy  "), ("medium", "Medium"), ("hard", "Hard  ")):
        assert abs(chain_ap[setting] - test_ap[setting]) <= tolerance
        assert abs(float(printed[label]) - chain_ap[setting]) <= 1e-6  # acc.log prints the chain's own AP
    assert test_ap["hard"] > 0.1  # the official weights find synthetic faces: the comparison is not of zeros


def test_cpu_runner_skips_wrong_size_inputs(chain, tmp_path):
    work, _ = chain
    inputs = tmp_path / "input"
    inputs.mkdir()
    good = sorted((work / "preprocess" / "input").glob("*.bin"))[0]
    shutil.copy(good, inputs / good.name)
    np.zeros(10, "<f4").tofile(inputs / "wrong.bin")
    result = subprocess.run([sys.executable, str(ROOT / "src" / "infer_mindir_cpu.py"), "--mindir_path",
                             str(work / "centerface.mindir"), "--input_path", str(inputs), "--output_path",
                             str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 1
    assert "wrong.bin: 10 float32 values; expected 196608" in result.stderr
    assert "1/2 inputs" in result.stdout and "[1, 3, 256, 256]" in result.stdout
    for k in range(4):
        name = f"{good.stem}_{k}.bin"
        assert (tmp_path / "out" / name).read_bytes() == (work / "result" / name).read_bytes()
