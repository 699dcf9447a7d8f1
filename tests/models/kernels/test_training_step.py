"""A whole CenterFace training step on a real batch with the compiled kernels against the same step on
MindSpore's ops (is a fine-tuning AP that differs with the kernels a bug or noise?).

The step is what train.py runs: the official weights with BatchNorm re-centred on training images
(`bn_calibration_batches`), training mode, 4 augmented synthetic images at 256x256 with their targets (the
end-to-end test's recipe), CenterFace's loss and its gradient for every trainable parameter; the 59 BatchNorm
layers update their moving statistics in the same forward pass. Compared: the loss and its four components,
every gradient, every moving mean and variance after the step.

Tolerances. The kernels sum in another order than oneDNN (depthwise convs) and in double (BatchNorm
statistics), so float32 results differ in the last bits. The loss and the moving statistics keep that size
(measured 2e-7 and <= 1.2e-6 relative; bound 1e-5). The gradients do not: MobileNetV2's backward pass amplifies
last-bit differences, in BatchNorm channels of tiny batch variance up to percents (and the gradient of a BN
beta that feeds another BN is zero up to rounding). The test measures that noise floor itself: the gradients of
MindSpore's ops on the same batch with half of its pixels moved by one float32 ulp. Measured: the kernels change
the worst gradient by 2.4e-2 relative (features.13.expand.bn.beta), and the one-ulp input change with
MindSpore's ops by exactly as much; where the kernels change a gradient by more than 1e-4, the ulp change is at
least half as large. Bound per gradient: max(1e-4, 10 x the ulp change). What a bug would give: a dropped or
wrong gradient term is off by O(1) in the layers it touches (floors there 1e-4..1e-2); a biased instead of
unbiased variance in the moving average by 1/(m-1) >= 4e-3 relative in the 8x8 layers (m = 4*8*8), a wrong
momentum by O(0.1).
"""
import numpy as np
import pytest

import mindspore as ms
from mindspore import Tensor, ops

from src.engine.checkpoint import load_weights
from src.engine.train_step import NetworkWithLoss
from src.models.bn_calibration import recalibrate_batchnorm
from src.models.kernels import enable_cpu_kernels
from src.model_utils.config import parse_config
from src.tasks import get_task

LOSS_RTOL = 1e-5
STATS_RTOL = 1e-5
GRAD_FLOOR = 1e-4  # relative L2 change of a gradient always accepted
GRAD_NOISE_FACTOR = 10  # ... and up to this many times the change one float32 ulp of input gives


@pytest.fixture(scope="module")
def real_batch(tmp_path_factory):
    """(cfg, task, calibration images, batch): 4 training samples (augmented images + targets) of the end-to-end
    test's synthetic set, and 4 other augmented images to re-centre BatchNorm on (as train.py does first)."""
    import logging

    from src.data.synthetic import generate

    folder = tmp_path_factory.mktemp("train_step")
    paths = generate(str(folder), num_train=8, num_val=0, seed=3, image_size=256, progress=False)
    cfg = parse_config(["--train_json", paths["train_json"], "--train_size", "256,256", "--seed", "1"])
    task = get_task(cfg)
    source = task.training_source(logging.getLogger("test"))
    source.set_epoch(0)
    samples = [source[i] for i in range(8)]
    batch = [np.stack([s[k] for s in samples[:4]]) for k in range(len(samples[0]))]
    return cfg, task, np.stack([s[0] for s in samples[4:]]), batch


def _training_network(cfg, task, official_ckpt, calibration, library=None):
    """The network as train.py prepares it, with the kernels when `library` is given."""
    network = task.build_network()
    load_weights(network, official_ckpt, strict=True, model=task.name)
    recalibrate_batchnorm(network, [calibration])
    network.set_train(True)
    if library is not None:
        counts = enable_cpu_kernels(network, library)
        assert counts["depthwise"] == 17 and counts["batchnorm"] == 59, counts
    return network


def _steps(network, cfg, task, batches):
    """Moving statistics before, then per batch (loss components, {name: gradient}, {name: moving statistic after
    the step}) of a training step from the same weights (one compiled graph for all batches)."""
    with_loss = NetworkWithLoss(network, task.build_loss())
    params = with_loss.trainable_params()
    grad_fn = ms.jit(ops.value_and_grad(with_loss, None, params, has_aux=True))

    def stats():
        return {p.name: p.asnumpy().copy() for p in network.get_parameters() if "moving_" in p.name}

    before, results = stats(), []
    for batch in batches:
        losses, grads = grad_fn(*[Tensor(a) for a in batch])  # training-mode gradients use batch statistics only
        results.append(([float(v.asnumpy()) for v in losses], {p.name: g.asnumpy() for p, g in zip(params, grads)},
                        stats()))
    return before, results


def _relative(got, want):
    return float(np.linalg.norm((got - want).ravel()) / max(np.linalg.norm(want.ravel()), 1e-30))


def one_ulp_away(images, seed=0):
    """`images` with half of its values (chosen at random) moved to the next float32 up."""
    moved = np.nextafter(images, np.float32(np.inf)).astype(np.float32)
    return np.where(np.random.default_rng(seed).random(images.shape) < 0.5, moved, images)


@pytest.mark.slow  # two training graphs of the whole network: ~50 s on 2 idle cores, 2-3 min under load
def test_training_step_with_kernels_equals_mindspore_ops_to_float_noise(real_batch, official_ckpt, library):
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)  # as train.py runs it
    try:
        cfg, task, calibration, batch = real_batch
        nudged = [one_ulp_away(batch[0])] + batch[1:]
        before, (plain, plain_nudged) = _steps(_training_network(cfg, task, official_ckpt, calibration), cfg, task,
                                               [batch, nudged])
        _, (fast,) = _steps(_training_network(cfg, task, official_ckpt, calibration, library), cfg, task, [batch])
    finally:
        ms.set_context(mode=previous)

    (plain_losses, plain_grads, plain_stats), (fast_losses, fast_grads, fast_stats) = plain, fast
    assert plain_losses[0] > 0.1  # a real loss (focal + regressions), not a degenerate zero
    np.testing.assert_allclose(fast_losses, plain_losses, rtol=LOSS_RTOL)

    assert fast_grads.keys() == plain_grads.keys() and len(plain_grads) > 100
    assert min(float(np.abs(g).max()) for g in plain_grads.values()) > 0  # no layer is left out of the step
    noise = {name: _relative(plain_nudged[1][name], plain_grads[name]) for name in plain_grads}
    errors = {name: _relative(fast_grads[name], plain_grads[name]) for name in plain_grads}
    bound = {name: max(GRAD_FLOOR, GRAD_NOISE_FACTOR * noise[name]) for name in plain_grads}
    worst = max(errors, key=lambda name: errors[name] / bound[name])
    print(f"gradients: largest kernel change {max(errors.values()):.2e}, largest one-ulp change "
          f"{max(noise.values()):.2e}; closest to its bound: {worst} {errors[worst]:.2e} (ulp {noise[worst]:.2e})")
    assert all(errors[name] <= bound[name] for name in errors), (worst, errors[worst], noise[worst])

    assert fast_stats.keys() == plain_stats.keys() == before.keys() and len(before) == 2 * 59
    moved = sum(not np.allclose(plain_stats[name], before[name], rtol=1e-3) for name in before)
    assert moved > 59  # the step did move the statistics (the batch is not the calibration images)
    for name in before:  # relative to each tensor's largest value (a channel's mean can be ~0)
        scale = float(np.abs(plain_stats[name]).max())
        assert float(np.abs(fast_stats[name] - plain_stats[name]).max()) <= STATS_RTOL * scale, name
