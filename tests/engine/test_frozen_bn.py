"""Frozen BatchNorm (src/engine/frozen_bn.py): in training mode the layer is the inference-mode affine map of its
moving statistics (output and every gradient against a float64 numpy transcription), a train step leaves the
statistics bit for bit, parameters and names are unchanged, and the compiled BatchNorm kernel leaves frozen layers
alone."""
import numpy as np
import pytest

from mindspore import Tensor, nn, ops

from src.engine.frozen_bn import freeze_batchnorm
from src.engine.train_step import TrainStep
from tests.engine.toy import EpochDataset, ToyNet, build

pytestmark = pytest.mark.numerics  # make test-portable (pyproject.toml)

EPS = 1e-5


def _bn_with_statistics(seed=0, channels=3):
    rng = np.random.default_rng(seed)
    bn = nn.BatchNorm2d(channels, eps=EPS)
    for param, value in ((bn.moving_mean, rng.normal(size=channels)), (bn.moving_variance, rng.uniform(0.2, 3, channels)),
                         (bn.gamma, rng.normal(size=channels)), (bn.beta, rng.normal(size=channels))):
        param.set_data(Tensor(value.astype(np.float32)))
    return bn, rng


def test_frozen_layer_in_training_is_the_affine_map_of_its_moving_statistics(mode):
    bn, rng = _bn_with_statistics()
    assert freeze_batchnorm(bn) == 1
    bn.set_train(True)
    x = rng.normal(2.0, 3.0, size=(2, 3, 4, 5)).astype(np.float32)
    upstream = rng.normal(size=x.shape).astype(np.float32)
    mean, var, gamma, beta = (p.asnumpy().astype(np.float64) for p in
                              (bn.moving_mean, bn.moving_variance, bn.gamma, bn.beta))
    before = [bn.moving_mean.asnumpy().copy(), bn.moving_variance.asnumpy().copy()]

    def loss(inputs):
        return (bn(inputs) * Tensor(upstream)).sum()

    value, (grad_x, (grad_gamma, grad_beta)) = ops.value_and_grad(loss, 0, bn.trainable_params())(Tensor(x))
    shape = (1, -1, 1, 1)
    x_hat = (x.astype(np.float64) - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + EPS)
    y = gamma.reshape(shape) * x_hat + beta.reshape(shape)
    # float32 of O(10) values summed over 120 terms: 1e-4 relative covers the rounding; batch statistics (a normal
    # training-mode BN) would give another value by O(1)
    np.testing.assert_allclose(float(value.asnumpy()), (y * upstream).sum(), rtol=1e-4)
    np.testing.assert_allclose(grad_x.asnumpy(), upstream * (gamma / np.sqrt(var + EPS)).reshape(shape), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(grad_gamma.asnumpy(), (upstream * x_hat).sum(axis=(0, 2, 3)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grad_beta.asnumpy(), upstream.sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(bn.moving_mean.asnumpy(), before[0])
    np.testing.assert_array_equal(bn.moving_variance.asnumpy(), before[1])


def test_a_train_step_keeps_the_statistics_and_trains_gamma_and_beta():
    net, opt, scaler = build(seed=1, epochs=1)
    names = [p.name for p in net.get_parameters()]
    assert freeze_batchnorm(net) == 1 and [p.name for p in net.get_parameters()] == names
    bn = net.network.bn
    statistics = [bn.moving_mean.asnumpy().copy(), bn.moving_variance.asnumpy().copy()]
    affine = [bn.gamma.asnumpy().copy(), bn.beta.asnumpy().copy()]
    net.set_train(True)
    step = TrainStep(net, opt, scaler)
    x, y = next(iter(EpochDataset()))
    step(Tensor(x), Tensor(y))
    np.testing.assert_array_equal(bn.moving_mean.asnumpy(), statistics[0])
    np.testing.assert_array_equal(bn.moving_variance.asnumpy(), statistics[1])
    assert not np.array_equal(bn.gamma.asnumpy(), affine[0]) and not np.array_equal(bn.beta.asnumpy(), affine[1])
    net.set_train(False)
    inference = net.network(Tensor(x)).asnumpy()
    net.set_train(True)
    np.testing.assert_array_equal(net.network(Tensor(x)).asnumpy(), inference)  # trained = evaluated network


def test_unfrozen_layers_still_use_batch_statistics():
    """The control: without freezing, training mode moves the statistics (so the test above can fail)."""
    net, opt, scaler = build(seed=1, epochs=1)
    bn = net.network.bn
    before = bn.moving_mean.asnumpy().copy()
    net.set_train(True)
    x, y = next(iter(EpochDataset()))
    TrainStep(net, opt, scaler)(Tensor(x), Tensor(y))
    assert not np.array_equal(bn.moving_mean.asnumpy(), before)


def test_the_batchnorm_kernel_leaves_frozen_layers_alone(library):
    from src.models.kernels.batchnorm import enable_fast_batchnorm

    frozen, plain = ToyNet(), ToyNet()
    freeze_batchnorm(frozen)
    assert enable_fast_batchnorm(frozen, library) == 0 and type(frozen.bn) is nn.BatchNorm2d
    assert enable_fast_batchnorm(plain, library) == 1


@pytest.mark.parametrize("cls", [nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d])
def test_every_batchnorm_kind_is_frozen(cls):
    cell = nn.SequentialCell([cls(4)])
    assert freeze_batchnorm(cell) == 1
    inner = [c for _, c in cell.cells_and_names() if isinstance(c, (nn.BatchNorm1d, nn.BatchNorm2d))]
    assert inner and all(c.use_batch_statistics is False for c in inner)
