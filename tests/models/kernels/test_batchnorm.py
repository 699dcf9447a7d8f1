"""Tests for src/models/fast_batchnorm.py and its compiled kernel src/models/batchnorm_cpu.cc.

References: float64 numpy BatchNorm written here (batch mean, biased variance for normalising, unbiased
variance for the moving average, momentum as in nn.BatchNorm2d) with its analytic gradients, and
MindSpore's own nn.BatchNorm2d (+ ReLU), the layers the kernel replaces.
Tolerance: outputs are O(1) after normalisation and computed in float32 from sums in double: absolute
1e-5 (measured ~1e-6); a wrong statistic, momentum or gradient term is off by O(0.01) or more.
"""

import numpy as np
import pytest

import mindspore as ms
from mindspore import Tensor, nn, ops

from src.centerface.network import CenterFace
from src.models.kernels.batchnorm import FastBatchNorm2d, enable_fast_batchnorm, is_fast_batchnorm_candidate
from src.models.layers import ConvBNAct
from src.tasks import get_task
from tests.models.kernels.gradients import LayerGrads  # (y, dx, every parameter's gradient)

HEADS = get_task("centerface").heads  # CenterFace's outputs, as its task computes them

pytestmark = pytest.mark.numerics  # make test-portable (pyproject.toml)

ATOL = 1e-5


def np_batchnorm_train(x, gamma, beta, eps, relu, dy):
    """float64 forward y, batch mean, unbiased variance, and (dx, dgamma, dbeta) for L = sum(y * dy)."""
    x = x.astype(np.float64)
    axes = (0, 2, 3)
    m = x.size // x.shape[1]
    mean = x.mean(axis=axes)
    var = x.var(axis=axes)
    xhat = (x - mean[None, :, None, None]) / np.sqrt(var + eps)[None, :, None, None]
    pre = xhat * gamma[None, :, None, None] + beta[None, :, None, None]
    y = np.maximum(pre, 0) if relu else pre
    g = dy * (pre > 0) if relu else dy.astype(np.float64)
    dbeta = g.sum(axis=axes)
    dgamma = (g * xhat).sum(axis=axes)
    dxhat = g * gamma[None, :, None, None]
    dx = (dxhat - dxhat.mean(axis=axes)[None, :, None, None]
          - xhat * (dxhat * xhat).mean(axis=axes)[None, :, None, None]) / np.sqrt(var + eps)[None, :, None, None]
    return y, mean, var * m / (m - 1), (dx, dgamma, dbeta)


def batchnorm(channels, seed=0, momentum=0.9, eps=1e-5):
    bn = nn.BatchNorm2d(channels, eps=eps, momentum=momentum)
    rng = np.random.default_rng(seed)
    bn.gamma.set_data(Tensor(rng.uniform(0.5, 1.5, channels).astype(np.float32)))
    bn.beta.set_data(Tensor(rng.uniform(-0.5, 0.5, channels).astype(np.float32)))
    bn.moving_mean.set_data(Tensor(rng.normal(0, 1, channels).astype(np.float32)))
    bn.moving_variance.set_data(Tensor(rng.uniform(0.5, 2, channels).astype(np.float32)))
    return bn


class _BnAndGrads(nn.Cell):
    """(y, dx, dgamma, dbeta) for L = sum(cell(x) * dy), one graph in GRAPH_MODE."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell
        self.grad = ops.GradOperation(get_all=True, get_by_list=True)
        self.params = ms.ParameterTuple(cell.trainable_params())

    def loss(self, x, dy):
        return (self.cell(x) * dy).sum()

    def construct(self, x, dy):
        (dx, _), (dgamma, dbeta) = self.grad(self.loss, self.params)(x, dy)
        return self.cell(x), dx, dgamma, dbeta


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (4, 8, 1, 1), (1, 6, 17, 4)])
def test_training_forward_gradients_and_moving_statistics_match_numpy(library, relu, shape):
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, shape).astype(np.float32)  # a large mean: the variance must be taken around it
    dy = rng.normal(0, 1, shape).astype(np.float32)
    bn = batchnorm(shape[1], seed=2, momentum=0.8, eps=1e-3)
    gamma, beta = bn.gamma.asnumpy(), bn.beta.asnumpy()
    old_mean, old_var = bn.moving_mean.asnumpy().copy(), bn.moving_variance.asnumpy().copy()
    fast = FastBatchNorm2d(bn, library, fuse_relu=relu)
    fast.set_train(True)
    y_ref, mean, var_unbiased, grads_ref = np_batchnorm_train(x, gamma, beta, 1e-3, relu, dy)

    y = fast(Tensor(x)).asnumpy()
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=ATOL)
    # one update with momentum 0.8: moving = 0.8 * moving + 0.2 * batch (unbiased variance)
    np.testing.assert_allclose(bn.moving_mean.asnumpy(), 0.8 * old_mean + 0.2 * mean, rtol=0, atol=ATOL)
    np.testing.assert_allclose(bn.moving_variance.asnumpy(), 0.8 * old_var + 0.2 * var_unbiased, rtol=1e-5,
                               atol=ATOL)

    def weighted(inp):
        return (fast(inp) * Tensor(dy)).sum()

    dx, (dgamma, dbeta) = ops.grad(weighted, grad_position=0, weights=fast.trainable_params())(Tensor(x))
    for got, want in zip((dx, dgamma, dbeta), grads_ref):
        np.testing.assert_allclose(got.asnumpy(), want, rtol=0, atol=ATOL * 10)  # sums of up to 70 terms


@pytest.mark.parametrize("relu", [False, True])
def test_matches_mindspore_batchnorm_in_both_modes(library, mode, relu):
    rng = np.random.default_rng(3)
    x = Tensor(rng.normal(1.0, 2.0, (4, 16, 12, 10)).astype(np.float32))
    dy = Tensor(rng.normal(0, 1, (4, 16, 12, 10)).astype(np.float32))
    reference_bn, fast_bn = batchnorm(16, seed=4), batchnorm(16, seed=4)
    reference = nn.SequentialCell([reference_bn, nn.ReLU()]) if relu else reference_bn
    fast = FastBatchNorm2d(fast_bn, library, fuse_relu=relu)
    for train in (True, False):
        reference.set_train(train)
        fast.set_train(train)
        for got, want in zip(_BnAndGrads(fast)(x, dy), _BnAndGrads(reference)(x, dy)):
            np.testing.assert_allclose(got.asnumpy(), want.asnumpy(), rtol=1e-5, atol=ATOL * 10)
    for name in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(getattr(fast_bn, name).asnumpy(), getattr(reference_bn, name).asnumpy(),
                                   rtol=1e-5, atol=ATOL)


def test_candidate_rules(library):
    assert is_fast_batchnorm_candidate(nn.BatchNorm2d(4))
    assert not is_fast_batchnorm_candidate(nn.BatchNorm2d(4, affine=False))
    assert not is_fast_batchnorm_candidate(nn.BatchNorm2d(4, use_batch_statistics=True))
    assert not is_fast_batchnorm_candidate(nn.BatchNorm1d(4))
    assert not is_fast_batchnorm_candidate(FastBatchNorm2d(nn.BatchNorm2d(4), library))
    with pytest.raises(ValueError, match="not a plain affine NCHW float32"):
        FastBatchNorm2d(nn.BatchNorm2d(4, affine=False), library)


def test_enable_on_centerface(library):
    ms.set_seed(5)
    plain, fast = CenterFace(HEADS), CenterFace(HEADS)
    for p, q in zip(plain.get_parameters(), fast.get_parameters()):
        q.set_data(p.value())
    params_before = [(p, p.name) for p in fast.get_parameters()]
    assert enable_fast_batchnorm(fast, library) == 59
    assert [(p, p.name) for p in fast.get_parameters()] == params_before
    blocks = [c for _, c in fast.cells_and_names() if isinstance(c, ConvBNAct)]
    fused = [c for c in blocks if c.bn.fuse_relu]
    # every ConvBNAct with a ReLU: the stem, 16 expand and 17 depthwise convs, 4 laterals, the fuse conv
    assert len(fused) == 1 + 16 + 17 + 4 + 1 and all(c.act is None for c in fused)
    assert len(blocks) - len(fused) == 17  # the linear projections keep act=None and no ReLU
    assert not fast.neck.ups[0].bn.fuse_relu  # UpBlock calls its activation itself
    assert enable_fast_batchnorm(fast, library) == 0  # idempotent
    x = Tensor(np.random.default_rng(6).uniform(0, 255, (2, 3, 64, 64)).astype(np.float32))
    for train in (True, False):
        plain.set_train(train)
        fast.set_train(train)
        for got, want in zip(fast(x), plain(x)):
            assert np.abs(got.asnumpy() - want.asnumpy()).max() <= 1e-4 * max(1.0, np.abs(want.asnumpy()).max())
    for p, q in zip(plain.get_parameters(), fast.get_parameters()):
        if "moving_" in p.name:  # one train-mode forward each
            np.testing.assert_allclose(q.asnumpy(), p.asnumpy(), rtol=1e-4, atol=1e-5, err_msg=p.name)


def test_enable_keeps_the_training_mode(library):
    """Swapping after `set_train(True)` (as a training script does) must not leave inference-mode layers."""
    net = CenterFace(HEADS)
    net.set_train(True)
    enable_fast_batchnorm(net, library)
    swapped = [c for _, c in net.cells_and_names() if isinstance(c, FastBatchNorm2d)]
    assert len(swapped) == 59 and all(c.training for c in swapped)
    bn = batchnorm(4, seed=7)
    holder = ConvBNAct(4, 4, 1)
    holder.bn = bn
    holder.set_train(True)
    enable_fast_batchnorm(holder, library)
    x = np.random.default_rng(8).normal(2.0, 3.0, (2, 4, 3, 3)).astype(np.float32)
    y = holder.bn(Tensor(x)).asnumpy()  # batch statistics, not the moving ones
    np.testing.assert_allclose(y, np_batchnorm_train(x, bn.gamma.asnumpy(), bn.beta.asnumpy(), 1e-5, True,
                                                     np.zeros_like(x))[0], rtol=0, atol=ATOL)
    net.set_train(False)
    assert not any(c.training for c in swapped)


def test_enable_reaches_sequential_cells_and_fuses_the_following_relu(library, mode):
    """DLA-34 keeps its BNs in SequentialCells: [conv, BN, ReLU] (base_layer, levelN), [conv, BN] (project) and
    [BN, ReLU] (the DCN blocks' actf). Each BN is swapped, a ReLU right after it runs inside the kernel (its place
    taken by an Identity), parameter names stay; training-mode outputs, gradients and moving statistics equal
    MindSpore's (tolerance as above: sums over 2*8*6*5 values)."""
    def build():
        ms.set_seed(9)
        return nn.SequentialCell([
            nn.SequentialCell([nn.Conv2d(3, 8, 3, pad_mode="pad", padding=1), batchnorm(8, seed=1), nn.ReLU()]),
            nn.SequentialCell([nn.Conv2d(8, 8, 1), batchnorm(8, seed=2)]),
            nn.SequentialCell([batchnorm(8, seed=3), nn.ReLU()])])

    plain, fast = build(), build()
    names = [p.name for p in fast.get_parameters()]
    for net in (plain, fast):
        net.set_train(True)
    assert enable_fast_batchnorm(fast, library) == 3
    assert [p.name for p in fast.get_parameters()] == names
    assert [type(c).__name__ for c in fast[0]] == ["Conv2d", "FastBatchNorm2d", "Identity"] and fast[0][1].fuse_relu
    assert not fast[1][1].fuse_relu and fast[2][0].fuse_relu and isinstance(fast[2][1], nn.Identity)
    rng = np.random.default_rng(10)
    x = Tensor(rng.normal(0, 1, (2, 3, 6, 5)).astype(np.float32))
    dy = Tensor(rng.normal(0, 1, (2, 8, 6, 5)).astype(np.float32))

    got, want = LayerGrads(fast)(x, dy), LayerGrads(plain)(x, dy)
    assert len(got) == len(want) == 2 + 2 + 6  # y, dx; two conv weights; gamma and beta of three BNs
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.asnumpy(), w.asnumpy(), rtol=1e-5, atol=ATOL * 10)
    for p, q in zip(plain.get_parameters(), fast.get_parameters()):
        np.testing.assert_allclose(q.asnumpy(), p.asnumpy(), rtol=1e-5, atol=ATOL, err_msg=p.name)


@pytest.mark.parametrize("block", ["resnet_basic", "resnet_bottleneck", "dla_basic"])
def test_enable_fuses_the_relu_a_block_declares(library, mode, block):
    """The ResNet and DLA blocks name the ReLU that follows a BN and is used nowhere else (`BN_RELU`): it runs
    inside the kernel, its place taken by an Identity, while the shared ReLU after the residual sum stays a
    MindSpore op. Training-mode outputs and every gradient equal the block on MindSpore's ops (tolerance as
    above)."""
    from src.models import dla, resnet

    def build():
        ms.set_seed(4)
        if block == "resnet_basic":
            return resnet.BasicBlock(8, 8, 1)
        if block == "resnet_bottleneck":
            return resnet.Bottleneck(16, 4, 1)
        return dla.BasicBlock(8, 8, 1)

    plain, fast = build(), build()
    for net in (plain, fast):
        net.set_train(True)
    declared = dict(type(fast).BN_RELU)
    assert enable_fast_batchnorm(fast, library) == {"resnet_basic": 2, "resnet_bottleneck": 3, "dla_basic": 2}[block]
    for bn_name, relu_name in declared.items():
        assert getattr(fast, bn_name).fuse_relu and isinstance(getattr(fast, relu_name), nn.Identity)
    assert type(fast.relu) is nn.ReLU  # after the residual sum
    channels = 16 if block == "resnet_bottleneck" else 8
    rng = np.random.default_rng(11)
    x = rng.normal(0, 1, (2, channels, 6, 5)).astype(np.float32)
    dy = Tensor(rng.normal(0, 1, (2, channels, 6, 5)).astype(np.float32))
    if block == "dla_basic":  # construct(x, residual)
        residual = Tensor(rng.normal(0, 1, x.shape).astype(np.float32))
        plain, fast = (_WithResidual(net, residual) for net in (plain, fast))
    got, want = LayerGrads(fast)(Tensor(x), dy), LayerGrads(plain)(Tensor(x), dy)
    assert len(got) == len(want) > 2
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.asnumpy(), w.asnumpy(), rtol=1e-5, atol=ATOL * 10)


class _WithResidual(nn.Cell):
    def __init__(self, block, residual):
        super().__init__()
        self.block, self.residual = block, residual

    def construct(self, x):
        return self.block(x, self.residual)


def test_root_fuses_its_relu(library):
    from src.models.dla import Root

    root = Root(8, 4)
    root.set_train(True)
    assert enable_fast_batchnorm(root, library) == 1 and root.bn.fuse_relu and isinstance(root.relu, nn.Identity)
