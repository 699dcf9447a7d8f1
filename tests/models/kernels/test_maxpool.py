"""Tests for src/models/kernels/maxpool.py and its compiled kernel src/models/kernels/maxpool_cpu.cc.

References:
* PyTorch's `max_pool2d(x, 3, 2, 1)` (forward and input gradient), the operation the ResNet stem runs in the
  original: exact equality (a max-pool selects values; its gradient routes them), any sign, even, odd and tiny
  sizes, ties included (both take the first maximum of a window in row-major order);
* MindSpore's own `StemMaxPool` (zero border + valid pool), the cell the kernel replaces, on non-negative input
  (the stem's, after a ReLU): equal outputs; equal gradients where every window's maximum is unique (where values
  tie, as in windows of zeros, each picks one maximum and the choice is not specified).
"""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from src.models.kernels.maxpool import FastStemMaxPool, enable_fast_maxpool
from src.models.resnet import ResNet, StemMaxPool
from tests.requirements import require

SHAPES = [(2, 3, 9, 7), (1, 4, 8, 8), (1, 2, 1, 1), (1, 1, 2, 3), (2, 5, 33, 20)]


def input_gradient(cell, x, dy):
    probe = Tensor(dy)

    def weighted_sum(t):
        return (cell(t) * probe).sum()

    return ms.grad(weighted_sum)(Tensor(x)).asnumpy()


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_equals_pytorch_forward_and_gradient(library, mode, shape):
    torch = require("torch")
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(np.float32)
    x[..., ::3, ::2] = 0.0  # ties between zeros and with the values around them
    pool = FastStemMaxPool(StemMaxPool(), library)
    tx = torch.from_numpy(x).requires_grad_()
    ty = torch.nn.functional.max_pool2d(tx, 3, 2, 1)
    dy = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.from_numpy(dy))
    np.testing.assert_array_equal(pool(Tensor(x)).asnumpy(), ty.detach().numpy())
    np.testing.assert_array_equal(input_gradient(pool, x, dy), tx.grad.numpy())


@pytest.mark.parametrize("shape", SHAPES[:2] + SHAPES[-1:], ids=lambda s: "x".join(map(str, s)))
def test_equals_mindspores_stem_pool_on_nonnegative_input(library, mode, shape):
    rng = np.random.default_rng(len(shape) + shape[-1])
    x = rng.uniform(0.1, 1.0, shape).astype(np.float32)  # continuous values: every window's maximum is unique
    dy = rng.standard_normal(((shape[0], shape[1], (shape[2] - 1) // 2 + 1, (shape[3] - 1) // 2 + 1))
                             ).astype(np.float32)
    plain = StemMaxPool()
    fast = FastStemMaxPool(plain, library)
    np.testing.assert_array_equal(fast(Tensor(x)).asnumpy(), plain(Tensor(x)).asnumpy())
    np.testing.assert_array_equal(input_gradient(fast, x, dy), input_gradient(plain, x, dy))


def test_one_graph_serves_every_input_size(library):
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        fast = FastStemMaxPool(StemMaxPool(), library)
        fast.set_inputs(Tensor(shape=[None, 3, None, None], dtype=ms.float32))
        for shape in ((2, 3, 8, 10), (1, 3, 7, 5)):
            x = np.random.default_rng(shape[2]).uniform(0, 1, shape).astype(np.float32)
            np.testing.assert_array_equal(fast(Tensor(x)).asnumpy(), StemMaxPool()(Tensor(x)).asnumpy())
        assert len(fast.compile_cache) == 1
    finally:
        ms.set_context(mode=previous)


def test_swap_reaches_the_resnet_stem_only(library):
    net = ResNet(18)
    names = [p.name for p in net.get_parameters()]
    assert enable_fast_maxpool(net, library) == 1
    assert type(net.maxpool) is FastStemMaxPool and [p.name for p in net.get_parameters()] == names
    assert enable_fast_maxpool(net, library) == 0  # already swapped
    assert enable_fast_maxpool(nn.SequentialCell([nn.MaxPool2d(3, 2)]), library) == 0
    with pytest.raises(ValueError, match="expected a StemMaxPool, got MaxPool2d"):
        FastStemMaxPool(nn.MaxPool2d(3, 2), library)


def test_float16_input_is_pooled_in_float32(library):
    x = np.random.default_rng(3).uniform(0, 4, (1, 2, 6, 6)).astype(np.float16)
    out = FastStemMaxPool(StemMaxPool(), library)(Tensor(x))
    assert out.dtype == ms.float16
    np.testing.assert_array_equal(out.asnumpy(), StemMaxPool()(Tensor(x.astype(np.float32))).asnumpy().astype(
        np.float16))
