"""Layers the networks share: conv + BatchNorm + activation, and named output heads.

`ConvBNAct` is the unit BatchNorm folding (`fold_bn.py`) and the compiled CPU kernels (`kernels/`) recognise
(`cell.conv`, `cell.bn`, `cell.act`). `NamedHeads` gives a network a dict of heads whose attribute names are
the checkpoint names (CenterFace's `head_heatmap`, CenterNet's `hm`, ...), run in a fixed order.
"""
from mindspore import nn

__all__ = ["activation", "ConvBNAct", "NamedHeads"]


def activation(name):
    if name == "relu":
        return nn.ReLU()
    if name == "relu6":
        return nn.ReLU6()
    raise ValueError(f"activation: expected 'relu' or 'relu6', got {name!r}")


class ConvBNAct(nn.Cell):
    """Conv (no bias) + BatchNorm + optional activation; 'same' padding for odd kernels."""

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
