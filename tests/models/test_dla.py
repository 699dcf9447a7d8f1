"""Tests for src/models/dla.py: original key layout and shapes, output strides, the unused projections, and
parity with the PyTorch transcription of the original (tests/models/torch_reference.py).

The expected key list is written here from docs/centernet.md "Network" (key patterns, channel rules, Root widths), not
derived from our network.
"""
import mindspore as ms
import numpy as np
import pytest

from src.models.dla import DLA34
from tests.requirements import require

BN_OURS = ("gamma", "beta", "moving_mean", "moving_variance")
BN_TORCH = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}


def bn_keys(prefix, channels):
    return {f"{prefix}.{field}": (channels,) for field in BN_OURS}


def basic_block_keys(prefix, in_ch, out_ch):
    keys = {f"{prefix}.conv1.weight": (out_ch, in_ch, 3, 3), f"{prefix}.conv2.weight": (out_ch, out_ch, 3, 3)}
    keys.update(bn_keys(f"{prefix}.bn1", out_ch))
    keys.update(bn_keys(f"{prefix}.bn2", out_ch))
    return keys


def one_level_tree_keys(prefix, in_ch, out_ch, root_in):
    keys = basic_block_keys(f"{prefix}.tree1", in_ch, out_ch)
    keys.update(basic_block_keys(f"{prefix}.tree2", out_ch, out_ch))
    keys[f"{prefix}.root.conv.weight"] = (out_ch, root_in, 1, 1)
    keys.update(bn_keys(f"{prefix}.root.bn", out_ch))
    if in_ch != out_ch:
        keys[f"{prefix}.project.0.weight"] = (out_ch, in_ch, 1, 1)
        keys.update(bn_keys(f"{prefix}.project.1", out_ch))
    return keys


def expected_dla34_keys():
    """{key (MindSpore BN names): shape} of DLA-34 without the classifier, from docs/centernet.md "Network"."""
    keys = {"base_layer.0.weight": (16, 3, 7, 7), "level0.0.weight": (16, 16, 3, 3), "level1.0.weight": (32, 16, 3, 3)}
    keys.update(bn_keys("base_layer.1", 16))
    keys.update(bn_keys("level0.1", 16))
    keys.update(bn_keys("level1.1", 32))
    # Root conv input widths as listed in docs/centernet.md "Network": level2 128, level3.tree1 256, level3.tree2 448,
    # level4.tree1 512, level4.tree2 896, level5 1280.
    keys.update(one_level_tree_keys("level2", 32, 64, 128))
    keys.update(one_level_tree_keys("level5", 256, 512, 1280))
    for level, in_ch, out_ch, roots in (("level3", 64, 128, (256, 448)), ("level4", 128, 256, (512, 896))):
        keys.update(one_level_tree_keys(f"{level}.tree1", in_ch, out_ch, roots[0]))
        keys.update(one_level_tree_keys(f"{level}.tree2", out_ch, out_ch, roots[1]))
        keys[f"{level}.project.0.weight"] = (out_ch, in_ch, 1, 1)  # exists in the checkpoints, unused
        keys.update(bn_keys(f"{level}.project.1", out_ch))
    return keys


@pytest.fixture(scope="module")
def dla():
    net = DLA34()
    net.set_train(False)
    return net


def test_keys_and_shapes_match_the_original_layout(dla):
    ours = {name: tuple(p.shape) for name, p in dla.parameters_and_names()}
    expected = expected_dla34_keys()
    assert sorted(set(ours) - set(expected)) == [] and sorted(set(expected) - set(ours)) == []
    assert ours == expected
    # parameter names as saved in a checkpoint are the attribute paths
    assert {p.name for p in dla.get_parameters()} == set(expected)


def test_parameter_count_and_batchnorm_settings(dla):
    trainable = sum(int(np.prod(p.shape)) for p in dla.trainable_params())
    assert round(trainable / 1e6, 2) == 15.27  # docs/centernet.md "Network": backbone 15.27 M (classifier excluded)
    bns = [cell for _, cell in dla.cells_and_names() if isinstance(cell, ms.nn.BatchNorm2d)]
    assert len(bns) == sum(1 for k in expected_dla34_keys() if k.endswith(".gamma"))
    for bn in bns:
        assert bn.eps == pytest.approx(1e-5)
        assert bn.momentum == pytest.approx(0.1)  # MindSpore stores 1 - its momentum argument (0.9)


def test_six_maps_with_strides_1_to_32(dla, mode):
    x = ms.Tensor(np.random.default_rng(0).standard_normal((2, 3, 64, 96)).astype(np.float32))
    outputs = dla(x)
    assert [tuple(o.shape) for o in outputs] == [(2, c, 64 // s, 96 // s) for c, s in
                                                 zip((16, 32, 64, 128, 256, 512), (1, 2, 4, 8, 16, 32))]


def test_unused_projections_do_not_change_outputs():
    """level3.project and level4.project are dead in the original; level3.tree1.project is not."""
    net = DLA34()
    net.set_train(False)
    x = ms.Tensor(np.random.default_rng(1).standard_normal((1, 3, 64, 64)).astype(np.float32))
    before = [o.asnumpy() for o in net(x)]
    for name, param in net.parameters_and_names():
        if name.startswith(("level3.project.", "level4.project.")) and name.endswith("weight"):
            param.set_data(ms.Tensor(np.full(param.shape, 7.0, np.float32)))
    after = [o.asnumpy() for o in net(x)]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    net.level3.tree1.project[0].weight.set_data(ms.Tensor(np.full((128, 64, 1, 1), 7.0, np.float32)))
    changed = net(x)[3].asnumpy()
    assert np.abs(changed - before[3]).max() > 1e-2


def test_bad_configuration_is_rejected():
    with pytest.raises(ValueError, match="expected 6 of each"):
        DLA34(levels=(1, 1, 1, 2, 2))
    with pytest.raises(ValueError, match="level0 and level1"):
        DLA34(levels=(2, 1, 1, 2, 2, 1))


def test_matches_torch_transcription(mode):
    """Random weights and BN statistics in the PyTorch transcription of the original, copied key by key (BN names
    renamed here). float32 through up to 35 layers: max error <= 1e-4 of each map's largest value (measured 5e-7 at
    level0 growing to 2e-5 at level5, the ordinary accumulation of float32 rounding)."""
    torch = require("torch")
    from tests.models.torch_reference import (
        TorchDLA34,
        calibrate_and_perturb_bn_,
        randomize_,
    )

    torch.manual_seed(0)
    ref = TorchDLA34(with_fc=True)
    randomize_(ref, seed=0)
    rng = np.random.default_rng(2)
    calibrate_and_perturb_bn_(ref, torch.from_numpy(rng.standard_normal((2, 3, 64, 64)).astype(np.float32)), seed=1)
    state = {k: v.numpy() for k, v in ref.state_dict().items()}

    net = DLA34()
    net.set_train(False)
    for name, param in net.parameters_and_names():
        module, _, field = name.rpartition(".")
        source = f"{module}.{BN_TORCH.get(field, field)}"
        param.set_data(ms.Tensor(state[source]))
    x = rng.standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        expected = [o.numpy() for o in ref(torch.from_numpy(x))]
    ours = [o.asnumpy() for o in net(ms.Tensor(x))]
    for level, (a, b) in enumerate(zip(ours, expected)):
        assert a.shape == b.shape, level
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4 * np.abs(b).max(), err_msg=f"level{level}")
