"""Weight-decay groups and the optimizer factory, checked through the updates they make."""
import numpy as np
import pytest

from mindspore import Tensor

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


@pytest.mark.parametrize("name", ["adam", "sgd", "momentum"])
def test_each_optimizer_steps_with_a_schedule(name):
    net = ToyNet()
    opt = build_optimizer(name, param_groups(net, 1e-4), lr=[0.1, 0.05], momentum=0.9)
    before = net.head.weight.asnumpy().copy()
    opt(tuple(Tensor(np.ones(p.shape, np.float32)) for p in opt.parameters))
    assert int(opt.global_step.asnumpy()[0]) == 1
    assert not np.array_equal(before, net.head.weight.asnumpy())


def test_bad_optimizer_arguments():
    net = ToyNet()
    with pytest.raises(ValueError, match="optimizer must be one of"):
        build_optimizer("adamw", net.trainable_params(), 0.1)
    with pytest.raises(ValueError, match="empty"):
        build_optimizer("adam", net.trainable_params(), [])
    with pytest.raises(ValueError, match="weight_decay"):
        param_groups(net, -1.0)
