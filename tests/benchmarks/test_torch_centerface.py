"""Tests for benchmarks/torch_centerface.py: the PyTorch twin is the same network and loss as ours.

Needs torch (`make test` installs it from requirements-test.txt; under CI a missing torch fails). With our
weights copied in, the twin must give our outputs, our loss and our
gradients; otherwise the training benchmark would compare different work.
"""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, ops

from benchmarks.bench_train import synthetic_batch
from src.centerface.loss import CenterFaceLoss
from src.centerface.network import CenterFace
from src.tasks import get_task
from tests.requirements import require

HEADS = get_task("centerface").heads  # CenterFace's outputs, as its task computes them

torch = require("torch")
from benchmarks.torch_centerface import (  # noqa: E402
    TorchCenterFace,
    centerface_loss,
    copy_mindspore_weights,
    ms_to_torch_key,
)


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
    ours = CenterFace(HEADS)
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
        copy_mindspore_weights(TorchCenterFace(neck_width=24), CenterFace(HEADS, neck_width=64).backbone)


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


def test_training_mode_loss_and_moving_statistics_match(twins):
    """Train mode (batch statistics): the same loss, and the same BatchNorm moving averages afterwards
    (MindSpore momentum 0.9 = torch 0.1; both average the unbiased batch variance). rtol 1e-4: float32
    rounding through 50 layers (measured ~1e-7 on the loss)."""
    ours, theirs = twins
    ours.set_train(True)
    theirs.train()
    images, targets = synthetic_batch(2, 64, seed=6)
    loss = CenterFaceLoss()(*ours(Tensor(images)), *[Tensor(t) for t in targets])[0]
    with torch.no_grad():
        ref = centerface_loss(theirs(torch.from_numpy(images)), *[torch.from_numpy(t) for t in targets])[0]
    np.testing.assert_allclose(loss.asnumpy(), ref.item(), rtol=1e-4)
    state = theirs.state_dict()
    for param in ours.get_parameters():
        if "moving_" in param.name:
            np.testing.assert_allclose(param.asnumpy(), state[ms_to_torch_key(param.name)].numpy(), rtol=1e-4,
                                       atol=1e-5, err_msg=param.name)
    ours.set_train(False)
    theirs.eval()


def test_gradients_match(twins):
    """Every parameter gradient of the loss agrees (relative L2 error <= 1e-5; measured <= 9e-7).

    Compared with moving statistics (eval mode), where the gradient is a well-conditioned function of
    the weights. In train mode, BatchNorm over the few cells of the stride-32 map (8 per channel here)
    amplifies float32 rounding: one ReLU whose input sits within rounding of 0 flips, and every
    gradient below it moves by a few percent. Measured against a float64 torch reference, MindSpore's
    own train-mode gradients were off by 0.02-4% median depending on the batch, as were torch float32's,
    so no tight train-mode comparison is possible; the loss and statistics test above covers that mode.
    """
    ours, theirs = twins
    ours.set_train(False)
    theirs.eval()
    images, targets = synthetic_batch(2, 64, seed=7)
    loss_fn = CenterFaceLoss()
    params = ours.trainable_params()

    def forward(x, *t):
        return loss_fn(*ours(x), *t)[0]

    loss, grads = ops.value_and_grad(forward, None, params)(Tensor(images), *[Tensor(t) for t in targets])
    theirs.zero_grad()
    ref_loss = centerface_loss(theirs(torch.from_numpy(images)), *[torch.from_numpy(t) for t in targets])[0]
    ref_loss.backward()
    np.testing.assert_allclose(loss.asnumpy(), ref_loss.item(), rtol=1e-5)
    ref_grads = {name: param.grad.numpy() for name, param in theirs.named_parameters()}
    assert len(params) == len(ref_grads)
    for param, grad in zip(params, grads):
        ref = ref_grads[ms_to_torch_key(param.name)]
        assert np.linalg.norm(grad.asnumpy() - ref) <= 1e-5 * np.linalg.norm(ref), param.name
