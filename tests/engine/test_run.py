"""src/engine/run: where the initial weights come from (CenterFace as the example task); fine-tuning with frozen
BatchNorm and a weight average through train.py."""
import logging
import re
from pathlib import Path

import numpy as np
import pytest

from src.model_utils.config import parse_config
from src.tasks import get_task
from tests.models.torchvision_mobilenet_v2 import random_state
from tests.training_runs import digest, logged_state

LOG = logging.getLogger("test")


def build(cfg):
    """run.build_network with the task of `cfg`."""
    from src.engine.run import build_network

    return build_network(get_task(cfg), cfg, LOG)


@pytest.fixture(scope="module")
def backbone_ckpt(tmp_path_factory):
    from src.convert_weight_mobilenetv2 import main as convert_main

    folder = tmp_path_factory.mktemp("backbone")
    np.savez(folder / "state.npz", **random_state(seed=5))
    convert_main(["--npz", str(folder / "state.npz"), "--output_path", str(folder / "backbone.ckpt")])
    return folder / "backbone.ckpt"


def test_pretrained_backbone_fills_every_backbone_parameter_and_nothing_else(backbone_ckpt):
    import mindspore as ms


    cfg = parse_config(["--pretrained_backbone", str(backbone_ckpt)])
    network, whole = build(cfg)
    assert not whole
    saved = ms.load_checkpoint(str(backbone_ckpt))
    params = dict(network.parameters_and_names())
    backbone = [n for n in params if n.startswith("backbone.")]
    assert backbone and set(backbone) == set(saved)
    for name in backbone:
        np.testing.assert_array_equal(params[name].asnumpy(), saved[name].asnumpy(), err_msg=name)
    # The neck and heads keep their initialisation (e.g. the heatmap prior bias -2.19 for p = 0.1).
    np.testing.assert_allclose(params["head_heatmap.bias"].asnumpy(), [-np.log(9.0)], rtol=1e-6)


def test_pretrained_backbone_missing_parameters_is_an_error(backbone_ckpt, tmp_path):
    import mindspore as ms


    partial = {k: v for k, v in ms.load_checkpoint(str(backbone_ckpt)).items() if ".features.17." not in k}
    path = tmp_path / "partial.ckpt"
    ms.save_checkpoint([{"name": k, "data": v} for k, v in partial.items()], str(path))
    cfg = parse_config(["--pretrained_backbone", str(path)])
    with pytest.raises(ValueError, match=r"parameters missing, e\.g\. \['backbone\.features\.17\."):
        build(cfg)


def test_pretrained_whole_network_must_match(official_ckpt):

    network, whole = build(parse_config(["--ckpt_path", str(official_ckpt)]))
    assert whole and float(np.abs(network.head_heatmap.weight.asnumpy()).sum()) > 0
    with pytest.raises(ValueError, match="shape mismatch"):
        build(parse_config(["--ckpt_path", str(official_ckpt), "--neck_width", "64"]))


def test_backbone_only_checkpoint_as_ckpt_path_initialises_the_backbone(backbone_ckpt, tmp_path):
    """The pose seed's --load_checkpoint_path takes an ImageNet backbone too: a backbone-only checkpoint given
    as --ckpt_path fills the backbone; one holding part of the rest is an error naming what is missing."""
    import mindspore as ms


    network, whole = build(parse_config(["--load_checkpoint_path", str(backbone_ckpt)]))
    assert not whole
    saved = ms.load_checkpoint(str(backbone_ckpt))
    params = dict(network.parameters_and_names())
    np.testing.assert_array_equal(params["backbone.features.0.conv.weight"].asnumpy(),
                                  saved["backbone.features.0.conv.weight"].asnumpy())
    mixed = dict(saved)
    mixed["head_heatmap.bias"] = ms.Tensor(np.zeros(1, np.float32))
    path = tmp_path / "mixed.ckpt"
    ms.save_checkpoint([{"name": k, "data": v} for k, v in mixed.items()], str(path))
    with pytest.raises(ValueError, match=r"parameters missing, e\.g\. \['neck\."):
        build(parse_config(["--ckpt_path", str(path)]))


@pytest.fixture(scope="module")
def fine_tuned(official_ckpt, tmp_path_factory):
    """train.py fine-tuning the official weights with frozen BatchNorm and a weight average: 2 epochs of 2 steps
    (8 images, batch 4). Exact resume with both is tested on the Trainer (tests/engine/test_ema.py)."""
    import subprocess
    import sys

    from src.data.synthetic import generate

    folder = tmp_path_factory.mktemp("fine_tuned")
    paths = generate(str(folder / "data"), 8, 0, seed=11, image_size=160, min_face=12, max_face=120, progress=False)
    args = [sys.executable, "train.py", "--train_json", paths["train_json"], "--output_path", folder / "run",
            "--ckpt_path", official_ckpt, "--batch_size", 4, "--train_size", "128,128", "--log_interval", 1,
            "--freeze_bn", True, "--ema_decay", 0.5, "--lr_scheduler", "cosine", "--seed", 3, "--epochs", 2]
    proc = subprocess.run([str(a) for a in args], cwd=Path(__file__).resolve().parents[2], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return folder / "run", proc.stdout


@pytest.mark.slow  # train.py compiling the training graph: ~40 s on 2 cores
def test_fine_tuning_with_frozen_batchnorm_and_a_weight_average_through_train_py(fine_tuned):
    import mindspore as ms

    from src.engine.checkpoint import TRAINING_WEIGHTS

    run_dir, log = fine_tuned
    assert "BatchNorm frozen (freeze_bn): 59 layers" in log and "weight average (ema_decay 0.5) of 303" in log
    kernels = re.search(r"compiled CPU kernels: (\d+) depthwise, \d+ bias_relu, (\d+) batchnorm", log)
    assert kernels is None or kernels.groups() == ("17", "0")  # frozen layers keep MindSpore's inference BN
    (initial,), (final,) = logged_state(log, "initial"), logged_state(log, "final")
    assert initial["moving_stats"] == final["moving_stats"] and initial["weights"] != final["weights"]

    state = ms.load_checkpoint(str(run_dir / "ckpt" / "0-2_2.ckpt"))
    assert bool(state["train_freeze_bn"].asnumpy()) and int(state["train_ema_updates"].asnumpy()) == 4
    network = sorted(key[len(TRAINING_WEIGHTS):] for key in state if key.startswith(TRAINING_WEIGHTS))
    assert len(network) == 303 and all(name in state for name in network)
    trained = {name: state[TRAINING_WEIGHTS + name].asnumpy() for name in network}
    presented = {name: state[name].asnumpy() for name in network}
    # The log's final digest is of the training weights; the checkpoint presents their average under the names
    weights = [name for name in network if not name.endswith(("moving_mean", "moving_variance"))]
    assert digest({name: trained[name] for name in weights}) == final["weights"]
    assert sum(not np.array_equal(presented[name], trained[name]) for name in weights) > len(weights) // 2
    for name in network:  # the frozen statistics: the average of a constant (decay 0.5: exact) is that constant
        if name.endswith(("moving_mean", "moving_variance")):
            np.testing.assert_array_equal(presented[name], trained[name])
