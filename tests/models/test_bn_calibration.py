"""recalibrate_batchnorm keeps the inference function and makes training mode agree with it."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import Tensor, nn

from src.models.bn_calibration import recalibrate_batchnorm
from src.centerface.network import CenterFace


def _randomise_bn(network, rng):
    """Arbitrary (non-identity) BN parameters, so the test covers the general affine case."""
    for _, cell in network.cells_and_names():
        if isinstance(cell, nn.BatchNorm2d):
            n = cell.gamma.shape[0]
            for param, value in ((cell.gamma, rng.uniform(0.5, 2, n)), (cell.beta, rng.normal(0, 0.5, n)),
                                 (cell.moving_mean, rng.normal(0, 1, n)), (cell.moving_variance, rng.uniform(0.5, 3, n))):
                param.set_data(Tensor(value.astype(np.float32)))


def test_single_bn_layer_matches_the_formula():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm2d(3)
    _randomise_bn(bn, rng)
    gamma, beta = bn.gamma.asnumpy().astype(np.float64), bn.beta.asnumpy().astype(np.float64)
    mean, var = bn.moving_mean.asnumpy().astype(np.float64), bn.moving_variance.asnumpy().astype(np.float64)
    batch = rng.normal(2.0, 3.0, (4, 3, 5, 6)).astype(np.float32)
    assert recalibrate_batchnorm(bn, [batch]) == 1
    mu, s2 = batch.astype(np.float64).mean(axis=(0, 2, 3)), batch.astype(np.float64).var(axis=(0, 2, 3))
    a = gamma / np.sqrt(var + bn.eps)
    np.testing.assert_allclose(bn.moving_mean.asnumpy(), mu, rtol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.asnumpy(), s2, rtol=1e-6)
    np.testing.assert_allclose(bn.gamma.asnumpy(), a * np.sqrt(s2 + bn.eps), rtol=1e-6)
    np.testing.assert_allclose(bn.beta.asnumpy(), beta - mean * a + a * mu, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("identity_bn", [True, False])
def test_network_function_is_kept_and_training_mode_agrees(identity_bn):
    rng = np.random.default_rng(1)
    ms.set_seed(0)
    net = CenterFace()
    if not identity_bn:
        _randomise_bn(net, rng)
    batch = rng.uniform(0, 255, (2, 3, 64, 64)).astype(np.float32)
    net.set_train(False)
    before = [o.asnumpy() for o in net(Tensor(batch))]
    recalibrate_batchnorm(net, [batch[:1], batch[1:]])  # statistics pooled over two batches
    after = [o.asnumpy() for o in net(Tensor(batch))]
    net.set_train(True)
    train_mode = [o.asnumpy() for o in net(Tensor(batch))]
    for b, a, t in zip(before, after, train_mode):
        scale = max(1.0, float(np.abs(b).max()))
        # float32 re-association of the same affine map through ~60 layers: relative 1e-4 is ample.
        np.testing.assert_allclose(a, b, atol=1e-4 * scale)
        # Training mode normalises with the batch's own statistics, which are exactly the pooled ones here.
        np.testing.assert_allclose(t, b, atol=1e-3 * scale)
    # Without calibration training mode differs grossly (identity BN vs batch statistics).
    raw = CenterFace()
    raw.set_train(True)
    assert np.abs(raw(Tensor(batch))[1].asnumpy() - before[1]).max() > 1e-2 or not identity_bn
