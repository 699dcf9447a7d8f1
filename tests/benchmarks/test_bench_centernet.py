"""Tests for benchmarks/bench_centernet.py and the twin losses of benchmarks/torch_centernet.py.

No timing is asserted. What is: the data part reads real-size synthetic images through the pose task's training
source and yields every target; the PyTorch twins' losses equal the MindSpore losses (`CenterNetPoseLoss`; its hm,
wh and off terms for `ctdet_loss`, and the ctdet task's loss), so the training
comparison times the same objective; and smoke runs at 64x64 time every candidate of every part (the ctdet
ResNet network's inference too), whose inference candidates compute the same function (relative deviation from
MindSpore's ops reported by the benchmark).
"""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor

from benchmarks.bench_centernet import (MODELS, _separate_process_arms, data_throughput, main, parse_args,
                                        training_batch, training_source, write_synthetic_coco)
from benchmarks.bench_train import torch_available
from src.centernet_pose.loss import CenterNetPoseLoss
from src.centernet_pose.targets import PoseTargets
from tests.requirements import require

SIZE = 64


@pytest.fixture(scope="module")
def pose_source(tmp_path_factory):
    folder = write_synthetic_coco(tmp_path_factory.mktemp("bench_centernet"), num_images=3, size=(640, 480), seed=1)
    return training_source(MODELS["pose"], folder, SIZE)


def test_data_part_reads_real_size_images_and_yields_every_target(pose_source):
    import cv2

    assert len(pose_source) == 3 and pose_source.num_objects >= 3
    image = cv2.imread(str(pose_source.records[0]["image_path"]))
    assert image.shape == (480, 640, 3)
    images, targets = training_batch(pose_source, 2)
    keys = PoseTargets((SIZE // 4, SIZE // 4)).keys
    assert images.shape == (2, 3, SIZE, SIZE) and images.dtype == np.float32
    assert len(targets) == len(keys) == 11
    named = dict(zip(keys, targets))
    assert named["hm"].shape == (2, 1, 16, 16) and named["hm_hp"].shape == (2, 17, 16, 16)
    for b in range(2):  # every image has a person whose centre cell is a heatmap peak of exactly 1
        used = named["reg_mask"][b] > 0
        assert used.any() and np.all(named["hm"][b, 0].ravel()[named["ind"][b][used]] == 1.0)
    assert data_throughput(pose_source, 3) > 0 and data_throughput(pose_source, 3, cpu_time=True) > 0


def test_twin_loss_equals_the_mindspore_loss(pose_source):
    """Same raw head maps and targets: every component equal to float32 accumulation (rtol 1e-5)."""
    torch = require("torch")
    from benchmarks.torch_centernet import pose_loss

    _, targets = training_batch(pose_source, 3)
    rng = np.random.default_rng(0)
    heads = [rng.normal(0, 2, (3, c, 16, 16)).astype(np.float32) for c in (1, 2, 34, 2, 17, 2)]
    ours = [float(v.asnumpy()) for v in CenterNetPoseLoss()(*[Tensor(a) for a in heads + list(targets)])]
    twin = [float(v) for v in pose_loss([torch.from_numpy(h) for h in heads], *[torch.from_numpy(t) for t in targets])]
    assert all(v > 0 for v in ours[:6])  # every term is active on these targets
    np.testing.assert_allclose(twin, ours, rtol=1e-5)


def test_ctdet_twin_loss_equals_the_pose_loss_terms(pose_source):
    """The ctdet objective hm + 0.1 wh + off is made of the terms `CenterNetPoseLoss` computes the same way (focal
    loss on the clamped sigmoid, RegL1 normalised by 2 x #objects): the twin's terms equal them (rtol 1e-5)."""
    torch = require("torch")
    from benchmarks.torch_centernet import ctdet_loss
    from src.centernet_pose.loss import LOSS_NAMES

    _, targets = training_batch(pose_source, 3)
    named = dict(zip(pose_source.column_names[1:], targets))
    rng = np.random.default_rng(1)
    heads = [rng.normal(0, 2, (3, c, 16, 16)).astype(np.float32) for c in (1, 2, 34, 2, 17, 2)]
    ours = dict(zip(LOSS_NAMES, (float(v.asnumpy()) for v in CenterNetPoseLoss()(*[Tensor(a) for a in
                                                                                   heads + list(targets)]))))
    total, hm, wh, off = (float(v) for v in ctdet_loss(
        [torch.from_numpy(heads[i]) for i in (0, 1, 3)],
        *[torch.from_numpy(named[k]) for k in ("hm", "wh", "reg", "ind", "reg_mask")]))
    np.testing.assert_allclose([hm, wh, off], [ours["hm_loss"], ours["wh_loss"], ours["off_loss"]], rtol=1e-5)
    np.testing.assert_allclose(total, ours["hm_loss"] + 0.1 * ours["wh_loss"] + ours["off_loss"], rtol=1e-5)


@pytest.mark.parametrize("model", ["ctdet_dla", "ctdet_resdcn18"])
def test_ctdet_twin_loss_equals_the_ctdet_tasks_loss(model, tmp_path):
    """The ctdet task's training source's targets and loss (resdcn_18 and DLA-34) against `twin_loss`."""
    torch = require("torch")
    from benchmarks.bench_centernet import model_config, model_heads, twin_loss
    from src.tasks import get_task

    folder = write_synthetic_coco(tmp_path, num_images=3, size=(640, 480), seed=2)
    source = training_source(MODELS[model], folder, SIZE)
    _, targets = training_batch(source, 3)
    rng = np.random.default_rng(2)
    heads = [rng.normal(0, 2, (3, c, 16, 16)).astype(np.float32) for _, c in model_heads(MODELS[model])]
    loss = get_task(model_config(MODELS[model], SIZE)).build_loss()
    ours = float(loss(*[Tensor(a) for a in heads + list(targets)])[0].asnumpy())
    twin = float(twin_loss(model_heads(MODELS[model]), source.column_names[1:])(
        [torch.from_numpy(h) for h in heads], *[torch.from_numpy(t) for t in targets])[0])
    assert ours > 0
    np.testing.assert_allclose(twin, ours, rtol=1e-5)


@pytest.mark.slow
def test_ctdet_resnet_inference_smoke_run(capsys):
    """The ctdet ResNet-18 network's inference arms at 64x64 (no task needed): the kernels (stem max-pool among them)
    and the twin compute the network of (a0)."""
    summary = main(["--model", "ctdet_resdcn18", "--part", "infer", "--input_size", str(SIZE), "--infer-runs", "1",
                    "--warmup", "0"])
    out = capsys.readouterr().out
    assert "CenterNet ctdet (ResNet-18, resdcn_18) on CPU" in out and "'maxpool': 1" in out
    for variant in ("dcn", "plain"):
        assert summary[f"infer_{variant}_a_deviation"] < 1e-4 and summary[f"infer_{variant}_a_s"] > 0
        if torch_available():
            assert summary[f"infer_{variant}_b_deviation"] < 1e-4 and summary[f"infer_{variant}_a/b"] > 0


def test_bad_arguments_are_errors():
    with pytest.raises(SystemExit):
        main(["--input_size", "100"])
    with pytest.raises(SystemExit):
        main(["--batch", "0"])


def test_data_part_alone(capsys):
    summary = main(["--part", "data", "--input_size", str(SIZE), "--data-images", "2", "--data-samples", "3"])
    assert summary["data_wall_img_s"] > 0 and summary["data_cpu_img_s"] > 0
    assert "data img/s per core" in capsys.readouterr().out


@pytest.mark.slow
def test_one_command_smoke_run(capsys):
    threads = str(ms.get_context("runtime_num_threads"))  # fixed once MindSpore's runtime has run (other tests)
    summary = main(["--input_size", str(SIZE), "--batch", "2", "--infer-runs", "1", "--train-runs", "1", "--warmup",
                    "0", "--data-images", "2", "--data-samples", "2", "--predict-images", "1", "--predict-passes", "1",
                    "--no-cold", "--threads", threads])
    out = capsys.readouterr().out
    for variant in ("dcn", "plain"):
        assert summary[f"infer_{variant}_a0_s"] > 0 and summary[f"infer_{variant}_a_s"] > 0
        # the kernels and (with torch) the twin compute the network of (a0): float32 differences only
        assert summary[f"infer_{variant}_a_deviation"] < 1e-4
    # (--train-ms-ops, the MindSpore-ops training arm, is left out: compiling its DCN graph doubles this test's time;
    # the same train step without kernels is compared with the kernels in tests/models/kernels/test_dcn.py)
    assert summary["train_a_s"] > 0 and "train_a0_s" not in summary and summary["data_cpu_img_s"] > 0
    assert summary["predict_ours_img_s"] > 0 and "predict_cold_s" not in summary
    assert "| (a) MindSpore GRAPH, compiled kernels |" in out
    if torch_available():
        assert summary["infer_dcn_b_deviation"] < 1e-4 and summary["infer_plain_b_deviation"] < 1e-4
        assert summary["infer_dcn_a/b"] > 0 and summary["train_a/b"] > 0 and "training a/b (img/s)" in out
    else:
        assert "torch is not installed" in out


@pytest.mark.slow
def test_training_arms_in_separate_processes(capsys):
    """--separate-processes: each arm trains in a child process, which reports its median and peak memory."""
    # without DCN at 64x64: the child's graph compiles in half the time of the DCN one; the arms' code is the same
    summary = main(["--part", "train", "--input_size", str(SIZE), "--batch", "1", "--train-runs", "1", "--warmup", "0",
                    "--train-dcn", "False", "--data-images", "1", "--separate-processes"]
                   + ([] if torch_available() else ["--no-torch"]))
    out = capsys.readouterr().out
    assert summary["train_a_s"] > 0 and 0.1 < summary["train_a_peak_gb"] < 100
    assert "each in its own process" in out and "(a) ran in its own process" in out
    if torch_available():
        assert summary["train_b_s"] > 0 and summary["train_b_peak_gb"] > 0 and summary["train_a/b"] > 0


def test_an_arm_failing_in_its_process_is_named_with_its_error():
    """The parent reports a child's failure (here argparse rejecting the arm) instead of a table row; the script's
    exit code is then 1."""
    args = parse_args(["--part", "train", "--input_size", str(SIZE), "--separate-processes", "--no-torch"])
    medians, notes, peaks, failed = _separate_process_arms(args, ["no-such-arm"])
    assert (medians, peaks, failed) == ({}, {}, ["no-such-arm"])
    assert len(notes) == 1 and "(no-such-arm) failed in its process (exit 2)" in notes[0]
    assert "invalid choice" in notes[0]


@pytest.mark.parametrize("model, kind", [("ctdet_dla", "objects"), ("pose", "people")])
def test_predict_photos_are_the_models_kind_at_the_size_asked(model, kind, tmp_path, monkeypatch):
    """ctdet photos come from the object generator, pose photos from the people generator, at --image_size."""
    import cv2

    from benchmarks.bench_centernet import write_photos
    from src.data import synthetic_objects, synthetic_pose

    used = []
    for module, name in ((synthetic_objects, "objects"), (synthetic_pose, "people")):
        render = module.render_scene
        monkeypatch.setattr(module, "render_scene", lambda *a, _r=render, _n=name, **k: used.append(_n) or _r(*a, **k))
    paths = write_photos(tmp_path, MODELS[model], 2, (96, 64))
    assert used == [kind, kind]
    assert [cv2.imread(str(p)).shape for p in paths] == [(64, 96, 3)] * 2


def test_random_checkpoint_loads_into_predicts_network(tmp_path):
    """The predict part's checkpoint holds every parameter of the network predict.py builds from the config."""
    from benchmarks.bench_centernet import predict_config_args, random_checkpoint
    from src.model_utils.config import parse_config
    from src.tasks import get_task

    network = random_checkpoint(MODELS["ctdet_resdcn18"], tmp_path / "r.ckpt", SIZE)
    saved = ms.load_checkpoint(str(tmp_path / "r.ckpt"))
    fresh = get_task(parse_config(predict_config_args(MODELS["ctdet_resdcn18"], SIZE))).build_network()
    assert {p.name for p in fresh.get_parameters()} <= set(saved)
    offsets = [p for p in network.get_parameters() if p.name.endswith("conv_offset_mask.bias")]
    assert len(offsets) == 3 and all(np.abs(p.asnumpy()[:18]).max() > 0 for p in offsets)  # DCN off the grid


@pytest.mark.slow
def test_predict_part_smoke_run(capsys):
    """--part predict at 64x64 on two 96x64 photos: ours and the twin run predict.py's path, compute the same
    network, and a fresh-process predict.py over the folder reports its summary line."""
    threads = str(ms.get_context("runtime_num_threads"))  # fixed once MindSpore's runtime has run (other tests)
    summary = main(["--model", "ctdet_resdcn18", "--part", "predict", "--input_size", str(SIZE), "--image_size", "96",
                    "64", "--predict-images", "2", "--predict-passes", "1", "--threads", threads])
    out = capsys.readouterr().out
    assert summary["predict_ours_img_s"] > 0 and summary["predict_ours_network_s"] > 0
    assert "ours: predict.py's path" in out and "'dcn': 3" in out
    assert summary["predict_cold_s"] > 0 and "it printed: predict: 2/2 images" in out
    if torch_available():
        assert summary["predict_twin_deviation"] < 1e-4 and summary["predict_network_ours/twin"] > 0
        assert "predict network time per image ours/twin" in out
