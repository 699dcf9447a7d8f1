"""Tests for src/models/layers.py: the bilinear up-sampling kernel against hand-computed values, the heads'
naming, order, checks and initial biases, ConvBNAct's shape and padding, and the parameter count."""
import math

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from src.models.layers import (ConvBNAct, NamedHeads, activation, batch_norm, bilinear_upsample_weight,
                               centernet_head, conv_no_bias, count_parameters)


def test_bilinear_kernel_by_hand():
    # k = 4: f = 2, c = (4 - 1 - 0) / 4 = 0.75, ramp = 1 - |[0, 0.5, 1, 1.5] - 0.75| = [0.25, 0.75, 0.75, 0.25]
    weight = bilinear_upsample_weight(3, 4)
    ramp = np.array([0.25, 0.75, 0.75, 0.25])
    assert weight.shape == (3, 1, 4, 4) and weight.dtype == np.float32
    for channel in weight:
        np.testing.assert_array_equal(channel[0], np.outer(ramp, ramp).astype(np.float32))
    # k = 3: f = 2, c = (4 - 1 - 0) / 4 = 0.75, ramp = 1 - |[0, 0.5, 1] - 0.75| = [0.25, 0.75, 0.75]
    ramp3 = [0.25, 0.75, 0.75]
    np.testing.assert_array_equal(bilinear_upsample_weight(1, 3)[0, 0], np.outer(ramp3, ramp3))
    # k = 6 (odd f): f = 3, c = (6 - 1 - 1) / 6 = 2/3, ramp = 1 - |[0, 1, 2, 3, 4, 5] / 3 - 2/3|
    ramp6 = np.array([1, 2, 3, 2, 1, 0]) / 3
    np.testing.assert_allclose(bilinear_upsample_weight(1, 6)[0, 0], np.outer(ramp6, ramp6), rtol=0, atol=1e-7)


def test_bilinear_kernel_upsamples_a_constant_to_the_constant_inside():
    """A stride-2 transposed conv with the k=4 kernel, padding 1 (CenterNet's IDAUp) doubles a constant map to the
    same constant away from the border: each output pixel gets weights summing to 1 (0.25 + 0.75 per axis)."""
    up = nn.Conv2dTranspose(1, 1, 4, stride=2, pad_mode="pad", padding=1, has_bias=False)
    up.weight.set_data(ms.Tensor(bilinear_upsample_weight(1, 4)))
    out = up(ms.Tensor(np.full((1, 1, 6, 6), 3.0, np.float32))).asnumpy()
    assert out.shape == (1, 1, 12, 12)
    np.testing.assert_allclose(out[0, 0, 1:-1, 1:-1], 3.0, rtol=1e-6)


def test_activation_names():
    assert isinstance(activation("relu"), nn.ReLU) and isinstance(activation("relu6"), nn.ReLU6)
    with pytest.raises(ValueError, match="relu6"):
        activation("gelu")


@pytest.mark.parametrize("kernel, stride, size", [(1, 1, 8), (3, 1, 8), (3, 2, 4), (5, 2, 4)])
def test_conv_bn_act_keeps_same_padding(kernel, stride, size):
    cell = ConvBNAct(3, 5, kernel, stride, act="relu6")
    cell.set_train(False)
    out = cell(ms.Tensor(np.random.default_rng(0).normal(0, 4, (2, 3, 8, 8)).astype(np.float32))).asnumpy()
    assert out.shape == (2, 5, size, size) and out.min() >= 0 and out.max() <= 6
    assert cell.conv.has_bias is False and ConvBNAct(3, 5, act=None).act is None


def test_pytorch_convention_batchnorm_and_conv():
    bn = batch_norm(4)
    assert math.isclose(bn.eps, 1e-5)
    # PyTorch's momentum 0.1: one training step moves the running mean 10 % of the way to the batch mean
    bn.set_train(True)
    x = np.random.default_rng(1).normal(3, 1, (2, 4, 5, 5)).astype(np.float32)
    bn(ms.Tensor(x))
    np.testing.assert_allclose(bn.moving_mean.asnumpy(), 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    conv = conv_no_bias(3, 8, 3, stride=2)
    assert conv.has_bias is False
    assert conv(ms.Tensor(np.zeros((1, 3, 9, 9), np.float32))).shape == (1, 8, 5, 5)  # 'same' padding, stride 2


class _Net(NamedHeads):
    def construct(self, x):
        return self.apply_heads(x)


def test_centernet_heads_named_ordered_and_initialised():
    net = _Net()
    heads = net.set_centernet_heads([("wh", 2), ("hm", 1), ("hm_hp", 3)], in_channels=4, head_conv=6,
                                    final_bias=-2.19)
    assert heads == (("wh", 2), ("hm", 1), ("hm_hp", 3)) and net.head_names == ("wh", "hm", "hm_hp")
    names = {name: p for name, p in net.parameters_and_names()}
    assert set(names) == {f"{h}.{i}.{k}" for h in ("wh", "hm", "hm_hp") for i in (0, 2) for k in ("weight", "bias")}
    np.testing.assert_array_equal(names["hm.2.bias"].asnumpy(), np.float32([-2.19]))
    np.testing.assert_array_equal(names["hm_hp.2.bias"].asnumpy(), np.float32([-2.19] * 3))
    np.testing.assert_array_equal(names["wh.2.bias"].asnumpy(), [0, 0])
    outputs = net(ms.Tensor(np.zeros((1, 4, 5, 5), np.float32)))
    assert [o.shape[1] for o in outputs] == [2, 1, 3]
    # zero input: every head outputs its last bias (first conv bias 0, ReLU(0) = 0)
    np.testing.assert_allclose(outputs[1].asnumpy(), -2.19, rtol=1e-6)


@pytest.mark.parametrize("heads, head_conv, message", [
    ([], 4, "non-empty"),
    ([("hm", 1), ("hm", 2)], 4, "uniquely"),
    ([("hm", 0)], 4, "channels"),
    ([("not a name", 1)], 4, "identifier"),
    ([("construct", 1)], 4, "attribute"),
    ([("hm", 1)], 0, "head_conv"),
])
def test_bad_head_lists_are_refused(heads, head_conv, message):
    with pytest.raises(ValueError, match=message):
        _Net().set_centernet_heads(heads, 4, head_conv, -2.19)


def test_head_initialisation_is_pytorchs_default_range():
    head = centernet_head(16, 8, 2)
    bound = 1 / math.sqrt(16 * 9)  # HeUniform(a = sqrt(5)): U(+-1/sqrt(fan_in))
    weight = head[0].weight.asnumpy()
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound


def test_count_parameters_counts_trainable_values_by_hand():
    cell = ConvBNAct(3, 4, 3)  # conv 4*3*3*3 = 108, BN gamma and beta 8; moving statistics not trainable
    assert count_parameters(cell) == 116
