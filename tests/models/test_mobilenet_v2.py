"""Tests for src/models/mobilenet_v2.py: tap strides/channels and block structure vs the official graph."""
import mindspore as ms
import numpy as np
import pytest

from src.models.mobilenet_v2 import MobileNetV2Backbone, _make_divisible


@pytest.fixture(scope="module")
def backbone():
    net = MobileNetV2Backbone()
    net.set_train(False)
    return net


def test_taps_strides_and_channels(backbone):
    x = ms.Tensor((np.random.default_rng(0).random((2, 3, 64, 96)) * 255).astype(np.float32))
    taps = backbone(x)
    assert [t.shape for t in taps] == [(2, 24, 16, 24), (2, 32, 8, 12), (2, 96, 4, 6), (2, 320, 2, 3)]
    assert backbone.tap_channels == (24, 32, 96, 320)


def test_blocks_match_official_graph(backbone, official_onnx):
    """18 feature layers (no features.18) and as many residual adds as the official backbone has."""
    import onnx

    graph = onnx.load(str(official_onnx)).graph
    first_upsample = next(i for i, n in enumerate(graph.node) if n.op_type == "ConvTranspose")
    official_residuals = sum(n.op_type == "Add" for n in graph.node[:first_upsample])
    assert len(backbone.features) == 18
    assert sum(bool(getattr(block, "use_residual", False)) for block in backbone.features) == official_residuals == 10
    # features.1 has no expansion conv (t = 1); all others expand by 6.
    assert not backbone.features[1].has_expand
    assert all(backbone.features[i].has_expand for i in range(2, 18))


def test_weight_shapes_follow_official_convs_in_order(backbone, official_onnx):
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(official_onnx)).graph
    inits = {i.name: i for i in graph.initializer}
    official = [tuple(numpy_helper.to_array(inits[n.input[1]]).shape) for n in graph.node if n.op_type == "Conv"][:51]
    ours = [tuple(p.shape) for name, p in backbone.parameters_and_names() if name.endswith("conv.weight")]
    assert ours == official


def test_relu6_bounds_every_activation():
    net = MobileNetV2Backbone(act="relu6")
    net.set_train(False)
    x = ms.Tensor((np.random.default_rng(1).random((1, 3, 32, 32)) * 255).astype(np.float32))
    y = net.features[1].depthwise(net.features[0](x)).asnumpy()
    assert y.min() >= 0 and y.max() <= 6


@pytest.mark.parametrize("value, expected", [(32, 32), (24, 24), (12, 16), (4, 8), (100, 104), (17, 16)])
def test_make_divisible(value, expected):
    # Nearest multiple of 8, at least 8, never more than 10 % below the value (MobileNetV2 width rule).
    assert _make_divisible(value) == expected
    assert expected % 8 == 0 and expected >= 0.9 * value
