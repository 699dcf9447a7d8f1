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
    # Official CenterFace taps (docs/design.md "The official CenterFace model"): strides 4/8/16/32 with 24/32/96/320
    # channels.
    x = ms.Tensor((np.random.default_rng(0).random((2, 3, 64, 96)) * 255).astype(np.float32))
    taps = backbone(x)
    assert [t.shape for t in taps] == [(2, 24, 16, 24), (2, 32, 8, 12), (2, 96, 4, 6), (2, 320, 2, 3)]
    # The neck builds its laterals from `tap_channels`: it must describe what the backbone returns.
    assert backbone.tap_channels == tuple(t.shape[1] for t in taps)


def test_width_multiplier_scales_every_layer():
    # Width 0.5, hand-computed with the rule (nearest multiple of 8, at least 8, never 10 % below):
    # stem 32 -> 16; blocks 16 -> 8, 24 -> 12 -> 16, 32 -> 16, 64 -> 32, 96 -> 48, 160 -> 80, 320 -> 160.
    net = MobileNetV2Backbone(width_mult=0.5)
    net.set_train(False)
    taps = net(ms.Tensor(np.zeros((1, 3, 64, 64), np.float32)))
    assert [t.shape for t in taps] == [(1, 16, 16, 16), (1, 16, 8, 8), (1, 48, 4, 4), (1, 160, 2, 2)]
    assert net.tap_channels == (16, 16, 48, 160)
    # Output width of each feature layer: the stem's conv, then each block's projection.
    widths = [net.features[0].conv.out_channels] + [block.project.conv.out_channels for block in net.features[1:]]
    assert widths == [16, 8] + [16] * 2 + [16] * 3 + [32] * 4 + [48] * 3 + [80] * 3 + [160]


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


@pytest.mark.parametrize("value, expected", [(32, 32), (24, 24), (12, 16), (4, 8), (100, 104), (17, 16),
                                             (18, 24), (9, 16), (20, 24), (8.4, 8)])
def test_make_divisible(value, expected):
    # Hand-computed with the MobileNetV2 width rule: the nearest multiple of 8 (halves round up), at least 8,
    # one multiple higher when the nearest is more than 10 % below the value (18 -> 16 < 16.2 -> 24).
    assert _make_divisible(value) == expected


@pytest.mark.parametrize("divisor", [4, 8, 16])
def test_make_divisible_properties(divisor):
    # The rule's three promises over a sweep of widths (integers and channel counts times width multipliers):
    # a multiple of the divisor, at least the divisor, at least 90 % of the value; and the nearest such multiple
    # unless that one is more than 10 % below, in which case the next one up (the smallest allowed).
    values = list(range(1, 1025)) + [c * w for c in (16, 24, 32, 64, 96, 160, 320, 1280)
                                     for w in (0.35, 0.5, 0.75, 1.3, 1.4)]
    for value in values:
        result = _make_divisible(value, divisor)
        assert result % divisor == 0 and result >= divisor and result >= 0.9 * value, (value, result)
        nearest = abs(result - value) <= divisor / 2
        smallest_allowed = result - divisor < max(divisor, 0.9 * value)
        assert nearest or smallest_allowed, (value, result)
