"""Tests for src/models/kernels/winograd.py and its transforms src/models/kernels/winograd_cpu.cc.

References: a float64 numpy 3x3 convolution (tests/models/dcn_reference.py `conv3x3_numpy`) and MindSpore's own
nn.Conv2d, the layer the Winograd version replaces (outputs and the input, weight and bias gradients, batch > 1,
odd sizes that cut the last 2x2 tile, 1x1 maps, GRAPH and PYNATIVE, dynamic shapes).
Tolerance: 1e-5 of the largest |value| (measured 2-3e-7: F(2x2, 3x3)'s coefficients are 0, +-1 and +-1/2, so it
differs from a direct convolution by float32 summation order only); a wrong transform entry is off by O(0.1).
"""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from src.models.kernels.winograd import MIN_IN_CHANNELS, WinogradConv2d, enable_winograd_conv, is_winograd_candidate
from tests.models.dcn_reference import conv3x3_numpy
from tests.models.kernels.gradients import LayerGrads, assert_close

pytestmark = pytest.mark.numerics  # make test-portable (pyproject.toml)

RTOL = 1e-5


def conv(in_channels, out_channels, seed, has_bias=True, **kwargs):
    ms.set_seed(seed)
    layer = nn.Conv2d(in_channels, out_channels, 3, pad_mode="pad", padding=1, has_bias=has_bias,
                      bias_init="normal" if has_bias else None, **kwargs)
    return layer


def test_matches_float64_convolution(library, mode):
    layer = conv(32, 5, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 32, 7, 9)).astype(np.float32)
    reference = conv3x3_numpy(x, layer.weight.asnumpy(), layer.bias.asnumpy())
    assert_close(WinogradConv2d(layer, library)(Tensor(x)).asnumpy(), reference, RTOL)


@pytest.mark.parametrize("shape", [(2, 32, 7, 9), (1, 40, 6, 4), (3, 32, 1, 1), (2, 64, 16, 15)])
@pytest.mark.parametrize("has_bias", [True, False])
def test_outputs_and_every_gradient_match_mindspore(library, mode, shape, has_bias):
    layer = conv(shape[1], 6, seed=shape[1], has_bias=has_bias)
    fast = WinogradConv2d(layer, library)  # the same Parameters
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal(shape).astype(np.float32))
    dy = Tensor(rng.standard_normal((shape[0], 6) + shape[2:]).astype(np.float32))
    got, want = LayerGrads(fast)(x, dy), LayerGrads(layer)(x, dy)
    assert len(got) == len(want) == (4 if has_bias else 3)  # y, dx, d weight [, d bias]
    for g, w in zip(got, want):
        assert_close(g.asnumpy(), w.asnumpy(), RTOL)


def test_one_graph_serves_every_input_size(library):
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        layer = conv(32, 4, seed=3)
        fast = WinogradConv2d(layer, library)
        fast.set_inputs(Tensor(shape=[None, 32, None, None], dtype=ms.float32))
        for shape in ((2, 32, 7, 9), (1, 32, 10, 4)):
            x = Tensor(np.random.default_rng(shape[2]).standard_normal(shape).astype(np.float32))
            assert_close(fast(x).asnumpy(), layer(x).asnumpy(), RTOL)
        assert len(fast.compile_cache) == 1
    finally:
        ms.set_context(mode=previous)


def test_candidate_rules(library):
    assert is_winograd_candidate(conv(MIN_IN_CHANNELS, 8, 0))
    assert not is_winograd_candidate(conv(MIN_IN_CHANNELS - 1, 8, 0))  # too little work per transformed value
    assert not is_winograd_candidate(nn.Conv2d(32, 8, 3, stride=2, pad_mode="pad", padding=1))
    assert not is_winograd_candidate(nn.Conv2d(32, 8, 3, pad_mode="same"))
    assert not is_winograd_candidate(nn.Conv2d(32, 8, 1))
    assert not is_winograd_candidate(nn.Conv2d(32, 32, 3, pad_mode="pad", padding=1, group=32))
    assert not is_winograd_candidate(nn.Conv2d(32, 8, 3, pad_mode="pad", padding=1, dilation=2))
    assert not is_winograd_candidate(WinogradConv2d(conv(32, 8, 0), library))
    with pytest.raises(ValueError, match="not a dense 3x3 float32 conv"):
        WinogradConv2d(nn.Conv2d(32, 8, 1), library)


def test_swap_reaches_attributes_and_sequences_and_keeps_names(library):
    class Block(nn.Cell):
        def __init__(self):
            super().__init__()
            self.conv = conv(32, 32, 4)
            self.seq = nn.SequentialCell([conv(32, 32, 5), nn.ReLU(), nn.Conv2d(32, 8, 1)])
            self.small = conv(8, 8, 6)

        def construct(self, x):
            return self.seq(self.conv(x))

    block = Block()
    before = [(p, p.name) for p in block.get_parameters()]
    x = Tensor(np.random.default_rng(7).standard_normal((2, 32, 6, 6)).astype(np.float32))
    reference = block(x).asnumpy()
    assert enable_winograd_conv(block, library) == 2  # conv and seq[0]; not the 1x1 nor the 8-channel conv
    assert type(block.conv) is WinogradConv2d and type(block.seq[0]) is WinogradConv2d
    assert type(block.small) is nn.Conv2d
    assert [(p, p.name) for p in block.get_parameters()] == before
    assert_close(block(x).asnumpy(), reference, RTOL)
