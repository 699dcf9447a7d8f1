"""Tests for src/models/fold_bn.py: a folded network computes what the unfolded one computes in inference mode.

The reference is the unfolded cell in inference mode (MindSpore's BatchNorm kernel normalising with the moving
statistics), compared with its twin (same parameters) after `fold_batchnorm`. BatchNorm statistics are random and
far from the identity (gamma of both signs, beta, mean, and for the small cells variances down to 1e-3, so that
even the layers' eps of 1e-5 moves outputs by 0.5 %, and an eps of 0.1 where the test builds the BN), so a
folding formula that drops a term, ignores eps or scales the wrong weight axis gives a visible error.

Tolerance. Folding only re-associates float32 arithmetic: conv(x, W) * s + t becomes conv(x, W * s) + t, with
W * s rounded once to float32 (computed in float64). For one layer the difference is a few float32 ulps of the
largest output, so 1e-5 of the output's largest magnitude (measured: at most 1.1e-6); through the ~60 layers
of a whole network the rounding compounds (each layer rescales the previous layer's error), so 1e-4 of the
largest magnitude (measured: 7e-8 CenterFace, 5e-6 pose network). Folding mistakes (a wrong channel, eps or
shift) change outputs by 1e-3 to O(1) relative, above both.
"""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from src.centerface.network import CenterFace, UpBlock
from src.models.dla import BasicBlock, Root, conv_bn_relu
from src.models.dla_seg import DLASeg
from src.models.fold_bn import fold_batchnorm
from src.models.layers import ConvBNAct
from src.models.resnet_dcn import ResNetDCN
from src.tasks import get_task

HEADS = get_task("centerface").heads  # CenterFace's outputs, as its task computes them

POSE_HEADS = get_task("centernet_pose").heads

SINGLE_LAYER_RTOL = 1e-5  # of the output's largest magnitude: a few float32 ulps (see the module docstring)
NETWORK_RTOL = 1e-4  # rounding compounded through ~60 layers


def randomise_batchnorm(network, rng, min_variance=0.2):
    """Give every BatchNorm2d in `network` arbitrary inference statistics: |gamma| in [0.5, 2] with random signs,
    beta ~ N(0, 0.5), mean ~ N(0, 1), variance log-uniform in [min_variance, 3].

    Keep `min_variance` ~0.2 for deep networks: a BN gains up to 2 / sqrt(min_variance), compounded per layer.
    """
    for _, cell in network.cells_and_names():
        if isinstance(cell, nn.BatchNorm2d):
            n = cell.gamma.shape[0]
            gamma = rng.uniform(0.5, 2.0, n) * rng.choice([-1.0, 1.0], n)
            variance = np.exp(rng.uniform(np.log(min_variance), np.log(3.0), n))
            for param, value in ((cell.gamma, gamma), (cell.beta, rng.normal(0, 0.5, n)),
                                 (cell.moving_mean, rng.normal(0, 1, n)), (cell.moving_variance, variance)):
                param.set_data(Tensor(value.astype(np.float32)))


def batchnorm_cells(network):
    """Names of the BatchNorm2d cells left in `network`."""
    return [name for name, cell in network.cells_and_names() if isinstance(cell, nn.BatchNorm2d)]


def as_tuple(outputs):
    return tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)


def copy_parameters(source, target):
    """Give `target` (built like `source`) the values of all of `source`'s parameters."""
    pairs = list(zip(source.parameters_and_names(), target.parameters_and_names()))
    assert [name for (name, _), _ in pairs] == [name for _, (name, _) in pairs]
    for (_, value), (_, param) in pairs:
        param.set_data(Tensor(value.asnumpy()))


def check_folding_keeps_outputs(build, inputs, expected_count, rtol, min_variance=0.2, seed=0):
    """Build two twins of a network with the same random BN statistics, run one unfolded, fold the other and
    compare every output. Returns the folded network.

    Twins, not one network before and after folding: in GRAPH mode a Cell that has run once keeps its compiled
    graph (with the old sub-cells and parameters) even when sub-cells are replaced, so it would be compared with
    itself. inputs: the network's input arrays (one per construct argument)."""
    unfolded, folded = build(), build()
    randomise_batchnorm(unfolded, np.random.default_rng(seed), min_variance)
    copy_parameters(unfolded, folded)
    unfolded.set_train(False)
    tensors = [Tensor(x) for x in inputs]
    reference = [o.asnumpy() for o in as_tuple(unfolded(*tensors))]
    bn_before = len(batchnorm_cells(folded))
    assert fold_batchnorm(folded) == expected_count
    assert len(batchnorm_cells(folded)) == bn_before - expected_count
    outputs = [o.asnumpy() for o in as_tuple(folded(*tensors))]
    assert len(outputs) == len(reference)
    for i, (got, want) in enumerate(zip(outputs, reference)):
        assert got.shape == want.shape, f"output {i}"
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(got, want, rtol=0, atol=rtol * scale, err_msg=f"output {i}")
    return folded


class RootOfTwo(nn.Cell):
    """DLA's Root over two children (its construct takes them as one tuple)."""

    def __init__(self):
        super().__init__()
        self.root = Root(8, 4)

    def construct(self, a, b):
        return self.root((a, b))


class ConvWithBias(nn.Cell):
    """A conv that has its own bias, then BN (conv/bn attribute pair): folding must carry the bias through BN."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 3, pad_mode="pad", padding=1, has_bias=True, bias_init="normal")
        self.bn = nn.BatchNorm2d(5, eps=0.1)

    def construct(self, x):
        return self.bn(self.conv(x))


def random_inputs(*shapes, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, shape).astype(np.float32) for shape in shapes]


SMALL_CELLS = {
    # (a) ConvBNAct, conv/bn attributes: a strided 3x3 conv, and a depthwise one (weights (C, 1, 3, 3))
    "conv_bn_act": (lambda: ConvBNAct(4, 6, 3, stride=2, act="relu6"), [(2, 4, 9, 9)], 1),
    "conv_bn_act_depthwise": (lambda: ConvBNAct(6, 6, 3, group=6, act=None), [(2, 6, 8, 8)], 1),
    # (b) DLA's BasicBlock: conv1/bn1 and conv2/bn2 (inputs x and the residual), and a Root (conv/bn)
    "dla_basic_block": (lambda: BasicBlock(6, 6), [(2, 6, 8, 8), (2, 6, 8, 8)], 2),
    "dla_root": (RootOfTwo, [(2, 5, 6, 6), (2, 3, 6, 6)], 1),
    # (c) SequentialCell conv + BN + ReLU (DLA's base_layer / levelN)
    "sequential_conv_bn_relu": (lambda: conv_bn_relu(3, 5, 7, stride=2), [(2, 3, 10, 10)], 1),
    # (d) Conv2dTranspose + BN: CenterFace's UpBlock (k2 s2), and in a SequentialCell with padding and groups of
    # two channels (weights (in, out/group, k, k): the output channel is not the axis-1 index), and depthwise
    # (IDAUp's up-sampling form). With output_padding nothing folds: MindSpore pads after the bias, so a folded
    # shift would be missing on the padded border.
    "centerface_up_block": (lambda: UpBlock(6), [(2, 6, 4, 5)], 1),
    "grouped_transposed_conv_bn": (lambda: nn.SequentialCell([
        nn.Conv2dTranspose(4, 6, 3, stride=2, pad_mode="pad", padding=1, group=2),
        nn.BatchNorm2d(6, eps=0.1)]), [(2, 4, 5, 5)], 1),
    "transposed_conv_with_output_padding_bn": (lambda: nn.SequentialCell([
        nn.Conv2dTranspose(4, 6, 3, stride=2, pad_mode="pad", padding=1, output_padding=1),
        nn.BatchNorm2d(6, eps=0.1)]), [(2, 4, 5, 5)], 0),
    # the full (one group) ConvTranspose 4x4/2 of CenterNet's ResNet network, with in != out (weights (in, out, k, k):
    # the output channel is axis 1)
    "full_transposed_conv_bn": (lambda: nn.SequentialCell([
        nn.Conv2dTranspose(6, 5, 4, stride=2, pad_mode="pad", padding=1), nn.BatchNorm2d(5, eps=0.1)]),
        [(2, 6, 5, 5)], 1),
    "depthwise_transposed_conv_bn": (lambda: nn.SequentialCell([
        nn.Conv2dTranspose(6, 6, 4, stride=2, pad_mode="pad", padding=1, group=6), nn.BatchNorm2d(6, eps=0.1)]),
        [(2, 6, 5, 5)], 1),
    # (e) a conv with its own bias
    "conv_with_bias": (ConvWithBias, [(2, 3, 7, 7)], 1),
}


@pytest.mark.parametrize("name", sorted(SMALL_CELLS))
def test_folded_cell_matches_unfolded(mode, name):
    build, shapes, count = SMALL_CELLS[name]
    ms.set_seed(0)
    check_folding_keeps_outputs(build, random_inputs(*shapes), count, SINGLE_LAYER_RTOL, min_variance=1e-3)


def test_folded_weights_follow_the_formula():
    # Hand-checked formula on one conv: W' = W * g / sqrt(v + eps) per output channel, b' = beta + (b - m) * that.
    ms.set_seed(0)
    cell = ConvWithBias()
    randomise_batchnorm(cell, np.random.default_rng(3))
    weight, bias = cell.conv.weight.asnumpy().astype(np.float64), cell.conv.bias.asnumpy().astype(np.float64)
    gamma, beta, mean, var = (p.asnumpy().astype(np.float64) for p in (cell.bn.gamma, cell.bn.beta,
                                                                     cell.bn.moving_mean, cell.bn.moving_variance))
    assert fold_batchnorm(cell) == 1
    assert isinstance(cell.bn, nn.Identity) and cell.conv.has_bias
    factor = gamma / np.sqrt(var + 0.1)
    np.testing.assert_allclose(cell.conv.weight.asnumpy(), weight * factor[:, None, None, None], rtol=1e-6)
    np.testing.assert_allclose(cell.conv.bias.asnumpy(), beta + (bias - mean) * factor, rtol=1e-6, atol=1e-6)
    # Parameters get their full path as names again (graph compilation needs unique names).
    assert [p.name for p in cell.get_parameters()] == ["conv.weight", "conv.bias"]


class MismatchedPair(nn.Cell):
    """conv1 and bn2: not a conv followed by its BN."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 1)
        self.bn2 = nn.BatchNorm2d(4)


def test_a_conv_without_a_batchnorm_after_it_is_left_alone():
    # BN before the conv, or a conv and a BN of different attribute suffixes: nothing to fold.
    seq = nn.SequentialCell([nn.BatchNorm2d(3), nn.Conv2d(3, 4, 1)])
    assert fold_batchnorm(seq) == 0
    assert isinstance(seq[0], nn.BatchNorm2d) and not seq[1].has_bias
    pair = MismatchedPair()
    assert fold_batchnorm(pair) == 0
    assert isinstance(pair.bn2, nn.BatchNorm2d) and not pair.conv1.has_bias


def test_whole_centerface_network(mode):
    # Every BN of CenterFace follows a conv: 51 in MobileNetV2 (1 stem + 2 in block 1 + 3 in each of the other
    # 16 blocks), 8 in the neck (4 laterals, 3 up-sampling blocks, 1 fuse) = 59, none left.
    ms.set_seed(0)
    image = np.random.default_rng(2).uniform(0, 255, (1, 3, 64, 96)).astype(np.float32)
    net = check_folding_keeps_outputs(lambda: CenterFace(HEADS), [image], 59, NETWORK_RTOL)
    assert batchnorm_cells(net) == []


def test_whole_pose_network_without_dcn():
    """DLA-34's 39 BNs fold; the 16 BNs of the up-sampling path stay (they sit in DeformConv.actf, after the conv's
    cell, not beside it): 2 (ida_0) + 4 (ida_1) + 6 (ida_2) + 4 (ida_up) DeformConvs. DLA-34: stem, level0 and
    level1 (1 each), level2 and level5 (one-level trees: 2 blocks x 2 + root + projection = 6 each), level3 and
    level4 (two one-level trees of 6 and 5, plus a projection = 12 each): 3 + 6 + 12 + 12 + 6 = 39."""
    ms.set_seed(0)
    # PyNative only: the GRAPH compile of the 200-layer network costs ~20 s and adds nothing the cells above
    # do not cover in GRAPH mode.
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    try:
        net = check_folding_keeps_outputs(lambda: DLASeg(POSE_HEADS, enable_dcn=False, head_conv=32),
                                          random_inputs((1, 3, 64, 64)), 39, NETWORK_RTOL)
    finally:
        ms.set_context(mode=previous)
    remaining = batchnorm_cells(net)
    assert len(remaining) == 16 and all(name.endswith(".actf.0") for name in remaining)


@pytest.mark.parametrize("enable_dcn", [True, False])
def test_whole_resnet_dcn_network(enable_dcn):
    """CenterNet's ResNet-18 network: the stem, 16 block convs and 3 projections (downsample Sequentials) fold,
    and the three full ConvTranspose 4x4 + BN of deconv_layers; the BN after each DCN stays (a DCN is not a conv
    the fold rebuilds), the one after each plain 3x3 conv (enable_dcn False) folds: 23 + 3 left, or 26."""
    ms.set_seed(0)
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)  # as the pose network above: GRAPH folding is covered cell by cell
    try:
        net = check_folding_keeps_outputs(
            lambda: ResNetDCN((("hm", 3), ("wh", 2)), head_conv=16, enable_dcn=enable_dcn),
            random_inputs((1, 3, 64, 64)), 23 if enable_dcn else 26, NETWORK_RTOL)
    finally:
        ms.set_context(mode=previous)
    assert batchnorm_cells(net) == (["deconv_layers.1", "deconv_layers.7", "deconv_layers.13"] if enable_dcn else [])
