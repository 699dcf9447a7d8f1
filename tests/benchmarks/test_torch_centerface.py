"""Tests for benchmarks/torch_centerface.py: the PyTorch twin is the same network and loss as ours.

Skipped when torch is not installed (it is benchmark-only: `pip install -r requirements-bench.txt`;
CI does not install it). With our weights copied in, the twin must give our outputs, our loss and our
gradients; otherwise the training benchmark would compare different work.
"""
import numpy as np
import pytest

import mindspore as ms
from mindspore import Tensor, ops

from benchmarks.bench_train import synthetic_batch
from src.losses import CenterFaceLoss
from src.models.centerface import CenterFace

torch = pytest.importorskip("torch")
from benchmarks.torch_centerface import (TorchCenterFace, centerface_loss, copy_mindspore_weights,  # noqa: E402
                                         ms_to_torch_key)


@pytest.fixture(scope="module")
def pynative():
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    yield
    ms.set_context(mode=previous)


@pytest.fixture(scope="module")
def twins(pynative):
    """Our network with non-trivial BN statistics, and the torch twin carrying the same weights."""
    ms.set_seed(1)
    ours = CenterFace()
    rng = np.random.default_rng(0)
    for param in ours.get_parameters():
        if "moving_mean" in param.name:
            param.set_data(Tensor(rng.normal(0, 0.5, param.shape).astype(np.float32)))
        elif "moving_variance" in param.name:
            param.set_data(Tensor(rng.uniform(0.5, 2.0, param.shape).astype(np.float32)))
    theirs = TorchCenterFace()
    copy_mindspore_weights(theirs, ours)
    return ours, theirs


def test_same_parameters_names_and_shapes(twins):
    ours, theirs = twins
    ours_shapes = {ms_to_torch_key(p.name): tuple(p.shape) for p in ours.get_parameters()}
    theirs_shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items() if "num_batches" not in k}
    assert ours_shapes == theirs_shapes
    trainable = sum(p.size for p in ours.trainable_params())
    assert trainable == sum(p.numel() for p in theirs.parameters() if p.requires_grad)


def test_copy_rejects_a_different_network(pynative):
    with pytest.raises(KeyError, match="keys differ"):
        copy_mindspore_weights(TorchCenterFace(neck_width=24), CenterFace(neck_width=64).backbone)


def test_inference_outputs_match(twins):
    """Eval mode (moving statistics), raw 0..255 input of a non-square size.

    Tolerance: float32 convolutions summed in different orders (oneDNN gemm vs torch's kernels) over 20
    layers; atol 1e-4 on the post-sigmoid heatmap (the converter's parity bound) and 1e-4 relative to
    each regression map's largest magnitude.
    """
    ours, theirs = twins
    ours.set_train(False)
    theirs.eval()
    x = (np.random.default_rng(3).random((2, 3, 64, 96)) * 255).astype(np.float32)
    got = [o.asnumpy() for o in ours(Tensor(x))]
    with torch.no_grad():
        ref = [o.numpy() for o in theirs(torch.from_numpy(x))]
    for name, a, b in zip(("heatmap", "scale", "offset", "landmarks"), got, ref):
        assert a.shape == b.shape, name
        scale = 1.0 if name == "heatmap" else np.abs(b).max()
        assert np.abs(a - b).max() <= 1e-4 * scale, name


def test_loss_matches_on_random_predictions(pynative):
    """Same predictions and targets -> same five loss values (only float32 summation order differs: rtol 1e-5)."""
    images, targets = synthetic_batch(2, 64, seed=4)
    rng = np.random.default_rng(5)
    h = w = 16
    preds = [rng.uniform(0.001, 0.999, (2, 1, h, w)), rng.normal(0, 1, (2, 2, h, w)),
             rng.normal(0, 1, (2, 2, h, w)), rng.normal(0, 1, (2, 10, h, w))]
    preds = [p.astype(np.float32) for p in preds]
    got = CenterFaceLoss()(*[Tensor(p) for p in preds], *[Tensor(t) for t in targets])
    ref = centerface_loss([torch.from_numpy(p) for p in preds], *[torch.from_numpy(t) for t in targets])
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a.asnumpy(), b.item(), rtol=1e-5)
    assert images.shape == (2, 3, 64, 64)


def test_training_loss_and_gradients_match(twins):
    """Train mode (batch statistics): the loss and every parameter gradient agree.

    Tolerances: rtol 1e-4 on the loss; each gradient within 2e-2 relative L2 error (measured: ~2e-4
    typical, 6e-3 worst, backward through 50 float32 layers with batch statistics amplifies rounding).
    The `project.bn.beta` gradients are exactly 0 in exact arithmetic (a constant shift there only
    reaches later BatchNorms, which remove it), so both frameworks return rounding noise: checked to
    be < 1e-5 of the same BatchNorm's gamma gradient instead (measured ~1e-6 or less).
    """
    ours, theirs = twins
    ours.set_train(True)
    theirs.train()
    images, targets = synthetic_batch(2, 64, seed=6)
    loss_fn = CenterFaceLoss()
    params = ours.trainable_params()

    def forward(x, *t):
        return loss_fn(*ours(x), *t)[0]

    loss, grads = ops.value_and_grad(forward, None, params)(Tensor(images), *[Tensor(t) for t in targets])
    theirs.zero_grad()
    ref_loss = centerface_loss(theirs(torch.from_numpy(images)), *[torch.from_numpy(t) for t in targets])[0]
    ref_loss.backward()
    np.testing.assert_allclose(loss.asnumpy(), ref_loss.item(), rtol=1e-4)
    ours_grads = {param.name: grad.asnumpy() for param, grad in zip(params, grads)}
    ref_grads = {name: param.grad.numpy() for name, param in theirs.named_parameters()}
    assert len(ours_grads) == len(ref_grads)
    for name, grad in ours_grads.items():
        ref = ref_grads[ms_to_torch_key(name)]
        if name.endswith("project.bn.beta"):
            gamma_norm = np.linalg.norm(ref_grads[ms_to_torch_key(name[:-4] + "gamma")])
            assert np.linalg.norm(grad) < 1e-5 * gamma_norm and np.linalg.norm(ref) < 1e-5 * gamma_norm, name
            continue
        assert np.linalg.norm(grad - ref) <= 2e-2 * np.linalg.norm(ref), name
