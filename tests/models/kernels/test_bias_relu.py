"""Tests for src/models/fused_bias_relu.py (kernel `BiasReluNchw` in src/models/cpu_kernels.cc).

References: MindSpore's own nn.Conv2d followed by numpy bias + ReLU, and numpy gradients of the ReLU.
Tolerance: the conv is MindSpore's in both; only the epilogue differs (one float32 add): 1e-6 absolute.
"""

import numpy as np
import pytest

import mindspore as ms
from mindspore import Tensor, nn, ops

from src.centerface.network import CenterFace
from src.models.fold_bn import fold_batchnorm
from src.models.kernels.bias_relu import ConvBiasReLU, enable_fused_bias_relu
from src.models.layers import ConvBNAct
from src.tasks import get_task

HEADS = get_task("centerface").heads  # CenterFace's outputs, as its task computes them


def conv_with_bias(seed=0):
    conv = nn.Conv2d(5, 7, 3, 2, pad_mode="pad", padding=1, has_bias=True)
    rng = np.random.default_rng(seed)
    conv.weight.set_data(Tensor(rng.uniform(-1, 1, conv.weight.shape).astype(np.float32)))
    conv.bias.set_data(Tensor(rng.uniform(-1, 1, 7).astype(np.float32)))
    return conv


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE])
def test_forward_and_gradients(library, mode):
    previous = ms.get_context("mode")
    ms.set_context(mode=mode)
    try:
        conv = conv_with_bias()
        fused = ConvBiasReLU(conv, library)
        x = np.random.default_rng(1).uniform(-1, 1, (2, 5, 9, 8)).astype(np.float32)
        no_bias = ops.conv2d(Tensor(x), conv.weight, stride=2, pad_mode="pad", padding=1).asnumpy()
        pre = no_bias + conv.bias.asnumpy()[None, :, None, None]
        got = fused(Tensor(x)).asnumpy()
        np.testing.assert_allclose(got, np.maximum(pre, 0), rtol=0, atol=1e-6)
        assert 0.2 < (got == 0).mean() < 0.8  # the ReLU clipped some, not all

        dy = np.random.default_rng(2).uniform(-1, 1, got.shape).astype(np.float32)
        reference = nn.SequentialCell([conv_with_bias(), nn.ReLU()])

        def loss_of(cell):
            def loss(inp):
                return (cell(inp) * Tensor(dy)).sum()
            return loss

        dx, (dw, db) = ops.grad(loss_of(fused), 0, fused.trainable_params())(Tensor(x))
        rdx, (rdw, rdb) = ops.grad(loss_of(reference), 0, reference.trainable_params())(Tensor(x))
        for a, b in ((dx, rdx), (dw, rdw), (db, rdb)):
            np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(db.asnumpy(), (dy * (pre > 0)).sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-5)
    finally:
        ms.set_context(mode=previous)


def test_rejects_a_conv_without_bias(library):
    with pytest.raises(ValueError, match="with a bias"):
        ConvBiasReLU(nn.Conv2d(3, 4, 1), library)


def test_enable_on_folded_centerface(library):
    ms.set_seed(3)
    plain, fast = CenterFace(HEADS), CenterFace(HEADS)
    for p, q in zip(plain.get_parameters(), fast.get_parameters()):
        q.set_data(p.value())
    assert enable_fused_bias_relu(fast, library) == 0  # nothing to fuse before folding: BN sits in between
    for net in (plain, fast):
        net.set_train(False)
        fold_batchnorm(net)
    names = [p.name for p in fast.get_parameters()]
    # the stem, 16 expand and 17 depthwise convs, 4 laterals and the neck's fuse conv (the projections have
    # no ReLU); after enable_fast_depthwise the depthwise ones would already be fused (test_cpu_kernels.py)
    assert enable_fused_bias_relu(fast, library) == 39
    assert [p.name for p in fast.get_parameters()] == names
    blocks = [c for _, c in fast.cells_and_names() if isinstance(c, ConvBNAct) and isinstance(c.conv, ConvBiasReLU)]
    assert len(blocks) == 39 and all(c.act is None for c in blocks)
    x = Tensor(np.random.default_rng(4).uniform(0, 255, (1, 3, 64, 96)).astype(np.float32))
    for got, want in zip(fast(x), plain(x)):
        assert np.abs(got.asnumpy() - want.asnumpy()).max() <= 1e-5 * max(1.0, np.abs(want.asnumpy()).max())
