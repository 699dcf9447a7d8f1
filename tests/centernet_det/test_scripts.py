"""CenterNet object detection through the root scripts, on the small COCO instances set of tests/coco_instances_mini.py
(4 real COCO val images, 14 boxes of 4 classes, a crowd box, an image without objects; random-weight checkpoints: the
contracts, not the accuracy, are under test here): predict.py's JSON and drawing, eval.py's COCO results and the
12-line bbox table (numbers equal to pycocotools run directly on the results file), the offline 310 chain giving
eval.py's results (step by step, and as scripts/run_infer_310.sh), export.py (MINDIR outputs in the original's
order, ONNX named from the heads and run in onnxruntime), and one-line errors for bad input."""
import json

import numpy as np
import pytest

from tests.coco_instances_mini import COCO_IDS, COCO_NAMES, write_instances_set
from tests.conftest import ROOT
from tests.root_scripts import error_line, run_mindir_runner, run_root_script
from tests.scripts.helpers import run_script as run_shell_script

DET = ["--config_path", str(ROOT / "configs" / "centernet_det.yaml")]
SMALL = ["--enable_dcn", "False", "--input_size", "256,256"]


def run_script(script, *args, timeout=900):
    return run_root_script("centernet_det.yaml", script, *args, timeout=timeout)


@pytest.fixture(scope="module")
def coco_dir(coco_mini_dir, tmp_path_factory):
    return write_instances_set(tmp_path_factory.mktemp("coco"), coco_mini_dir, "val2017")


@pytest.fixture(scope="module")
def plain_ckpt(tmp_path_factory):
    import mindspore as ms

    from src.model_utils.config import parse_config
    from src.tasks import get_task

    ms.set_seed(3)
    cfg = parse_config([*DET, "--enable_dcn", "False"])
    path = tmp_path_factory.mktemp("ckpt") / "det_plain.ckpt"
    ms.save_checkpoint(get_task(cfg).build_network(), str(path), append_dict={"model": "centernet_det"})
    return path


@pytest.mark.slow
def test_predict_json_drawing_and_a_bad_file(plain_ckpt, coco_dir, tmp_path):
    import cv2

    images = tmp_path / "images"
    images.mkdir()
    for name in ("000000040083.jpg", "000000196141.jpg"):
        (images / name).write_bytes((coco_dir / "val2017" / name).read_bytes())
    (images / "broken.jpg").write_bytes(b"not an image")
    out = tmp_path / "out"
    result = run_script("predict.py", "--ckpt_path", plain_ckpt, "--image", images, "--output_path", out, "--score_thresh",
                        "0", "--top_k", "20", *SMALL)
    assert result.returncode == 1, result.stderr  # done, one unreadable file named
    assert "broken.jpg" in result.stderr + result.stdout
    for name in ("000000040083", "000000196141"):
        height, width = cv2.imread(str(images / f"{name}.jpg")).shape[:2]
        record = json.loads((out / f"{name}.json").read_text())
        assert record["image"] == f"{name}.jpg" and len(record["detections"]) == 20  # --score_thresh 0: all K
        scores = [d["score"] for d in record["detections"]]
        assert scores == sorted(scores, reverse=True)
        for det in record["detections"]:
            assert set(det) == {"bbox", "score", "category_id", "label"}
            assert det["label"] == COCO_NAMES[COCO_IDS.index(det["category_id"])]
            x1, y1, x2, y2 = det["bbox"]
            assert x1 <= x2 and y1 <= y2
        assert cv2.imread(str(out / f"{name}.jpg")).shape[:2] == (height, width)
    assert not (out / "broken.json").exists()
    flip = tmp_path / "keep_res_flip"
    result = run_script("predict.py", "--ckpt_path", plain_ckpt, "--image", images / "000000040083.jpg", "--output_path", flip,
                        "--keep_res", "True", "--flip_test", "True", "--score_thresh", "0", "--top_k", "5",
                        "--enable_dcn", "False")
    assert result.returncode == 0, result.stderr
    assert len(json.loads((flip / "000000040083.json").read_text())["detections"]) == 5


def pycocotools_bbox_stats(annotations, results):
    """COCOeval 'bbox' with its default parameters (every category, maxDets 1/10/100), called directly."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = COCO(str(annotations))
        evaluator = COCOeval(ground_truth, ground_truth.loadRes(str(results)), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


@pytest.mark.slow
def test_eval_and_the_offline_chain_give_the_same_results(plain_ckpt, coco_dir, tmp_path):
    """eval.py (the seed's flags) writes COCO results with COCO category ids and prints the 12-line bbox table, equal
    to pycocotools on the results file; preprocess.py -> the CPU MindIR runner -> postprocess.py on a MindIR of the
    same checkpoint writes the same results and table."""
    result = run_script("eval.py", "--data_dir", coco_dir, "--run_mode", "val", "--ckpt_path", plain_ckpt,
                        "--output_path", tmp_path / "eval", "--top_k", "30", *SMALL)
    assert result.returncode == 0, result.stderr
    table = [line for line in result.stdout.splitlines() if line.startswith(" Average")]
    assert len(table) == 12 and "maxDets=100" in table[0] and "area= small" in table[3]
    folder = tmp_path / "eval" / plain_ckpt.stem
    results = json.loads((folder / "val_pred_eval.json").read_text())
    assert len(results) == 5 * 30 and {r["category_id"] for r in results} <= set(COCO_IDS)
    assert all(set(r) == {"image_id", "category_id", "bbox", "score"} for r in results)
    stats = pycocotools_bbox_stats(coco_dir / "annotations" / "instances_val2017.json", folder / "val_pred_eval.json")
    printed = [float(line.rsplit("=", 1)[1]) for line in table]
    np.testing.assert_allclose(printed, np.round(stats, 3), atol=1e-9)

    pre, res, pred = tmp_path / "pre", tmp_path / "result", tmp_path / "pred"
    steps = [("preprocess.py", "--data_dir", coco_dir, "--preprocess_path", pre, *SMALL),
             ("export.py", "--ckpt_path", plain_ckpt, "--enable_dcn", "False", "--file_format", "MINDIR",
              "--file_name", tmp_path / "det", "--input_size", "256,256")]
    for script, *args in steps:
        step = run_script(script, *args)
        assert step.returncode == 0, step.stderr
    run_mindir_runner(tmp_path / "det.mindir", pre / "input", res)
    post = run_script("postprocess.py", "--preprocess_path", pre, "--result_path", res, "--output_path", pred,
                      "--data_dir", coco_dir, "--top_k", "30", *SMALL)
    assert post.returncode == 0, post.stderr
    assert json.loads((pred / "val_pred_eval.json").read_text()) == results
    assert [line for line in post.stdout.splitlines() if line.startswith(" Average")] == table


@pytest.mark.slow
def test_run_infer_310_on_cpu_gives_eval_py_results(plain_ckpt, coco_dir, tmp_path):
    """scripts/run_infer_310.sh in its COCO form (checkpoint -> WORK_DIR/centernet_det.mindir -> preprocess.py -> the
    CPU MindIR runner -> postprocess.py) writes eval.py's results and prints its table, at the same fixed input size:
    both run MindSpore's own ops on the same inputs, so the files are equal, not close."""
    result = run_script("eval.py", "--data_dir", coco_dir, "--run_mode", "val", "--ckpt_path", plain_ckpt,
                        "--output_path", tmp_path / "eval", "--top_k", "30", *SMALL)
    assert result.returncode == 0, result.stderr
    table = [line for line in result.stdout.splitlines() if line.startswith(" Average")]
    results = json.loads((tmp_path / "eval" / plain_ckpt.stem / "val_pred_eval.json").read_text())
    assert len(table) == 12 and len(results) == 5 * 30

    work = tmp_path / "work"
    chain = run_shell_script("run_infer_310.sh", plain_ckpt, coco_dir, work, "0", "cpu", "256,256", "--config_path",
                             ROOT / "configs" / "centernet_det.yaml", "--top_k", "30", "--enable_dcn", "False",
                             env={"GLOG_v": "3"}, timeout=900)
    assert chain.returncode == 0, chain.stderr[-3000:]
    assert (work / "centernet_det.mindir").is_file() and len(list((work / "preprocess" / "input").iterdir())) == 5
    assert json.loads((work / "pred" / "val_pred_eval.json").read_text()) == results
    assert [line for line in (work / "acc.log").read_text().splitlines() if line.startswith(" Average")] == table


def test_export_outputs_in_the_original_order_and_named_from_the_heads(plain_ckpt, tmp_path):
    """MINDIR returns (hm 80, wh 2, reg 2) and reloads bit-exactly; the no-DCN ONNX names its input "input" and its
    outputs hm, wh, reg, and matches MindSpore in onnxruntime at another size (1e-4 of each head's range)."""
    import mindspore as ms

    from src.inference.model import load_network
    from src.model_utils.config import parse_config
    from src.onnx_utils import ort_session
    from src.tasks import get_task

    cfg = parse_config([*DET, "--enable_dcn", "False"])
    network = load_network(get_task(cfg), plain_ckpt)
    result = run_script("export.py", "--ckpt_path", plain_ckpt, "--enable_dcn", "False", "--file_format", "MINDIR",
                        "--input_size", "128,192", "--file_name", tmp_path / "det")
    assert result.returncode == 0, result.stderr
    x = np.random.default_rng(0).normal(size=(1, 3, 128, 192)).astype(np.float32)
    outputs = ms.nn.GraphCell(ms.load(str(tmp_path / "det.mindir")))(ms.Tensor(x))
    assert [tuple(o.shape) for o in outputs] == [(1, 80, 32, 48), (1, 2, 32, 48), (1, 2, 32, 48)]
    for a, b in zip(outputs, network(ms.Tensor(x))):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    result = run_script("export.py", "--ckpt_path", plain_ckpt, "--enable_dcn", "False", "--file_format", "ONNX",
                        "--file_name", tmp_path / "det")
    assert result.returncode == 0, result.stderr
    session = ort_session(tmp_path / "det.onnx")
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["hm", "wh", "reg"]
    x = np.random.default_rng(1).normal(size=(1, 3, 96, 160)).astype(np.float32)
    for a, b in zip(session.run(None, {"input": x}), network(ms.Tensor(x))):
        b = b.asnumpy()
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4 * (np.abs(b).max() + 1e-6))


def test_one_line_errors(plain_ckpt, coco_dir, tmp_path):
    """ONNX with DCN; a checkpoint of another model; heads that do not fit num_classes; an annotation file of other
    categories (checked before any image is run); a missing annotation file."""
    onnx = run_script("export.py", "--ckpt_path", plain_ckpt, "--file_format", "ONNX", "--file_name", tmp_path / "x")
    assert onnx.returncode == 2 and "cannot be written to ONNX" in error_line(onnx)
    pose = tmp_path / "pose.ckpt"
    import mindspore as ms

    ms.save_checkpoint([{"name": "x", "data": ms.Tensor(np.zeros(1, np.float32))}], str(pose),
                       append_dict={"model": "centernet_pose"})
    wrong = run_script("predict.py", "--ckpt_path", pose, "--image", coco_dir / "val2017" / "000000000785.jpg",
                       "--output_path", tmp_path / "p", "--enable_dcn", "False")
    assert wrong.returncode == 2 and "holds a 'centernet_pose' model" in error_line(wrong)
    heads = run_script("predict.py", "--ckpt_path", plain_ckpt, "--image", coco_dir / "val2017" / "000000000785.jpg",
                       "--output_path", tmp_path / "q", "--num_classes", "3")
    assert heads.returncode == 2 and "--category_ids: 80 entries for num_classes 3" in error_line(heads)
    other = tmp_path / "other"
    (other / "annotations").mkdir(parents=True)
    (other / "val2017").mkdir()
    data = json.loads((coco_dir / "annotations" / "instances_val2017.json").read_text())
    data["categories"] = [c for c in data["categories"] if c["id"] in (1, 3, 13, 90)]
    (other / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    categories = run_script("eval.py", "--data_dir", other, "--ckpt_path", plain_ckpt, "--output_path",
                            tmp_path / "e", *SMALL)
    assert categories.returncode == 2 and "are not the model's 80 classes" in error_line(categories)
    assert not (tmp_path / "e").exists() or not any((tmp_path / "e").rglob("*.json"))
    missing = run_script("eval.py", "--data_dir", tmp_path, "--ckpt_path", plain_ckpt, *SMALL)
    assert missing.returncode == 2 and "instances_val2017.json" in error_line(missing)


@pytest.mark.slow
def test_resdcn_18_trains_predicts_and_evaluates_on_synthetic_objects(tmp_path):
    """arch resdcn_18 (ResNet-18 + deformable up-sampling) end to end: train.py two steps on synthetic objects (their
    class table in an override config), predict.py and eval.py on its checkpoint (COCO box table, results with the
    table's category ids)."""
    from scripts.demo_det import write_class_config
    from src.data.synthetic_objects import generate

    data = tmp_path / "data"
    generate(str(data), 4, 2, seed=7, image_size=128, max_objects=3, progress=False)
    write_class_config(data, tmp_path / "classes.yaml")
    model = ["--config_path", tmp_path / "classes.yaml", "--arch", "resdcn_18", "--enable_dcn", "True"]
    result = run_script("train.py", *model, "--data_dir", data, "--output_path", tmp_path / "run", "--train_size",
                        "64,64", "--batch_size", "2", "--epochs", "1", "--num_workers", "1", "--seed", "5")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    [ckpt] = (tmp_path / "run" / "ckpt").glob("*.ckpt")
    assert ckpt.name == "0-1_2.ckpt"  # 4 images, batch 2: two steps
    header, *rows = (tmp_path / "run" / "loss_history.csv").read_text().splitlines()
    assert header.split(",")[-3:] == ["hm", "wh", "off"] and len(rows) == 2

    images = sorted((data / "val2017").glob("*.jpg"))
    result = run_script("predict.py", *model, "--ckpt_path", ckpt, "--image", images[0], "--output_path",
                        tmp_path / "pred", "--score_thresh", "0", "--top_k", "5", "--input_size", "128,128")
    assert result.returncode == 0, result.stderr[-4000:]
    record = json.loads((tmp_path / "pred" / f"{images[0].stem}.json").read_text())
    assert len(record["detections"]) == 5  # --score_thresh 0: all K
    assert {d["label"] for d in record["detections"]} <= {"ring", "cross", "star", "striped_box", "checkerboard",
                                                          "triangle_frame"}

    result = run_script("eval.py", *model, "--data_dir", data, "--run_mode", "val", "--ckpt_path", ckpt,
                        "--output_path", tmp_path / "eval", "--input_size", "128,128")
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.count("Average Precision") == 6 and result.stdout.count("Average Recall") == 6
    results = json.loads((tmp_path / "eval" / ckpt.stem / "val_pred_eval.json").read_text())
    assert len(results) == 2 * 100 and {r["image_id"] for r in results} == {
        image["id"] for image in json.loads((data / "annotations" / "instances_val2017.json").read_text())["images"]}
    assert {r["category_id"] for r in results} <= set(range(1, 7))
