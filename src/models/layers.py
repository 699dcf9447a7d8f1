"""Layers the networks share: conv + BatchNorm + activation, the PyTorch-convention BatchNorm and bias-free conv of
the CenterNet backbones (DLA-34, ResNet), named output heads, CenterNet's two-conv head and its bilinear
up-sampling initialisation.

`ConvBNAct` is the unit BatchNorm folding (`fold_bn.py`) and the compiled CPU kernels (`kernels/`) recognise
(`cell.conv`, `cell.bn`, `cell.act`). `NamedHeads` gives a network a dict of heads whose attribute names are
the checkpoint names (CenterFace's `head_heatmap`, CenterNet's `hm`, ...), run in a fixed order.
"""
import math

import numpy as np
from mindspore import nn
from mindspore.common.initializer import Constant, HeNormal, HeUniform

__all__ = ["activation", "ConvBNAct", "batch_norm", "conv_no_bias", "NamedHeads", "bilinear_upsample_weight",
           "centernet_head", "count_parameters"]

BN_EPS = 1e-5  # PyTorch default, as in the original CenterNet backbones
BN_MOMENTUM = 0.9  # MindSpore's momentum weights the running value: 0.9 here == PyTorch momentum 0.1


def activation(name):
    if name == "relu":
        return nn.ReLU()
    if name == "relu6":
        return nn.ReLU6()
    raise ValueError(f"activation: expected 'relu' or 'relu6', got {name!r}")


class ConvBNAct(nn.Cell):
    """Conv (no bias) + BatchNorm + optional activation; 'same' padding for odd kernels."""

    BN_RELU = {"bn": "act"}  # a ReLU `act` runs inside the training BatchNorm kernel (it is then set to None)

    def __init__(self, in_ch, out_ch, kernel_size=1, stride=1, group=1, act="relu"):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride, pad_mode="pad", padding=kernel_size // 2,
                              group=group, has_bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=1e-5, momentum=0.9)
        self.act = activation(act) if act else None

    def construct(self, x):
        x = self.bn(self.conv(x))
        if self.act is not None:
            x = self.act(x)
        return x


def batch_norm(channels):
    """BatchNorm2d with PyTorch's eps and momentum (CenterNet's DLA-34 and ResNet backbones)."""
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def conv_no_bias(in_channels, out_channels, kernel_size, stride=1):
    """Conv with 'same' padding for odd kernels and no bias (every backbone conv is followed by BN).

    He-normal (fan_out) initialisation is our choice for training from scratch (torchvision's ResNet uses it too);
    normally the backbone is loaded from ImageNet weights (src/convert_weight_centernet.py).
    """
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, pad_mode="pad", padding=kernel_size // 2,
                     has_bias=False, weight_init=HeNormal(mode="fan_out", nonlinearity="relu"))


class NamedHeads(nn.Cell):
    """Base class of a network whose outputs are named heads on one feature map.

    `set_heads({name: cell})` attaches each head as an attribute (so its parameters are named
    `<name>.<param>`, as in the checkpoints) and records the order; `apply_heads(feature)` returns the heads'
    outputs in that order (GRAPH mode resolves the attribute names at compile time).
    """

    def set_heads(self, heads):
        self.head_names = tuple(heads)
        for name, cell in heads.items():
            setattr(self, name, cell)

    def apply_heads(self, feature):
        return tuple(getattr(self, name)(feature) for name in self.head_names)

    def set_centernet_heads(self, heads, in_channels, head_conv, final_bias):
        """Attach a `centernet_head` per (name, channels) of `heads` on `in_channels` features, in that order;
        heatmap heads (`hm` and names starting with `hm_`) start with `final_bias`, the others with 0. Sets and
        returns `self.heads` ((name, channels), ...); ValueError for a head list a checkpoint could not name."""
        if head_conv <= 0:
            raise ValueError(f"head_conv={head_conv}: expected a positive width")
        heads = tuple((str(name), int(channels)) for name, channels in heads)
        if not heads or len({name for name, _ in heads}) != len(heads):
            raise ValueError(f"heads={heads}: expected a non-empty list of uniquely named heads")
        cells = {}
        for name, out_channels in heads:
            if out_channels <= 0:
                raise ValueError(f"head {name!r} has {out_channels} channels: expected > 0")
            if not name.isidentifier() or hasattr(self, name):
                raise ValueError(f"head name {name!r}: expected an identifier that is not a "
                                 f"{type(self).__name__} attribute")
            is_heatmap = name == "hm" or name.startswith("hm_")
            cells[name] = centernet_head(in_channels, head_conv, out_channels, final_bias if is_heatmap else 0.0)
        self.set_heads(cells)
        self.heads = heads
        return heads


def centernet_head(in_channels, head_conv, out_channels, bias=0.0):
    """CenterNet's head: SequentialCell(conv3x3 + bias, ReLU, conv1x1 + bias), keys `.0.*` and `.2.*` as in the
    original (`final_kernel=1`).

    Weights: PyTorch's default conv initialisation (HeUniform with a = sqrt(5), i.e. U(+-1/sqrt(fan_in))), which
    the original keeps; the first bias 0, the last `bias` (-2.19 = logit(0.1) for heatmaps, 0 for regressions).
    """
    first = nn.Conv2d(in_channels, head_conv, 3, pad_mode="pad", padding=1, has_bias=True,
                      weight_init=HeUniform(negative_slope=math.sqrt(5)), bias_init="zeros")
    last = nn.Conv2d(head_conv, out_channels, 1, has_bias=True, weight_init=HeUniform(negative_slope=math.sqrt(5)),
                     bias_init=Constant(bias))
    return nn.SequentialCell([first, nn.ReLU(), last])


def bilinear_upsample_weight(channels, kernel_size):
    """The original's `fill_up_weights`: a separable bilinear kernel copied to every channel, shape (C, 1, k, k).

    f = ceil(k/2), c = (2f - 1 - f%2) / (2f), w[i, j] = (1 - |i/f - c|)(1 - |j/f - c|) (docs/centernet.md "Network").
    """
    f = math.ceil(kernel_size / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    ramp = 1 - np.abs(np.arange(kernel_size) / f - c)
    kernel = np.outer(ramp, ramp).astype(np.float32)
    return np.broadcast_to(kernel, (channels, 1, kernel_size, kernel_size)).copy()


def count_parameters(network):
    """Number of trainable values (conv weights/biases, BN gamma/beta; BN moving statistics excluded)."""
    return sum(int(np.prod(p.shape)) for p in network.trainable_params())
