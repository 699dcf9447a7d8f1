"""A whole CenterFace training step on a real batch with the compiled kernels against the same step on
MindSpore's ops (is a fine-tuning's different AP with the kernels a bug or float noise?).

The step is what train.py runs: the official weights with BatchNorm re-centred on training images
(`bn_calibration_batches`), training mode, 4 augmented synthetic images at 256x256 with their targets (the
end-to-end test's recipe), CenterFace's loss and its gradient for every trainable parameter; the 59 BatchNorm
layers update their moving statistics in the same forward pass. Compared: the loss and its four components,
every gradient, every moving mean and variance after the step.

Why not per-parameter relative errors: a gradient that is zero up to rounding (a BN beta whose output feeds
another BN through a linear layer) has no meaningful relative error, and its rounding differs from one CPU to the
next. So each gradient tensor's difference is measured relative to the norm of its LAYER's gradient (the conv
and BN of a ConvBNAct block, or a head; `layer_of`), which is what decides the update of that layer.

Tolerances, from numbers measured on a 2-core AMD EPYC under three settings: AVX2 (oneDNN capped as train.py
caps it), ONEDNN_MAX_CPU_ISA=SSE41, and one thread (OMP_NUM_THREADS=1, which sets MindSpore's runtime_num_threads
and the kernels' threads; bit-identical to two threads here). The kernels sum in another order than oneDNN and in
double (BatchNorm statistics): the loss components differ by <= 1.4e-6 (AVX2) / 5.4e-7 (SSE41) relative and the
moving statistics by <= 1.2e-6 of each tensor's largest value (bounds LOSS_RTOL, STATS_RTOL = 1e-5, 7x). The
gradients of half the tensors differ by <= 1e-4 (AVX2) / 3.5e-6 (SSE41) of their layer's norm, 90 % by <= 2.0e-3
/ 4.3e-4, the worst by 1.1e-2 (AVX2: features.13.expand, all of it in one output channel) / 2.2e-3 (SSE41). The
large ones are not the kernels' doing: training-mode BatchNorm couples a channel's whole batch, so one activation
that a last-bit difference moves across ReLU's 0 changes that channel's gradient by percents. Moving half of the
input pixels by one float32 ulp with MindSpore's ops (printed, not asserted) does the same: worst 7.2e-4 (AVX2),
1.1e-2 (SSE41), 90 % <= 2.5e-4 / 2.1e-3. Bounds: every tensor <= GRAD_LAYER_RTOL = 5e-2 (4.5x the largest
measured jump) and 90 % of the tensors <= GRAD_LAYER_RTOL_90 = 1e-2 (5x). What a bug would give: a dropped or wrong
gradient term is off by O(1) of the tensors it touches; 134 of the 185 tensors hold > 0.1 of their layer's
gradient norm (asserted: DETECTABLE_SHARE), i.e. 2x the bound and more, and a wrong term in the small rest (BN
gamma/beta) is caught by the per-kernel tests against float64 references (test_batchnorm.py, test_depthwise.py).
A biased instead of unbiased variance in the moving average is off by 1/(m-1) >= 4e-3 relative in the 8x8 layers
(m = 4*8*8), a wrong momentum by O(0.1): both far above STATS_RTOL.
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

pytestmark = pytest.mark.numerics  # make test-portable (pyproject.toml)

LOSS_RTOL = 1e-5
STATS_RTOL = 1e-5
GRAD_LAYER_RTOL = 5e-2  # a gradient tensor's difference relative to the norm of its layer's gradient, every tensor
GRAD_LAYER_RTOL_90 = 1e-2  # ... and 90 % of the tensors
DETECTABLE_SHARE = 1e-1  # a tensor holding this much of its layer's gradient norm: a dropped gradient shows as 2x the bound


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


def layer_of(name):
    """The layer a parameter belongs to: its cell, and for a ConvBNAct the block holding both conv and BN
    (`backbone.features.13.expand.bn.beta` -> `backbone.features.13.expand`; `head_scale.bias` -> `head_scale`)."""
    parent = name.rsplit(".", 1)[0]
    return parent.rsplit(".", 1)[0] if parent.endswith((".conv", ".bn")) else parent


def layer_relative_errors(got, want):
    """{name: ||got - want|| / ||want's layer||}: each tensor's gradient difference relative to the norm of its
    layer's whole gradient (every tensor of the layer together)."""
    norms = {}
    for name, grad in want.items():
        norms[layer_of(name)] = norms.get(layer_of(name), 0.0) + float(np.sum(np.square(grad.astype(np.float64))))
    return {name: float(np.linalg.norm((got[name] - want[name]).astype(np.float64).ravel()))
            / max(np.sqrt(norms[layer_of(name)]), 1e-30) for name in want}


def layer_shares(grads):
    """{name: ||grad|| / ||its layer's gradient||}: what a dropped gradient of that tensor would show as error."""
    return layer_relative_errors({name: np.zeros_like(g) for name, g in grads.items()}, grads)


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
    loss_error = max(abs(f - p) / abs(p) for f, p in zip(fast_losses, plain_losses))

    assert fast_grads.keys() == plain_grads.keys() and len(plain_grads) > 100
    errors = layer_relative_errors(fast_grads, plain_grads)
    noise = layer_relative_errors(plain_nudged[1], plain_grads)
    shares = layer_shares(plain_grads)
    worst = max(errors, key=errors.get)
    stats_error = max(float(np.abs(fast_stats[n] - plain_stats[n]).max()) / float(np.abs(plain_stats[n]).max())
                      for n in before)
    print(f"loss components: largest relative difference {loss_error:.1e}; moving statistics {stats_error:.1e} "
          f"of each tensor's largest value; gradients relative to their layer's norm: kernels worst {errors[worst]:.1e} "
          f"({worst}), 90 % <= {np.quantile(list(errors.values()), 0.9):.1e}; one ulp of input worst "
          f"{max(noise.values()):.1e}, 90 % <= {np.quantile(list(noise.values()), 0.9):.1e}; tensors holding > "
          f"{DETECTABLE_SHARE:g} of their layer's gradient: {sum(v > DETECTABLE_SHARE for v in shares.values())}"
          f"/{len(shares)}")
    assert loss_error <= LOSS_RTOL, (fast_losses, plain_losses)
    # Every layer takes part in the step, and nearly every tensor holds enough of its layer's gradient that a
    # dropped or wrong gradient of it would exceed the bound by orders of magnitude (module docstring).
    assert min(float(np.abs(g).max()) for g in plain_grads.values()) > 0
    assert sum(v > DETECTABLE_SHARE for v in shares.values()) >= 0.6 * len(shares), sorted(shares.values())[:20]
    assert errors[worst] <= GRAD_LAYER_RTOL, (worst, errors[worst])
    assert np.quantile(list(errors.values()), 0.9) <= GRAD_LAYER_RTOL_90, sorted(errors.values())[-30:]

    assert fast_stats.keys() == plain_stats.keys() == before.keys() and len(before) == 2 * 59
    moved = sum(not np.allclose(plain_stats[name], before[name], rtol=1e-3) for name in before)
    assert moved > 59  # the step did move the statistics (the batch is not the calibration images)
    assert stats_error <= STATS_RTOL  # relative to each tensor's largest value (a channel's mean can be ~0)
