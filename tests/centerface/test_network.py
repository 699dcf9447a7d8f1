"""Tests for src/centerface/network.py: output layout, initial head values, variants, parameter count.

The parameter count is checked against the official ONNX graph, not against a number copied from our code.
"""
import math

import mindspore as ms
import numpy as np
import pytest

from src.centerface.network import CenterFace
from src.models.layers import count_parameters
from src.tasks import get_task

HEADS = get_task("centerface").heads  # CenterFace's outputs, as its task computes them

HEADS = (("heatmap", 1), ("scale", 2), ("offset", 2), ("landmarks", 10))


def random_input(shape, seed=0):
    return ms.Tensor((np.random.default_rng(seed).random(shape) * 255).astype(np.float32))


@pytest.fixture(scope="module")
def net24():
    net = CenterFace(HEADS, neck_width=24)
    net.set_train(False)
    return net


@pytest.mark.parametrize("shape", [(1, 3, 64, 96), (2, 3, 128, 128)])
def test_output_layout_stride_4(net24, shape):
    outputs = net24(random_input(shape))
    n, _, h, w = shape
    assert len(outputs) == 4
    for out, (name, channels) in zip(outputs, HEADS):
        assert out.shape == (n, channels, h // 4, w // 4), name
        assert out.dtype == ms.float32
    heatmap = outputs[0].asnumpy()
    assert heatmap.min() > 0 and heatmap.max() < 1  # after sigmoid


def test_heads_start_at_prior_and_near_zero():
    """Heatmap bias = logit(prior) (CenterNet's -2.19 for 0.1); the other heads start close to zero."""
    for prior in (0.1, 0.01):
        net = CenterFace(HEADS, heatmap_prior=prior)
        bias = net.head_heatmap.bias.asnumpy()
        np.testing.assert_allclose(1 / (1 + np.exp(-bias)), [prior], rtol=1e-6)
        net.set_train(True)  # BN on batch statistics: the neck output is normalised as at the first step
        heatmap, *regression = [o.asnumpy() for o in net(random_input((2, 3, 64, 64), seed=1))]
        logit = np.log(heatmap / (1 - heatmap))
        assert np.abs(logit - math.log(prior / (1 - prior))).max() < 0.5
        for head in regression:
            assert np.abs(head).max() < 0.1


def test_neck_width_64_variant(net24):
    net = CenterFace(HEADS, neck_width=64)
    net.set_train(False)
    outputs = net(random_input((1, 3, 64, 64)))
    assert [o.shape for o in outputs] == [(1, c, 16, 16) for _, c in HEADS]
    assert net.neck.fuse.conv.weight.shape == (64, 64, 3, 3)
    assert [lat.conv.weight.shape for lat in net.neck.laterals] == [(64, c, 1, 1) for c in (24, 32, 96, 320)]
    assert net.head_landmarks.weight.shape == (10, 64, 1, 1)
    # Only the neck and heads grow: 4 laterals, 3 upsamplers and the fuse conv, each with BN; 4 heads.
    d24, d64 = 24, 64

    def neck_heads(d):
        return sum(c * d + 2 * d for c in (24, 32, 96, 320)) + 3 * (4 * d * d + 2 * d) + 9 * d * d + 2 * d + 15 * d + 15

    assert count_parameters(net) - count_parameters(net24) == neck_heads(d64) - neck_heads(d24)


def test_parameter_count_matches_official_graph(net24, official_onnx):
    """1,835,895 = the official architecture's parameters with every BN unfolded, derived from the ONNX.

    In the ONNX every conv except the heads carries a folded BN (its bias); unfolded, that BN has gamma and
    beta, i.e. 2 values per output channel, and the conv has no bias. Heads are conv + bias. The neck's
    ConvTranspose + BN are stored unfolded (weight, scale, B; the running stats are not parameters).
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(official_onnx)).graph
    sizes = {i.name: numpy_helper.to_array(i).size for i in graph.initializer}
    expected = 0
    for node in graph.node:
        if node.op_type == "Conv":
            weight, bias = node.input[1], node.input[2]
            expected += sizes[weight] + (sizes[bias] if weight.startswith("head.") else 2 * sizes[bias])
        elif node.op_type == "ConvTranspose":
            expected += sizes[node.input[1]] + (sizes[node.input[2]] if len(node.input) > 2 else 0)
        elif node.op_type == "BatchNormalization":
            expected += sizes[node.input[1]] + sizes[node.input[2]]
    assert expected == 1_835_895
    assert count_parameters(net24) == expected
    assert sum(p.size for p in net24.trainable_params()) == expected


def test_relu6_variant_clips_and_shares_weights(net24):
    net6 = CenterFace(HEADS, act="relu6")
    net6.set_train(False)
    shapes24 = [(n, p.shape) for n, p in net24.parameters_and_names()]
    assert [(n, p.shape) for n, p in net6.parameters_and_names()] == shapes24  # same checkpoint layout
    for p6, p in zip(net6.get_parameters(), net24.get_parameters()):
        p6.set_data(ms.Tensor(p.asnumpy()))
    x = random_input((1, 3, 64, 64), seed=2)
    stem6 = net6.backbone.features[0](x).asnumpy()
    stem = net24.backbone.features[0](x).asnumpy()
    assert stem.max() > 6 and stem6.max() == 6  # raw 0..255 input exceeds 6 in the stem
    np.testing.assert_array_equal(stem6, np.minimum(stem, 6))
    out6 = [o.asnumpy() for o in net6(x)]
    out = [o.asnumpy() for o in net24(x)]
    assert any(not np.allclose(a, b) for a, b in zip(out6, out))


def test_unknown_activation_rejected():
    with pytest.raises(ValueError, match="activation.*'gelu'"):
        CenterFace(HEADS, act="gelu")
