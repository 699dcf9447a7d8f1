"""Tests for src/models/fast_depthwise.py and its compiled kernel src/models/depthwise_cpu.cc.

(Building the library: tests/models/test_cpu_kernels.py.)

References: a float64 numpy depthwise conv written here (direct loops over the 3x3 taps on a zero-padded
input) and its adjoints for the gradients, plus MindSpore's own nn.Conv2d (the layer the kernel replaces).
Tolerance: inputs and weights are U(-1, 1); each output is a float32 sum of 9 products (gradients: of up to
a few hundred), so an absolute 1e-5 bounds the rounding with a wide margin while any wrong tap, border
or stride is off by O(0.1).
The library is compiled with g++ on first use; without a compiler these tests skip, except under CI
(`CI` set), where a missing kernel is a failure.
"""
import logging

import numpy as np
import pytest

import mindspore as ms
from mindspore import Tensor, nn, ops

from src.centerface.network import CenterFace
from src.models.fold_bn import fold_batchnorm
from src.models.kernels import library as cpu_kernels
from src.models.kernels.depthwise import FastDepthwiseConv2d, enable_fast_depthwise, is_fast_depthwise_candidate
from src.models.kernels.library import KernelBuildError
from src.tasks import get_task

HEADS = get_task("centerface").heads  # CenterFace's outputs, as its task computes them

ATOL = 1e-5


def np_depthwise(x, w, stride):
    """float64 reference: y[n,c,oy,ox] = sum_ij w[c,0,i,j] * xpad[n,c,s*oy+i,s*ox+j], zero padding 1."""
    n, c, h, wd = x.shape
    ho, wo = (h - 1) // stride + 1, (wd - 1) // stride + 1
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    y = np.zeros((n, c, ho, wo))
    for i in range(3):
        for j in range(3):
            tap = xp[:, :, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
            y += w[None, :, 0, i, j, None, None].astype(np.float64) * tap
    return y


def np_depthwise_grads(x, w, dy, stride):
    """Adjoints of np_depthwise: (dL/dx, dL/dw) for L = sum(y * dy)."""
    n, c, h, wd = x.shape
    ho, wo = dy.shape[2:]
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    for i in range(3):
        for j in range(3):
            rows = slice(i, i + stride * (ho - 1) + 1, stride)
            cols = slice(j, j + stride * (wo - 1) + 1, stride)
            dxp[:, :, rows, cols] += w[None, :, 0, i, j, None, None] * dy
            dw[:, 0, i, j] = (xp[:, :, rows, cols] * dy).sum(axis=(0, 2, 3))
    return dxp[:, :, 1:-1, 1:-1], dw


def depthwise_conv(channels, stride, bias=False, seed=0):
    conv = nn.Conv2d(channels, channels, 3, stride, pad_mode="pad", padding=1, group=channels, has_bias=bias)
    rng = np.random.default_rng(seed)
    conv.weight.set_data(Tensor(rng.uniform(-1, 1, conv.weight.shape).astype(np.float32)))
    if bias:
        conv.bias.set_data(Tensor(rng.uniform(-1, 1, conv.bias.shape).astype(np.float32)))
    return conv


SHAPES = [((2, 3, 7, 9), 1), ((2, 3, 7, 9), 2), ((1, 4, 8, 8), 2), ((1, 2, 1, 1), 1), ((1, 2, 2, 3), 2),
          ((3, 5, 12, 5), 1)]


@pytest.mark.parametrize("shape, stride", SHAPES)
def test_forward_and_gradients_match_numpy(library, shape, stride):
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, shape).astype(np.float32)
    conv = depthwise_conv(shape[1], stride)
    w = conv.weight.asnumpy()
    fast = FastDepthwiseConv2d(conv, library)
    y = fast(Tensor(x)).asnumpy()
    expected = np_depthwise(x, w, stride)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=0, atol=ATOL)

    dy = rng.uniform(-1, 1, y.shape).astype(np.float32)

    def weighted(inp):
        return (fast(inp) * Tensor(dy)).sum()

    dx, (dw,) = ops.grad(weighted, grad_position=0, weights=fast.trainable_params())(Tensor(x))
    ref_dx, ref_dw = np_depthwise_grads(x, w, dy, stride)
    np.testing.assert_allclose(dx.asnumpy(), ref_dx, rtol=0, atol=ATOL)
    np.testing.assert_allclose(dw.asnumpy(), ref_dw, rtol=0, atol=ATOL * 10)  # sums of up to 3*5*12*5 terms


class _ConvAndGrads(nn.Cell):
    """(y, dL/dx, dL/dw) for L = sum(conv(x) * dy): compiled as one graph in GRAPH_MODE."""

    def __init__(self, conv):
        super().__init__()
        self.conv = conv
        self.grad = ops.GradOperation(get_all=True, get_by_list=True)
        self.params = ms.ParameterTuple(conv.trainable_params())

    def loss(self, x, dy):
        return (self.conv(x) * dy).sum()

    def construct(self, x, dy):
        (dx, _), (dw,) = self.grad(self.loss, self.params)(x, dy)
        return self.conv(x), dx, dw


@pytest.mark.parametrize("stride", [1, 2])
def test_matches_mindspore_conv_in_both_modes(library, mode, stride):
    """Against the nn.Conv2d it replaces (oneDNN), forward and both gradients, inside a compiled graph."""
    rng = np.random.default_rng(2)
    x = Tensor(rng.uniform(-1, 1, (2, 16, 33, 20)).astype(np.float32))
    reference = depthwise_conv(16, stride, seed=3)
    fast = FastDepthwiseConv2d(depthwise_conv(16, stride, seed=3), library)
    dy = Tensor(rng.uniform(-1, 1, reference(x).shape).astype(np.float32))
    for got, want in zip(_ConvAndGrads(fast)(x, dy), _ConvAndGrads(reference)(x, dy)):
        np.testing.assert_allclose(got.asnumpy(), want.asnumpy(), rtol=0, atol=ATOL * 10)


@pytest.mark.parametrize("stride", [1, 2])
def test_fused_bias_relu(library, stride):
    x = np.random.default_rng(4).uniform(-1, 1, (2, 6, 10, 11)).astype(np.float32)
    conv = depthwise_conv(6, stride, bias=True, seed=5)
    expected = np.maximum(np_depthwise(x, conv.weight.asnumpy(), stride)
                          + conv.bias.asnumpy()[None, :, None, None], 0)
    fused = FastDepthwiseConv2d(conv, library, fuse_bias_relu=True)
    got = fused(Tensor(x)).asnumpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)
    assert (got == 0).mean() > 0.2  # the ReLU did clip something
    dy = np.random.default_rng(14).uniform(-1, 1, got.shape).astype(np.float32)
    reference = nn.SequentialCell([depthwise_conv(6, stride, bias=True, seed=5), nn.ReLU()])

    def loss_of(cell):
        def loss(inp):
            return (cell(inp) * Tensor(dy)).sum()
        return loss

    grads = ops.grad(loss_of(fused), 0, fused.trainable_params())(Tensor(x))
    ref_grads = ops.grad(loss_of(reference), 0, reference.trainable_params())(Tensor(x))
    np.testing.assert_allclose(grads[0].asnumpy(), ref_grads[0].asnumpy(), rtol=0, atol=ATOL)
    for got_param, want_param in zip(grads[1], ref_grads[1]):  # weight, bias
        np.testing.assert_allclose(got_param.asnumpy(), want_param.asnumpy(), rtol=0, atol=ATOL * 10)
    unfused = FastDepthwiseConv2d(conv, library)  # bias added by MindSpore after the kernel, no ReLU
    with_bias = np_depthwise(x, conv.weight.asnumpy(), stride) + conv.bias.asnumpy()[None, :, None, None]
    np.testing.assert_allclose(unfused(Tensor(x)).asnumpy(), with_bias, rtol=0, atol=ATOL)


def test_float16_input_is_computed_in_float32(library):
    x = np.random.default_rng(6).uniform(-1, 1, (1, 4, 6, 6)).astype(np.float16)
    conv = depthwise_conv(4, 1, seed=7)
    got = FastDepthwiseConv2d(conv, library)(Tensor(x))
    assert got.dtype == ms.float16
    np.testing.assert_allclose(got.asnumpy(), np_depthwise(x.astype(np.float32), conv.weight.asnumpy(), 1),
                               rtol=0, atol=5e-3)  # float16 output rounding (values up to ~4: ulp 2e-3)


def test_candidate_rules():
    assert is_fast_depthwise_candidate(depthwise_conv(8, 1))
    assert is_fast_depthwise_candidate(depthwise_conv(8, 2, bias=True))
    assert not is_fast_depthwise_candidate(nn.Conv2d(8, 8, 3, 1, pad_mode="pad", padding=1))  # not grouped
    assert not is_fast_depthwise_candidate(nn.Conv2d(8, 8, 3, 3, pad_mode="pad", padding=1, group=8))
    assert not is_fast_depthwise_candidate(nn.Conv2d(8, 8, 5, 1, pad_mode="pad", padding=2, group=8))
    assert not is_fast_depthwise_candidate(nn.Conv2d(8, 8, 3, 1, pad_mode="same", group=8))
    assert not is_fast_depthwise_candidate(nn.Conv2d(8, 8, 3, 1, pad_mode="pad", padding=1, dilation=2, group=8))
    assert not is_fast_depthwise_candidate(nn.Conv2d(8, 16, 3, 1, pad_mode="pad", padding=1, group=8))
    assert not is_fast_depthwise_candidate(nn.ReLU())
    with pytest.raises(ValueError, match="not a 3x3 depthwise"):
        FastDepthwiseConv2d(nn.Conv2d(8, 8, 1), "unused.so")
    with pytest.raises(ValueError, match="needs a conv with a bias"):
        FastDepthwiseConv2d(depthwise_conv(8, 1), "unused.so", fuse_bias_relu=True)


def _copy_weights(src, dst):
    for p, q in zip(src.get_parameters(), dst.get_parameters()):
        q.set_data(p.value())


def test_enable_on_centerface_keeps_parameters_and_outputs(library):
    ms.set_seed(0)
    plain, fast = CenterFace(HEADS), CenterFace(HEADS)
    _copy_weights(plain, fast)
    params_before = [(p, p.name) for p in fast.get_parameters()]
    assert enable_fast_depthwise(fast, library) == 17  # one per inverted residual block
    assert [(p, p.name) for p in fast.get_parameters()] == params_before  # same objects, same names
    assert isinstance(fast.backbone.features[1].depthwise.conv, FastDepthwiseConv2d)
    assert not isinstance(fast.backbone.features[0].conv, FastDepthwiseConv2d)  # full 3x3 conv stays
    assert enable_fast_depthwise(fast, library) == 0  # idempotent
    x = Tensor(np.random.default_rng(8).uniform(0, 255, (2, 3, 64, 64)).astype(np.float32))
    for train in (True, False):  # batch statistics, then moving statistics
        plain.set_train(train)
        fast.set_train(train)
        for got, want in zip(fast(x), plain(x)):
            # activations reach ~1e2 on raw 0..255 input: a relative bound
            assert np.abs(got.asnumpy() - want.asnumpy()).max() <= 1e-5 * max(1.0, np.abs(want.asnumpy()).max())


def test_enable_after_folding_fuses_bias_and_relu(library):
    ms.set_seed(1)
    plain, fast = CenterFace(HEADS), CenterFace(HEADS)
    _copy_weights(plain, fast)
    for net in (plain, fast):
        net.set_train(False)
        fold_batchnorm(net)
    assert enable_fast_depthwise(fast, library) == 17
    block = fast.backbone.features[5].depthwise
    assert block.conv.fuse_bias_relu and block.act is None
    x = Tensor(np.random.default_rng(9).uniform(0, 255, (1, 3, 96, 64)).astype(np.float32))
    for got, want in zip(fast(x), plain(x)):
        assert np.abs(got.asnumpy() - want.asnumpy()).max() <= 1e-5 * max(1.0, np.abs(want.asnumpy()).max())


def test_enable_without_library_warns_and_changes_nothing(monkeypatch, tmp_path, caplog):
    def no_compiler(cache_dir):
        raise KernelBuildError("C++ compiler 'g++' not found: install g++")

    monkeypatch.setattr(cpu_kernels, "build_kernel_library", no_compiler)
    monkeypatch.setattr(cpu_kernels, "_warned", set())
    net = CenterFace(HEADS)
    with caplog.at_level(logging.WARNING, logger="src.models.kernels"):
        assert enable_fast_depthwise(net, cache_dir=tmp_path) == 0
    assert [r.getMessage() for r in caplog.records] == [
        "compiled CPU kernels off, using MindSpore's ops: C++ compiler 'g++' not found: install g++"]
    assert not any(isinstance(c, FastDepthwiseConv2d) for _, c in net.cells_and_names())
