"""DLA-34 backbone (Yu et al., "Deep Layer Aggregation", CVPR 2018) in the form CenterNet uses it.

Structure and key names follow docs/centernet.md "Network" (read from CenterNet's pose_dla_dcn.py): levels
[1,1,1,2,2,1], channels [16,32,64,128,256,512], BasicBlock residual units, Root aggregation nodes and recursive Trees.
Parameter names equal the original state-dict keys without the `base.` prefix (`base_layer.0.weight`,
`level3.tree1.tree1.bn1.gamma`, ...), with MindSpore's BatchNorm names (gamma, beta, moving_mean,
moving_variance for PyTorch's weight, bias, running_mean, running_var). The classifier (`fc`) is left out.

`level3.project` and `level4.project` exist as parameters although the original never uses their output: in a
Tree of depth 2 the residual handed to the nested Tree is discarded (the nested Tree computes its own). They are
kept so that original checkpoints load key for key, and they do not influence the outputs.
"""
from mindspore import nn, ops

from src.models.layers import batch_norm, conv_no_bias

DLA34_LEVELS = (1, 1, 1, 2, 2, 1)
DLA34_CHANNELS = (16, 32, 64, 128, 256, 512)


def conv_bn_relu(in_channels, out_channels, kernel_size, stride=1):
    """SequentialCell(conv, BN, ReLU): keys `.0.weight`, `.1.gamma` ... like the original's nn.Sequential."""
    return nn.SequentialCell([conv_no_bias(in_channels, out_channels, kernel_size, stride), batch_norm(out_channels),
                              nn.ReLU()])


class BasicBlock(nn.Cell):
    """conv3x3 (carries the stride) -> BN -> ReLU -> conv3x3 -> BN, plus the residual, then ReLU."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = conv_no_bias(in_channels, out_channels, 3, stride)
        self.bn1 = batch_norm(out_channels)
        self.conv2 = conv_no_bias(out_channels, out_channels, 3)
        self.bn2 = batch_norm(out_channels)
        self.relu1 = nn.ReLU()  # its own cell, so that the training BatchNorm kernel can take it in (BN_RELU)
        self.relu = nn.ReLU()

    BN_RELU = {"bn1": "relu1"}

    def construct(self, x, residual):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


class Root(nn.Cell):
    """Aggregation node: 1x1 conv over the channel concatenation of its inputs, BN, ReLU (no residual in DLA-34)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = conv_no_bias(in_channels, out_channels, 1)
        self.bn = batch_norm(out_channels)
        self.relu = nn.ReLU()

    BN_RELU = {"bn": "relu"}

    def construct(self, children):
        return self.relu(self.bn(self.conv(ops.concat(children, axis=1))))


class Tree(nn.Cell):
    """Hierarchical deep aggregation tree (docs/centernet.md "Network").

    levels == 1: two BasicBlocks whose outputs (and the extra `children`) meet in a Root.
    levels > 1: two sub-Trees; the second receives the first one's output (and, with `level_root`, this Tree's
    down-sampled input) as extra children for its Root. `root_dim` 0 means 2 * out_channels; `level_root` adds
    `in_channels` because the down-sampled input joins the root.
    """

    def __init__(self, levels, in_channels, out_channels, stride=1, level_root=False, root_dim=0):
        super().__init__()
        if levels < 1:
            raise ValueError(f"Tree levels={levels}: expected >= 1")
        if root_dim == 0:
            root_dim = 2 * out_channels
        if level_root:
            root_dim += in_channels
        self.levels = levels
        self.level_root = level_root
        if levels == 1:
            self.tree1 = BasicBlock(in_channels, out_channels, stride)
            self.tree2 = BasicBlock(out_channels, out_channels, 1)
            self.root = Root(root_dim, out_channels)
        else:
            self.tree1 = Tree(levels - 1, in_channels, out_channels, stride, root_dim=0)
            self.tree2 = Tree(levels - 1, out_channels, out_channels, 1, root_dim=root_dim + out_channels)
        # Identity cells (no parameters) keep construct() branch-free where the original has None.
        self.downsample = nn.MaxPool2d(kernel_size=stride, stride=stride) if stride > 1 else nn.Identity()
        if in_channels != out_channels:
            self.project = nn.SequentialCell([conv_no_bias(in_channels, out_channels, 1), batch_norm(out_channels)])
        else:
            self.project = nn.Identity()

    def construct(self, x, children=()):
        """`children`: tuple of extra maps for the Root, handed down by an enclosing Tree."""
        bottom = self.downsample(x)
        if self.level_root:
            children = children + (bottom,)
        if self.levels == 1:
            x1 = self.tree1(x, self.project(bottom))
            x2 = self.tree2(x1, x1)
            return self.root((x2, x1) + children)
        # A nested tree1 computes its own residual: the original passes project(bottom) and the callee drops it,
        # so it is not computed here (same outputs, `project` kept only for checkpoint compatibility).
        x1 = self.tree1(x)
        return self.tree2(x1, children + (x1,))


class DLA34(nn.Cell):
    """DLA-34 feature extractor: returns the 6 level outputs (strides 1, 2, 4, 8, 16, 32; channels 16..512)."""

    def __init__(self, levels=DLA34_LEVELS, channels=DLA34_CHANNELS):
        super().__init__()
        if len(levels) != 6 or len(channels) != 6:
            raise ValueError(f"DLA levels={levels}, channels={channels}: expected 6 of each")
        if levels[0] != 1 or levels[1] != 1:
            raise ValueError(f"DLA levels={levels}: level0 and level1 must be single convs (DLA-34 layout)")
        self.channels = tuple(channels)
        self.base_layer = conv_bn_relu(3, channels[0], 7)
        self.level0 = conv_bn_relu(channels[0], channels[0], 3)
        self.level1 = conv_bn_relu(channels[0], channels[1], 3, stride=2)
        self.level2 = Tree(levels[2], channels[1], channels[2], 2, level_root=False)
        self.level3 = Tree(levels[3], channels[2], channels[3], 2, level_root=True)
        self.level4 = Tree(levels[4], channels[3], channels[4], 2, level_root=True)
        self.level5 = Tree(levels[5], channels[4], channels[5], 2, level_root=True)

    def construct(self, x):
        x0 = self.level0(self.base_layer(x))
        x1 = self.level1(x0)
        x2 = self.level2(x1)
        x3 = self.level3(x2)
        x4 = self.level4(x3)
        x5 = self.level5(x4)
        return x0, x1, x2, x3, x4, x5
