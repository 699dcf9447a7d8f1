"""recalibrate_batchnorm keeps the inference function and makes training mode agree with it."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from src.centerface.network import CenterFace
from src.models.bn_calibration import recalibrate_batchnorm
from src.tasks import get_task
from tests.models.test_fold_bn import copy_parameters, randomise_batchnorm

HEADS = get_task("centerface").heads  # CenterFace's outputs, as its task computes them


def test_single_bn_layer_matches_the_formula():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm2d(3)
    randomise_batchnorm(bn, rng)
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


def centerface_twins(identity_bn, rng):
    """Two CenterFace networks with equal parameters (random BN statistics unless `identity_bn`)."""
    ms.set_seed(0)
    net, twin = CenterFace(HEADS), CenterFace(HEADS)
    if not identity_bn:
        randomise_batchnorm(net, rng)
    copy_parameters(net, twin)
    return net, twin


@pytest.mark.parametrize("identity_bn", [True, False])
def test_network_function_is_kept_and_training_mode_agrees(identity_bn):
    rng = np.random.default_rng(1)
    # `twin` stays uncalibrated: what training mode computes without recalibration.
    net, twin = centerface_twins(identity_bn, rng)
    batch = rng.uniform(0, 255, (2, 3, 64, 64)).astype(np.float32)
    net.set_train(False)
    before = [o.asnumpy() for o in net(Tensor(batch))]
    assert recalibrate_batchnorm(net, [batch[:1], batch[1:]]) == 59  # statistics pooled over two batches
    after = [o.asnumpy() for o in net(Tensor(batch))]
    net.set_train(True)
    train_mode = [o.asnumpy() for o in net(Tensor(batch))]
    twin.set_train(True)
    uncalibrated_train_mode = [o.asnumpy() for o in twin(Tensor(batch))]
    for b, a, t in zip(before, after, train_mode):
        # Relative to each output's largest magnitude (the freshly initialised heads give small outputs, 1e-3
        # to 0.4): float32 re-association of the same affine map through ~60 layers stays below 1e-6 (measured);
        # 1e-4 is ample.
        scale = float(np.abs(b).max())
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4 * scale)
        # Training mode normalises with the batch's own statistics, which are exactly the pooled ones here.
        np.testing.assert_allclose(t, b, rtol=0, atol=1e-4 * scale)
    # Without calibration, training mode (batch statistics) differs grossly from inference mode, for identity
    # BNs (the converted official weights) and random ones alike: the regression maps (scale, offset,
    # landmarks) move by 95 % to 700 % of their largest magnitude (measured). The heatmap is left out: its
    # sigmoid sits near the 0.1 prior and moves by only 10 %.
    for b, u in zip(before[1:], uncalibrated_train_mode[1:]):
        assert np.abs(u - b).max() > 0.5 * float(np.abs(b).max())
