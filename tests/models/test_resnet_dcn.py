"""Tests for src/models/resnet_dcn.py (CenterNet's `resdcn_N` network) and src/models/centernet_arch.py: the original
key layout (equal to the PyTorch transcription's state dict), parameter counts, the up-sampling stages and their
initialisation, head biases, output layout, gradients, one graph for every input size, and parity with the
transcription through the real converter CLI (tests/models/parity.py: tolerance 1e-3 of each map's range and why).
"""
import math

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn, ops

from benchmarks.torch_centerface import ms_to_torch_key
from src.models.centernet_arch import (ARCHS, backbone_prefixes, build_centernet_network, default_head_conv,
                                       parse_arch)
from src.models.dcn import ModulatedDeformConv2d
from src.models.dla_seg import DLASeg
from src.models.layers import bilinear_upsample_weight, count_parameters
from src.models.resnet import ResNet
from src.models.resnet_dcn import ResNetDCN
from tests.models.parity import assert_parity, build_reference_checkpoint, execution_mode, write_ctdet_config
from tests.requirements import require

CTDET_HEADS = (("hm", 80), ("wh", 2), ("reg", 2))
# the deconv stages' parameters: DCN 3x3 (weight, bias, offset conv 27 x in x 9 + 27), 2 BNs, ConvTranspose 4x4
DECONV_WIDTHS = ((512, 256), (256, 128), (128, 64))


def deconv_parameters(enable_dcn, widths=DECONV_WIDTHS):
    total = 0
    for cin, cout in widths:
        total += cout * cin * 9 + cout + (27 * cin * 9 + 27 if enable_dcn else 0) + 2 * 2 * cout + cout * cout * 16
    return total


def head_parameters(heads, head_conv=64, width=64):
    return sum(head_conv * width * 9 + head_conv + c * head_conv + c for _, c in heads)


@pytest.fixture(scope="module")
def net():
    network = ResNetDCN(CTDET_HEADS)
    network.set_train(False)
    return network


def test_parameters_add_up_and_keys_equal_the_transcription(net):
    torch = require("torch")
    from tests.models.torch_reference import TorchResNetDCN

    expected = count_parameters(ResNet(18)) + deconv_parameters(True) + head_parameters(CTDET_HEADS)
    assert count_parameters(net) == expected == 14_437_349
    for enable_dcn, network in ((True, net), (False, ResNetDCN(CTDET_HEADS, enable_dcn=False))):
        ours = {ms_to_torch_key(name): tuple(p.shape) for name, p in network.parameters_and_names()}
        with torch.no_grad():
            twin = TorchResNetDCN(CTDET_HEADS, 18, enable_dcn=enable_dcn)
            theirs = {k: tuple(v.shape) for k, v in twin.state_dict().items() if not k.endswith("num_batches_tracked")}
        assert ours == theirs
        assert sum(p.numel() for p in twin.parameters()) == count_parameters(network)
    assert count_parameters(ResNetDCN(CTDET_HEADS, enable_dcn=False)) == expected - deconv_parameters(True) \
        + deconv_parameters(False)


def test_deconv_layers_are_the_originals_sequence(net):
    """Indices 0..17: [DCN, BN, ReLU, ConvTranspose 4x4/2 pad 1 (full, no bias), BN, ReLU] x 3."""
    layers = list(net.deconv_layers)
    assert len(layers) == 18
    for stage, (cin, cout) in enumerate(DECONV_WIDTHS):
        dcn, bn1, relu1, up, bn2, relu2 = layers[6 * stage:6 * stage + 6]
        assert type(dcn) is ModulatedDeformConv2d and dcn.weight.shape == (cout, cin, 3, 3)
        assert isinstance(bn1, nn.BatchNorm2d) and isinstance(bn2, nn.BatchNorm2d)
        assert isinstance(relu1, nn.ReLU) and isinstance(relu2, nn.ReLU)
        assert isinstance(up, nn.Conv2dTranspose) and up.group == 1 and not up.has_bias
        assert up.weight.shape == (cout, cout, 4, 4) and tuple(up.stride) == (2, 2)
        # the original's fill_up_weights: the bilinear kernel in w[c, 0] of every input channel c; the rest keeps
        # PyTorch's default U(+-1/sqrt(fan_in)), fan_in = out channels * 16
        weight = up.weight.asnumpy()
        np.testing.assert_array_equal(weight[:, :1], bilinear_upsample_weight(cout, 4))
        rest = weight[:, 1:]
        assert np.abs(rest).max() <= 1 / math.sqrt(cout * 16) and rest.std() > 0.5 / math.sqrt(3 * cout * 16)
        assert float(bn1.momentum) == pytest.approx(0.1) and bn1.eps == pytest.approx(1e-5)  # PyTorch's 0.1, 1e-5
    assert not any(isinstance(cell, ModulatedDeformConv2d)
                   for cell in ResNetDCN(CTDET_HEADS, enable_dcn=False).deconv_layers)


def test_upsampling_is_exactly_2x_and_bilinear_on_channel_0(net, mode):
    """Output size (in - 1) * 2 - 2 + 4 = 2 in. With the random part w[:, 1:] zeroed and only input channel 0
    non-zero, output channel 0 is the bilinear kernel w[0, 0] applied to it: a constant maps to itself away from the
    border (the taps at stride 2 sum to 1); the other outputs are 0."""
    up = net.deconv_layers[3]
    x = np.zeros((1, 256, 5, 7), np.float32)
    x[:, 0] = 3.0
    weight = up.weight.asnumpy().copy()
    restore = up.weight.asnumpy()
    weight[:, 1:] = 0  # isolate the bilinear part
    up.weight.set_data(Tensor(weight))
    try:
        out = up(Tensor(x)).asnumpy()
    finally:
        up.weight.set_data(Tensor(restore))
    assert out.shape == (1, 256, 10, 14)
    np.testing.assert_allclose(out[:, 0, 2:-2, 2:-2], 3.0, rtol=1e-6)
    assert not out[:, 1:].any()


def test_heads_outputs_and_arguments(net):
    for name, channels in CTDET_HEADS:
        head = getattr(net, name)
        assert head[0].weight.shape == (64, 64, 3, 3) and head[2].weight.shape == (channels, 64, 1, 1)
        expected_bias = -2.19 if name == "hm" else 0.0
        np.testing.assert_allclose(head[2].bias.asnumpy(), np.full(channels, expected_bias, np.float32), rtol=1e-6)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 64, 96)).astype(np.float32))
    with execution_mode(ms.PYNATIVE_MODE):
        outputs = net(x)
    assert [tuple(o.shape) for o in outputs] == [(2, c, 16, 24) for _, c in CTDET_HEADS]
    assert outputs[0].asnumpy().min() < 0  # raw logits
    with pytest.raises(ValueError, match="down_ratio=8"):
        ResNetDCN(CTDET_HEADS, down_ratio=8)
    with pytest.raises(ValueError, match="head_conv=0"):
        ResNetDCN(CTDET_HEADS, head_conv=0)
    with pytest.raises(ValueError, match="head name 'layer1': expected an identifier that is not a ResNetDCN"):
        ResNetDCN((("hm", 1), ("layer1", 2)))


def test_architecture_names():
    assert ARCHS[:2] == ("dla_34", "resdcn_18") and "resdcn_101" in ARCHS
    assert parse_arch("resdcn_101") == ("resdcn", 101) and parse_arch("dla_34") == ("dla", 34)
    assert (default_head_conv("dla_34"), default_head_conv("resdcn_18")) == (256, 64)
    assert backbone_prefixes("dla_34") == ("base.",) and "layer4." in backbone_prefixes("resdcn_18")
    with pytest.raises(ValueError, match="arch 'res_18': expected one of dla_34, resdcn_18"):
        parse_arch("res_18")
    dla = build_centernet_network("dla_34", CTDET_HEADS, enable_dcn=False)
    res = build_centernet_network("resdcn_34", CTDET_HEADS, head_conv=32)
    assert type(dla) is DLASeg and dla.hm[0].weight.shape == (256, 64, 3, 3) and not dla.enable_dcn
    assert type(res) is ResNetDCN and res.num_layers == 34 and res.hm[0].weight.shape == (32, 64, 3, 3)
    names = [n for n, _ in res.parameters_and_names()]
    assert sum(n.startswith(backbone_prefixes("resdcn_34")) for n in names) == len(list(ResNet(34).get_parameters()))


def test_bottleneck_variant_reads_2048_channels():
    res101 = ResNetDCN(CTDET_HEADS, num_layers=101)
    assert res101.deconv_layers[0].weight.shape == (256, 2048, 3, 3)
    assert count_parameters(res101) == (count_parameters(ResNet(101)) + head_parameters(CTDET_HEADS)
                                        + deconv_parameters(True, ((2048, 256), (256, 128), (128, 64))))


def test_training_gradients_reach_every_parameter():
    """Batch 2 in training mode, non-zero offsets: every gradient finite and non-zero (no dead path)."""
    with execution_mode(ms.PYNATIVE_MODE):
        ms.set_seed(1)
        network = ResNetDCN(CTDET_HEADS, head_conv=16)
        network.set_train(True)
        rng = np.random.default_rng(1)
        for name, param in network.parameters_and_names():
            if name.endswith("conv_offset_mask.weight"):
                param.set_data(Tensor((rng.standard_normal(param.shape) * 0.01).astype(np.float32)))
        params = network.trainable_params()

        def loss_fn(x):
            return sum(ops.mean(out * out) for out in network(x))

        x = Tensor(rng.standard_normal((2, 3, 64, 64)).astype(np.float32))
        _, grads = ms.value_and_grad(loss_fn, None, params)(x)
    grads = {p.name: g.asnumpy() for p, g in zip(params, grads)}
    assert len(grads) == len(params) == 99  # 151 tensors minus 2 x 26 BN moving statistics
    assert all(np.isfinite(g).all() for g in grads.values())
    assert sorted(name for name, g in grads.items() if not g.any()) == []


def test_one_graph_serves_every_input_size():
    """Dynamic input shapes (original-size testing, predict.py): one GRAPH compilation for two sizes, each equal to
    the PyNative result of the same network. Without DCN: MindSpore 2.10's own deformable conv cannot be compiled
    with dynamic shapes ("Shape should have only one -2 ... got (-1, 512, -3, -3)"); with DCN one graph serves every
    size through the compiled kernel (tests/models/kernels/test_resnet_dcn_kernels.py)."""
    ms.set_seed(2)
    network = ResNetDCN(CTDET_HEADS, head_conv=16, enable_dcn=False)
    network.set_train(False)
    sizes = ((1, 3, 64, 96), (2, 3, 96, 64))
    inputs = [Tensor(np.random.default_rng(i).standard_normal(s).astype(np.float32)) for i, s in enumerate(sizes)]
    with execution_mode(ms.PYNATIVE_MODE):
        expected = [[o.asnumpy() for o in network(x)] for x in inputs]
    with execution_mode(ms.GRAPH_MODE):
        network.set_inputs(Tensor(shape=[None, 3, None, None], dtype=ms.float32))
        got = [[o.asnumpy() for o in network(x)] for x in inputs]
        assert len(network.compile_cache) == 1
    for want_all, got_all in zip(expected, got):
        for want, have in zip(want_all, got_all):
            np.testing.assert_allclose(have, want, rtol=0, atol=1e-5 * np.abs(want).max())


# ---------------------------------------------------------------------------------------------- parity

def test_parity_with_original_transcription_64_dcn_graph(tmp_path):
    with execution_mode(ms.GRAPH_MODE):
        ref, x, ckpt = build_reference_checkpoint(tmp_path, 64, True, "resdcn_18", CTDET_HEADS)
        assert_parity(ref, x, ckpt, "resdcn_18", CTDET_HEADS, True)


def test_parity_with_original_transcription_64_plain_convs(tmp_path):
    with execution_mode(ms.PYNATIVE_MODE):
        config = write_ctdet_config(tmp_path, arch="resdcn_18", head_conv=64, enable_dcn=False)
        ref, x, ckpt = build_reference_checkpoint(tmp_path, 64, False, "resdcn_18", CTDET_HEADS, config_path=config)
        assert_parity(ref, x, ckpt, "resdcn_18", CTDET_HEADS, False)


@pytest.mark.slow
def test_parity_with_original_transcription_512_graph(tmp_path):
    """ctdet_coco_resdcn18's network at the original's 512x512, converted with the ctdet config check. Measured:
    8.8e-5 (hm), 9.9e-5 (wh), 1.3e-4 (reg) of each map's range; PyTorch float32 vs float64: 5-7e-5."""
    with execution_mode(ms.GRAPH_MODE):
        config = write_ctdet_config(tmp_path, arch="resdcn_18", head_conv=64)
        ref, x, ckpt = build_reference_checkpoint(tmp_path, 512, True, "resdcn_18", CTDET_HEADS, config_path=config)
        assert_parity(ref, x, ckpt, "resdcn_18", CTDET_HEADS, True)


@pytest.mark.slow
def test_resdcn_101_parity_64(tmp_path):
    """The Bottleneck variant (ctdet_coco_resdcn101's layout) through the converter. Offsets from the offset convs'
    biases only, U(-5, 5) px (different per kernel point and direction): the random features of the 2048-channel
    layer4 make weight-driven offsets chaotic (PyTorch float32 vs float64 differ by 1.5-3% then, 1e-4 without)."""
    with execution_mode(ms.GRAPH_MODE):
        ref, x, ckpt = build_reference_checkpoint(tmp_path, 64, True, "resdcn_101", CTDET_HEADS, seed=3,
                                                  offset_px=5.0, offset_jitter_px=0.0)
        assert_parity(ref, x, ckpt, "resdcn_101", CTDET_HEADS, True)
