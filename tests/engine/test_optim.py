"""Weight-decay groups and the optimizer factory, checked through the updates they make."""
from pathlib import Path

import numpy as np
import pytest
from mindspore import Tensor, nn

from src.engine.optim import build_optimizer, is_decayed, param_groups
from tests.engine.toy import ToyNet


def test_decay_only_on_kernels():
    net = ToyNet()
    decayed = sorted(p.name for p in net.trainable_params() if is_decayed(p))
    assert decayed == ["conv.weight", "head.weight"]
    groups = param_groups(net, 5e-4)
    assert [g["weight_decay"] for g in groups[:2]] == [5e-4, 0.0]
    assert sorted(p.name for p in groups[1]["params"]) == ["bn.beta", "bn.gamma", "conv.bias", "head.bias"]
    assert [p.name for p in groups[2]["order_params"]] == [p.name for p in net.trainable_params()]


def test_weight_decay_reaches_only_the_decay_group():
    # Plain SGD, lr 1, zero gradients: a decayed parameter becomes p - 1 * wd * p, the others stay.
    net = ToyNet()
    before = {p.name: p.asnumpy().copy() for p in net.trainable_params()}
    opt = build_optimizer("sgd", param_groups(net, 0.25), lr=1.0, momentum=0.0)
    opt(tuple(Tensor(np.zeros(p.shape, np.float32)) for p in opt.parameters))
    for p in net.trainable_params():
        factor = 0.75 if p.name in ("conv.weight", "head.weight") else 1.0
        np.testing.assert_allclose(p.asnumpy(), before[p.name] * factor, rtol=1e-6, err_msg=p.name)


def reference_steps(name, weight, grad, decay, lrs, momentum=0.9, beta1=0.9, beta2=0.999, eps=1e-8):
    """The weight after one update per lr in `lrs` with a constant gradient, in float64 numpy, from the update
    rules MindSpore documents: the decay is added to the gradient (g' = g + decay * w), then
    sgd / momentum: v = momentum * v + g' (v starts at 0, so the first v is g'), w -= lr * v;
    adam: m = b1 m + (1 - b1) g', v = b2 v + (1 - b2) g'^2, w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps).
    """
    w, first, second = weight.astype(np.float64), 0.0, 0.0
    for t, lr in enumerate(lrs, start=1):
        g = grad + decay * w
        if name == "adam":
            first, second = beta1 * first + (1 - beta1) * g, beta2 * second + (1 - beta2) * g * g
            w = w - lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * first / (np.sqrt(second) + eps)
        else:
            first = momentum * first + g
            w = w - lr * first
    return w


@pytest.mark.parametrize("name, kind", [("adam", nn.Adam), ("sgd", nn.SGD), ("momentum", nn.Momentum)])
def test_each_optimizer_follows_its_lr_schedule(name, kind):
    # Three steps under the schedule [0.1, 0.02, 0.5]: each step must use its own lr (a constant lr, the first
    # or the last for all, or a shifted schedule gives other weights), with the optimizer's own rule and the
    # group weight decay on kernels only. Tolerance: float32 updates vs a float64 reference; Adam's float32
    # 1 - 0.999^t cancels (relative error ~2e-5 at t = 3), ~4e-6 on weights moved by ~0.6 (measured), so atol
    # 1e-5; a step with another step's lr is off by >= 0.08 x its gradient.
    net = ToyNet()
    lrs = [0.1, 0.02, 0.5]
    opt = build_optimizer(name, param_groups(net, 0.25), lr=lrs, momentum=0.9)
    assert type(opt) is kind
    before = {p.name: p.asnumpy().copy() for p in opt.parameters}  # asnumpy shares the memory on CPU
    grads = {p.name: np.full(p.shape, 0.5 + 0.25 * i, np.float32) for i, p in enumerate(opt.parameters)}
    for _ in lrs:
        opt(tuple(Tensor(grads[p.name]) for p in opt.parameters))
    assert int(opt.global_step.asnumpy()[0]) == len(lrs)
    for p in opt.parameters:
        decay = 0.25 if is_decayed(p) else 0.0
        expected = reference_steps(name, before[p.name], grads[p.name], decay, lrs)
        np.testing.assert_allclose(p.asnumpy(), expected, rtol=0, atol=1e-5, err_msg=p.name)


def test_bad_optimizer_arguments():
    net = ToyNet()
    with pytest.raises(ValueError, match="optimizer must be one of"):
        build_optimizer("adamw", net.trainable_params(), 0.1)
    with pytest.raises(ValueError, match="empty"):
        build_optimizer("adam", net.trainable_params(), [])
    with pytest.raises(ValueError, match="weight_decay"):
        param_groups(net, -1.0)


@pytest.mark.parametrize("eps", [1e-8, 1e-7, 1.0])
def test_adam_eps_reaches_the_update(eps):
    """One Adam step on zero-initialised moments vs MindSpore's documented update written out in numpy:
    m = (1 - b1) g, v = (1 - b2) g^2, w -= lr * sqrt(1 - b2) / (1 - b1) * m / (sqrt(v) + eps). eps 1.0 moves the
    weights visibly less than 1e-8, so a dropped eps fails. float32 arithmetic: rtol 1e-5."""
    net = ToyNet()
    before = {p.name: p.asnumpy().astype(np.float64) for p in net.trainable_params()}
    grads = [np.full(p.shape, 0.5 + i, np.float32) for i, p in enumerate(net.trainable_params())]
    opt = build_optimizer("adam", net.trainable_params(), lr=0.1, eps=eps)
    opt(tuple(Tensor(g) for g in grads))
    for (name, w0), g, p in zip(before.items(), grads, net.trainable_params()):
        g = g.astype(np.float64)
        m, v = 0.1 * g, 0.001 * g * g
        expected = w0 - 0.1 * np.sqrt(1 - 0.999) / (1 - 0.9) * m / (np.sqrt(v) + eps)
        np.testing.assert_allclose(p.asnumpy(), expected, rtol=1e-5, atol=1e-7, err_msg=name)


def test_adam_eps_defaults_keep_mindspores_for_centerface_and_the_pose_config_sets_it():
    import mindspore.nn as nn

    from src.model_utils.config import parse_config

    mindspore_default = nn.Adam(ToyNet().trainable_params()).eps.asnumpy()  # float32
    pose_config = str(Path(__file__).resolve().parents[2] / "configs" / "centernet_pose.yaml")
    centerface = parse_config([])
    pose = parse_config(["--config_path", pose_config])
    assert np.float32(centerface.adam_eps) == mindspore_default == np.float32(1e-8)  # CenterFace unchanged
    assert pose.adam_eps == 1e-8 and pose.weight_decay == 0.0  # the original: PyTorch's Adam, no weight decay
    assert parse_config(["--config_path", pose_config, "--adam_eps", "1e-7"]).adam_eps == 1e-7
    opt = build_optimizer("adam", param_groups(ToyNet(), pose.weight_decay), 0.1, eps=1e-7)
    assert float(opt.eps.asnumpy()) == pytest.approx(1e-7, rel=1e-6)


@pytest.mark.parametrize("eps", [0.0, -1e-8, "1e-8", True])
def test_adam_eps_must_be_positive(eps):
    with pytest.raises(ValueError, match="eps"):
        build_optimizer("adam", ToyNet().trainable_params(), 0.1, eps=eps)
