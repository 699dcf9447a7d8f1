"""The pose model through the root scripts, on the 4 real COCO val images of tests/data (random-weight
checkpoints: the contracts, not the accuracy, are under test here): predict.py's JSON and drawing, eval.py's COCO
results and tables, export.py (MINDIR round trips, ONNX at other sizes), the offline chain giving eval.py's
results, and one-line errors for bad input."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.root_scripts import error_line, run_mindir_runner, run_root_script

ROOT = Path(__file__).resolve().parents[2]
POSE = ["--config_path", str(ROOT / "configs" / "centernet_pose.yaml")]


def run_script(script, *args, timeout=900):
    return run_root_script("centernet_pose.yaml", script, *args, timeout=timeout)


@pytest.fixture(scope="module")
def coco_dir(coco_mini_dir, tmp_path_factory):
    """The mini set in the COCO layout eval.py reads: annotations/person_keypoints_val2017.json + val2017/."""
    root = tmp_path_factory.mktemp("coco")
    (root / "annotations").mkdir()
    (root / "val2017").mkdir()
    shutil.copy(coco_mini_dir / "test_coco.json", root / "annotations" / "person_keypoints_val2017.json")
    for image in coco_mini_dir.glob("*.jpg"):
        shutil.copy(image, root / "val2017" / image.name)
    return root


def _checkpoint(path, enable_dcn, seed=3):
    import mindspore as ms

    from src.model_utils.config import parse_config
    from src.tasks import get_task

    ms.set_seed(seed)
    cfg = parse_config([*POSE, "--enable_dcn", str(enable_dcn)])
    network = get_task(cfg).build_network()
    ms.save_checkpoint(network, str(path), append_dict={"model": "centernet_pose"})
    return path


@pytest.fixture(scope="module")
def plain_ckpt(tmp_path_factory):
    return _checkpoint(tmp_path_factory.mktemp("ckpt") / "pose_plain.ckpt", False)


@pytest.fixture(scope="module")
def dcn_ckpt(tmp_path_factory):
    return _checkpoint(tmp_path_factory.mktemp("ckpt") / "pose_dcn.ckpt", True)


def check_record(record, width, height, count):
    """predict.py's record of a (width x height) image: `count` persons, best first, in original-image pixels: every
    box centre inside the part of the image plane the network saw (CenterNet's input is a square of the image's
    longer side, or with keep_res the image padded to multiples of 32, both centred on the image), allowing one
    4-px output cell of offset."""
    assert len(record["detections"]) == count
    scores = [d["score"] for d in record["detections"]]
    assert scores == sorted(scores, reverse=True)
    reach = (max(width, height) + 32) / 2 + 4 * max(width, height) / 128
    for det in record["detections"]:
        assert set(det) == {"bbox", "score", "keypoints"}
        x1, y1, x2, y2 = det["bbox"]
        assert x1 <= x2 and y1 <= y2
        centre = np.array([(x1 + x2) / 2 - width / 2, (y1 + y2) / 2 - height / 2])
        assert np.all(np.abs(centre) <= reach), (det, width, height)
        points = np.array(det["keypoints"])
        assert points.shape == (17, 3) and np.all((points[:, 2] >= 0) & (points[:, 2] <= 1))


def in_process_record(ckpt, image, *args):
    """predict.py's record of `image` computed here through the task's API (InferenceModel, detect, to_json) with
    predict.py's config and `args`: what the script must have written."""
    from src.data.image_io import read_image
    from src.inference.model import InferenceModel
    from src.model_utils.config import parse_config
    from src.tasks import get_task

    task = get_task(parse_config([*POSE, *map(str, args)], script="predict"))
    options = task.inference_options("predict")
    model = InferenceModel(task, dynamic_shape=options.shapes_vary)
    model.load(str(ckpt))
    return task.to_json(task.detect(model, read_image(image), options), Path(image).name)


def assert_same_record(got, want):
    """Two runs of the same network on the same image in two processes: the same operators and thread count, so
    the same numbers up to the order oneDNN sums in (measured: identical); 1e-4 relative is far below what a
    different input size, flip or weight gives."""
    assert got["image"] == want["image"] and len(got["detections"]) == len(want["detections"])
    for key in ("score", "bbox", "keypoints"):
        np.testing.assert_allclose([d[key] for d in got["detections"]], [d[key] for d in want["detections"]],
                                   rtol=1e-4, atol=1e-3, err_msg=key)


@pytest.mark.slow
def test_predict_json_and_drawing_default_and_keep_res_flip(plain_ckpt, coco_dir, tmp_path):
    import cv2

    images = coco_dir / "val2017"
    out = tmp_path / "default"
    result = run_script("predict.py", "--ckpt_path", plain_ckpt, "--enable_dcn", "False", "--image", images,
                        "--output_path", out, "--score_thresh", "0", "--top_k", "20")
    assert result.returncode == 0, result.stderr
    for image in sorted(images.glob("*.jpg")):
        height, width = cv2.imread(str(image)).shape[:2]
        record = json.loads((out / f"{image.stem}.json").read_text())
        assert record["image"] == image.name
        check_record(record, width, height, 20)  # --score_thresh 0: all K persons
        assert cv2.imread(str(out / f"{image.stem}.jpg")).shape[:2] == (height, width)
    out2 = tmp_path / "keep_res_flip"
    args = ("--enable_dcn", "False", "--keep_res", "True", "--flip_test", "True", "--score_thresh", "0", "--top_k", "5")
    image = images / "000000000785.jpg"
    result = run_script("predict.py", "--ckpt_path", plain_ckpt, "--image", image, "--output_path", out2, *args)
    assert result.returncode == 0, result.stderr
    record = json.loads((out2 / "000000000785.json").read_text())
    check_record(record, 640, 425, 5)
    assert_same_record(record, in_process_record(plain_ckpt, image, *args))


@pytest.mark.slow
def test_predict_with_deformable_convs(dcn_ckpt, coco_dir, tmp_path):
    """predict.py runs the deformable-conv network: its persons are the DCN network's (computed here), not those
    of a network built or loaded otherwise."""
    image = coco_dir / "val2017" / "000000196141.jpg"
    args = ("--score_thresh", "0", "--top_k", "3", "--input_size", "256,256")
    result = run_script("predict.py", "--ckpt_path", dcn_ckpt, "--image", image, "--output_path", tmp_path, *args)
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "000000196141.json").read_text())
    import cv2

    height, width = cv2.imread(str(image)).shape[:2]
    check_record(record, width, height, 3)
    assert_same_record(record, in_process_record(dcn_ckpt, image, *args))


@pytest.mark.slow
def test_eval_and_the_offline_chain_give_the_same_results(plain_ckpt, coco_dir, tmp_path):
    """eval.py (the seed's flags) writes COCO results and prints the keypoint and bbox tables; preprocess.py ->
    the CPU MindIR runner -> postprocess.py on a MindIR of the same checkpoint writes the same results."""
    result = run_script("eval.py", "--data_dir", coco_dir, "--run_mode", "val", "--load_checkpoint_path", plain_ckpt,
                        "--enable_dcn", "False", "--save_result_dir", tmp_path / "eval", "--top_k", "10")
    assert result.returncode == 0, result.stderr
    table = [line for line in result.stdout.splitlines() if line.startswith(" Average")]
    assert len(table) == 22 and "maxDets= 20" in table[0] and "maxDets=100" in table[10]
    folder = tmp_path / "eval" / plain_ckpt.stem
    results = json.loads((folder / "val_pred_eval.json").read_text())
    assert len(results) == 4 * 10 and {r["category_id"] for r in results} == {1}
    assert all(len(r["keypoints"]) == 51 and len(r["bbox"]) == 4 for r in results)

    pre, res, pred = tmp_path / "pre", tmp_path / "result", tmp_path / "pred"
    steps = [("preprocess.py", "--data_dir", coco_dir, "--preprocess_path", pre),
             ("export.py", "--ckpt_file", plain_ckpt, "--enable_dcn", "False", "--file_format", "MINDIR",
              "--file_name", tmp_path / "pose", "--input_size", "512,512")]
    for script, *args in steps:
        step = run_script(script, *args)
        assert step.returncode == 0, step.stderr
    run_mindir_runner(tmp_path / "pose.mindir", pre / "input", res)
    post = run_script("postprocess.py", "--preprocess_path", pre, "--result_path", res, "--output_path", pred,
                      "--data_dir", coco_dir, "--top_k", "10")
    assert post.returncode == 0, post.stderr
    assert json.loads((pred / "val_pred_eval.json").read_text()) == results
    assert [line for line in post.stdout.splitlines() if line.startswith(" Average")] == table


def test_export_round_trips(plain_ckpt, tmp_path):
    """MINDIR reloads bit-exactly at 512x512 and at a keep_res size; the no-DCN ONNX runs at other sizes in
    onnxruntime (tolerance: 1e-4 of each head's range, float32 through ~60 layers in two runtimes)."""
    import mindspore as ms

    from src.inference.model import load_network
    from src.model_utils.config import parse_config
    from src.onnx_utils import ort_session
    from src.tasks import get_task

    cfg = parse_config([*POSE, "--enable_dcn", "False"])
    network = load_network(get_task(cfg), plain_ckpt)
    rng = np.random.default_rng(0)
    for height, width in ((512, 512), (352, 544)):
        result = run_script("export.py", "--ckpt_file", plain_ckpt, "--enable_dcn", "False", "--file_format",
                            "MINDIR", f"--input_size={height},{width}", "--file_name", tmp_path / f"m{height}")
        assert result.returncode == 0, result.stderr
        x = rng.normal(size=(1, 3, height, width)).astype(np.float32)
        graph = ms.nn.GraphCell(ms.load(str(tmp_path / f"m{height}.mindir")))
        for a, b in zip(graph(ms.Tensor(x)), network(ms.Tensor(x))):
            np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    result = run_script("export.py", "--ckpt_file", plain_ckpt, "--enable_dcn", "False", "--file_format", "ONNX",
                        "--file_name", tmp_path / "pose")
    assert result.returncode == 0, result.stderr
    session = ort_session(tmp_path / "pose.onnx")
    for height, width in ((128, 128), (192, 256)):
        x = rng.normal(size=(1, 3, height, width)).astype(np.float32)
        got = session.run(None, {session.get_inputs()[0].name: x})
        for a, b in zip(got, network(ms.Tensor(x))):
            b = b.asnumpy()
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-4 * (np.abs(b).max() + 1e-6))


def test_opencv_dnn_on_the_pose_onnx(plain_ckpt, tmp_path):
    """What OpenCV DNN 4.10 does with the no-DCN pose ONNX (documented in README): the size-independent file
    fails in its shape inference (an IDAUp sum); exported at a fixed size (--onnx_dynamic False) it loads and
    gives onnxruntime's outputs (tolerance as in test_export_round_trips)."""
    import cv2

    from src.onnx_utils import ort_session

    result = run_script("export.py", "--ckpt_file", plain_ckpt, "--enable_dcn", "False", "--file_format", "ONNX",
                        "--file_name", tmp_path / "dynamic")
    assert result.returncode == 0, result.stderr
    with pytest.raises(cv2.error, match="findCommonShape"):
        cv2.dnn.readNetFromONNX(str(tmp_path / "dynamic.onnx"))
    result = run_script("export.py", "--ckpt_file", plain_ckpt, "--enable_dcn", "False", "--file_format", "ONNX",
                        "--input_size", "128,128", "--onnx_dynamic", "False",
                        "--file_name", tmp_path / "fixed")
    assert result.returncode == 0, result.stderr
    net = cv2.dnn.readNetFromONNX(str(tmp_path / "fixed.onnx"))
    x = np.random.default_rng(1).normal(size=(1, 3, 128, 128)).astype(np.float32)
    net.setInput(x)
    names = net.getUnconnectedOutLayersNames()
    got = dict(zip(names, net.forward(names)))
    session = ort_session(tmp_path / "fixed.onnx", dynamic=False)
    expected = session.run(None, {session.get_inputs()[0].name: x})
    for output, want in zip(session.get_outputs(), expected):
        np.testing.assert_allclose(got[output.name], want, rtol=0, atol=1e-4 * (np.abs(want).max() + 1e-6))


@pytest.mark.parametrize("case", ["no_data_dir", "no_annotations", "other_model", "pose_ckpt_face_config",
                                  "size", "onnx_dcn"])
def test_bad_input_is_one_line_and_nothing_written(case, plain_ckpt, coco_dir, official_ckpt, tmp_path):
    out = tmp_path / "out"
    if case == "no_data_dir":
        result = run_script("eval.py", "--data_dir", tmp_path / "none", "--load_checkpoint_path", plain_ckpt,
                            "--save_result_dir", out)
        expected = "person_keypoints_val2017.json"
    elif case == "no_annotations":
        (tmp_path / "coco" / "val2017").mkdir(parents=True)
        result = run_script("eval.py", "--data_dir", tmp_path / "coco", "--load_checkpoint_path", plain_ckpt,
                            "--save_result_dir", out)
        expected = "person_keypoints_val2017.json"
    elif case == "other_model":
        result = run_script("predict.py", "--ckpt_path", official_ckpt, "--image", coco_dir / "val2017",
                            "--output_path", out)
        expected = "holds a 'centerface' model; this run's task is 'centernet_pose'"
    elif case == "pose_ckpt_face_config":
        result = subprocess.run([sys.executable, str(ROOT / "predict.py"), "--ckpt_path", str(plain_ckpt), "--image",
                                 str(coco_dir / "val2017"), "--output_path", str(out)], capture_output=True, text=True,
                                cwd=ROOT, timeout=300)
        expected = "holds a 'centernet_pose' model; this run's task is 'centerface'"
    elif case == "size":
        result = run_script("predict.py", "--ckpt_path", plain_ckpt, "--image", coco_dir / "val2017", "--output_path", out,
                            "--input_size", "500,500")
        expected = "'input_size': value 500 is not a multiple of 32"
    else:
        result = run_script("export.py", "--ckpt_file", plain_ckpt, "--file_format", "ONNX",
                            "--file_name", tmp_path / "pose")
        expected = "cannot be written to ONNX"
    assert result.returncode == 2, result.stderr
    assert expected in error_line(result) and error_line(result).startswith("error: ")
    assert not (tmp_path / "pose.onnx").exists()
    if out.exists():  # a folder may have been claimed, but no result of a failed run is in it
        assert not [p for p in out.rglob("*") if p.suffix in (".json", ".jpg") and p.name != ".run.json"]


def test_images_listed_but_absent_are_named_skipped_and_exit_1(plain_ckpt, coco_dir, tmp_path):
    # README "Exit codes and outputs": 1 = done, but some inputs could not be read (each named); COCO AP covers the
    # others.
    data = tmp_path / "coco"
    shutil.copytree(coco_dir, data)
    absent = sorted((data / "val2017").glob("*.jpg"))[0]
    absent.unlink()
    out = tmp_path / "out"
    result = run_script("eval.py", "--data_dir", data, "--load_checkpoint_path", plain_ckpt, "--save_result_dir", out,
                        "--enable_dcn", "False", "--input_size", "128,128")
    assert result.returncode == 1, result.stderr[-2000:]
    assert f"{absent}: missing, truncated or not a readable image; skipped" in result.stderr
    assert "3 images of person_keypoints_val2017.json" in result.stdout + result.stderr
    results = json.loads((out / plain_ckpt.stem / "val_pred_eval.json").read_text())
    assert {r["image_id"] for r in results} and int(absent.stem) not in {r["image_id"] for r in results}


@pytest.mark.parametrize("damage, expected", [
    ("15 joints", "'keypoints' must be the 17 COCO joint names"),
    ("no keypoints field", "'keypoints' must be a list of 51 numbers"),
])
def test_a_malformed_annotation_file_is_refused_before_any_image_runs(plain_ckpt, coco_dir, tmp_path, damage,
                                                                      expected):
    """eval.py checks the ground truth's content up front (as train.py and the converter do), not after running
    every image: one error line, exit 2, no result folder."""
    data = tmp_path / "coco"
    shutil.copytree(coco_dir, data)
    path = data / "annotations" / "person_keypoints_val2017.json"
    annotations = json.loads(path.read_text())
    if damage == "15 joints":
        annotations["categories"][0]["keypoints"] = annotations["categories"][0]["keypoints"][:15]
    else:
        del annotations["annotations"][1]["keypoints"]
    path.write_text(json.dumps(annotations))
    out = tmp_path / "out"
    result = run_script("eval.py", "--data_dir", data, "--load_checkpoint_path", plain_ckpt, "--save_result_dir", out,
                        "--enable_dcn", "False")
    assert result.returncode == 2, result.stderr[-2000:]
    assert error_line(result).startswith(f"error: {path}") and expected in error_line(result)
    assert "test: " not in result.stdout and not out.exists()


@pytest.mark.slow
def test_training_from_coco_skips_unreadable_images_and_exits_1(pose_data, tmp_path):
    """A missing and a corrupt train2017 image: each named, training uses the others, exit 1 (as predict.py,
    eval.py and the MindRecord converter)."""
    coco = tmp_path / "coco"
    shutil.copytree(pose_data / "coco", coco)
    images = sorted((coco / "train2017").iterdir())
    images[0].unlink()
    images[1].write_bytes(images[1].read_bytes()[:500])
    result = run_script("train.py", "--data_dir", coco, "--output_path", tmp_path / "out", "--epochs", "1",
                        "--enable_dcn", "False", "--train_size", "64,64", "--batch_size", "2", "--num_workers", "1",
                        "--save_checkpoint_steps", "0")
    assert result.returncode == 1, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert f"{images[0]}: no such image file" in output
    assert f"cannot read image {images[1]}" in output
    assert "skipped (each named in a warning above)" in output
    assert sorted(p.name for p in (tmp_path / "out" / "ckpt").iterdir()) == ["0-1_3.ckpt"]  # 7 images, batch 2
