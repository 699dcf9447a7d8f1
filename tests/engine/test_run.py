"""src/engine/run.build_network: where the initial weights come from (CenterFace as the example task)."""
import logging

import numpy as np
import pytest

from src.model_utils.config import parse_config
from src.tasks import get_task
from tests.test_convert_weight_mobilenetv2 import random_state

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
