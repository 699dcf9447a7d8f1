"""test.py with the official weights: the multi-scale + flip + Soft-NMS path at original image sizes (dynamic
input shapes), flip consistency of the real network, and one-line errors for bad options. The single-scale
path and epoch sweeps are covered end to end in tests/test_infer_310_chain.py."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_test_py(*args, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "test.py"), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, env={**os.environ}, timeout=600)


@pytest.fixture(scope="module")
def val_set(tmp_path_factory):
    from src.data.synthetic import generate

    paths = generate(str(tmp_path_factory.mktemp("synthetic")), num_train=0, num_val=3, seed=7, image_size=192,
                     progress=False)
    return Path(paths["val_images"]), Path(paths["val_gt_dir"])


def test_multi_scale_flip_soft_nms_at_original_size(official_ckpt, val_set, tmp_path):
    images, gt_dir = val_set
    result = run_test_py("--ckpt_path", official_ckpt, "--data_dir", images, "--ground_truth_path", gt_dir,
                         "--save_dir", tmp_path, "--input_size", "", "--multi_scale", "True",
                         "--test_scales", "0.75,1.25", "--flip_test", "True", "--nms", "soft_gaussian")
    assert result.returncode == 0, result.stderr
    assert "4 pass(es) per image" in result.stdout
    out = tmp_path / Path(official_ckpt).stem
    info = json.loads((out / "test_info.json").read_text())
    assert info["options"]["scales"] == [0.75, 1.25] and info["options"]["flip"]
    assert info["options"]["nms"] == "soft_gaussian"
    files = sorted(out.glob("*/*.txt"))
    assert len(files) == 3
    faces = 0
    for txt in files:
        lines = txt.read_text().splitlines()
        rows = np.array([[float(v) for v in line.split()] for line in lines[2:]]).reshape(-1, 5)
        assert lines[0] == txt.stem and int(lines[1]) == len(rows)
        assert np.all(np.diff(rows[:, 4]) <= 0)
        record = json.loads(txt.with_suffix(".json").read_text())
        assert [len(d["landmarks"]) for d in record["detections"]] == [5] * len(rows)
        faces += len(rows)
    assert faces > 0

    from dependency.evaluate.eval import evaluate

    assert evaluate(out, gt_dir)["easy"] > 0.5  # the merged passes still find the synthetic faces


def test_flipped_pass_agrees_with_unflipped_on_a_real_face(official_ckpt, astronaut_rgb):
    """The official network on the astronaut photo: the flipped pass mapped back must land on the same face,
    with the left eye still the left (smaller x) one."""
    from src.inference.model import InferenceModel
    from src.inference.passes import InferenceOptions, InferencePass
    from src.tasks import get_task

    task = get_task("centerface")
    model = InferenceModel(task)  # in the process's current mode: the context is left alone
    model.load(official_ckpt)
    options = InferenceOptions(input_size=(256, 256), score_thresh=0.3)
    found = [task.run_pass(model, astronaut_rgb, InferencePass((256, 256), 0.999, flip), options)
             for flip in (False, True)]
    plain, flipped = (d.select(np.argsort(-d.scores)[:1]) for d in found)
    assert len(plain) == 1 and len(flipped) == 1
    # The network is not exactly mirror-symmetric: the face box of a 512 px photo agrees to a few pixels.
    np.testing.assert_allclose(flipped.boxes, plain.boxes, atol=6)
    np.testing.assert_allclose(flipped.keypoints, plain.keypoints, atol=6)
    assert flipped.keypoints[0, 0, 0] < flipped.keypoints[0, 1, 0]


@pytest.mark.parametrize("args, message", [
    (["--data_dir", "d", "--ground_truth_path", "g"], "--ckpt_path is required"),
    (["--ckpt_path", "{tmp}/none.ckpt", "--data_dir", "{tmp}", "--ground_truth_path", "{tmp}"],
     "ckpt_path {tmp}/none.ckpt: no such checkpoint file or folder"),
    (["--ckpt_path", "{tmp}", "--data_dir", "{tmp}", "--ground_truth_path", "{tmp}", "--input_size", "250,256"],
     "'input_size': value 250 is not a multiple of 32 (--input_size)"),
    (["--ckpt_path", "{tmp}", "--data_dir", "{tmp}", "--ground_truth_path", "{tmp}", "--start", "2", "--end", "1"],
     "start=2 > end=1"),
    (["--ckpt_path", "{tmp}/x.ckpt", "--data_dir", "{tmp}", "--ground_truth_path", "{tmp}"],
     "wider_face_val.mat: no such file"),
])
def test_bad_options_are_one_line_errors(tmp_path, args, message):
    (tmp_path / "x.ckpt").write_bytes(b"x")
    result = run_test_py(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert message.replace("{tmp}", str(tmp_path)) in result.stderr
