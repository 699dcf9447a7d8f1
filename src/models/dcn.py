"""Modulated deformable convolution (DCNv2, Zhu et al. 2019) as used by CenterNet's DLA-34 up-sampling path.

Only the configuration CenterNet uses is implemented: 3x3 kernel, stride 1, padding 1, dilation 1, one
deformable group (docs/centernet.md "Network"). Parameter names follow the original DCN module so that converted
checkpoints load key for key: `weight` (Cout, Cin, 3, 3), `bias` (Cout) and the sub-cell `conv_offset_mask`
(a 3x3 conv Cin -> 27 with bias, zero-initialised).

Offset layout (docs/centernet.md "Deformable convolution layout"). `conv_offset_mask` keeps DCNv2's row order, so its
values are exactly the original checkpoint's: channel 2k = dy_k, 2k+1 = dx_k for kernel point k = i*3 + j (rows 0..17),
then the 9 mask logits (rows 18..26). `mindspore.ops.deformable_conv2d` wants (all dx, all dy, mask) and applies the
mask as given, so construct() reorders the 18 offset rows and applies the sigmoid. Doing the reordering here rather than
permuting the rows at conversion time keeps checkpoints in the original (and torchvision's) layout, so they convert back
without bookkeeping; it costs one gather of a 27-channel map per layer, lost in the noise of the deformable sampling
itself (64 channels at 128x128 on 2 busy CPU cores: 320 ms per layer with it, 317 ms without). The reordering is a
gather with a constant index, not strided slices: in MindSpore 2.10 on CPU the gradient of a step-2 slice
(StridedSliceGrad) fails with "input memory out of bounds" for batch sizes > 1.
"""
import math

import numpy as np
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import Uniform, initializer

KERNEL_SIZE = 3
NUM_KERNEL_POINTS = KERNEL_SIZE * KERNEL_SIZE  # 9
NUM_OFFSET_CHANNELS = 2 * NUM_KERNEL_POINTS  # 18: a (dy, dx) pair per kernel point, DCNv2 order
NUM_OFFSET_MASK_CHANNELS = 3 * NUM_KERNEL_POINTS  # 27 = offsets + mask logits
# Rows of conv_offset_mask in the order ops.deformable_conv2d reads them: dx_0..dx_8 (DCNv2 rows 1, 3, ..., 17),
# dy_0..dy_8 (rows 0, 2, ..., 16), then the 9 mask logits (rows 18..26).
MINDSPORE_ROW_ORDER = (tuple(range(1, NUM_OFFSET_CHANNELS, 2)) + tuple(range(0, NUM_OFFSET_CHANNELS, 2))
                       + tuple(range(NUM_OFFSET_CHANNELS, NUM_OFFSET_MASK_CHANNELS)))


def _check_channels(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name}={value!r}: expected a positive int")


class ModulatedDeformConv2d(nn.Cell):
    """DCNv2 3x3 / stride 1 / pad 1 / one deformable group, with the original DCN module's parameter names.

    Args:
        in_channels, out_channels: channel counts.

    Initialisation as in the original DCN module (docs/centernet.md "Network"): weight U(+-1/sqrt(9 Cin)), bias 0,
    `conv_offset_mask` weight and bias 0, so a fresh layer samples the regular grid with mask sigmoid(0) = 0.5.
    """

    def __init__(self, in_channels, out_channels):
        super().__init__()
        _check_channels("in_channels", in_channels)
        _check_channels("out_channels", out_channels)
        bound = 1.0 / math.sqrt(in_channels * NUM_KERNEL_POINTS)
        self.weight = Parameter(initializer(Uniform(bound), (out_channels, in_channels, KERNEL_SIZE, KERNEL_SIZE)),
                                name="weight")
        self.bias = Parameter(initializer("zeros", (out_channels,)), name="bias")
        self.conv_offset_mask = nn.Conv2d(in_channels, NUM_OFFSET_MASK_CHANNELS, KERNEL_SIZE, stride=1,
                                          pad_mode="pad", padding=1, has_bias=True, weight_init="zeros",
                                          bias_init="zeros")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.mindspore_row_order = Tensor(np.array(MINDSPORE_ROW_ORDER, np.int32))

    def offsets_for_mindspore(self, x):
        """conv_offset_mask(x) rearranged to ops.deformable_conv2d's (dx_0..dx_8, dy_0..dy_8, sigmoid(mask)) layout."""
        reordered = ops.gather(self.conv_offset_mask(x), self.mindspore_row_order, 1)
        offsets, mask_logits = ops.split(reordered, (NUM_OFFSET_CHANNELS, NUM_KERNEL_POINTS), axis=1)
        return ops.concat((offsets, ops.sigmoid(mask_logits)), axis=1)

    def construct(self, x):
        offsets = self.offsets_for_mindspore(x)
        # ops.deformable_conv2d = DeformableOffsets (gathers the 9 modulated samples into a (C, 3H, 3W) map) then
        # a stride-3 conv; padding is (top, bottom, left, right), strides/dilations are NCHW 4-tuples.
        return ops.deformable_conv2d(x, self.weight, offsets, (KERNEL_SIZE, KERNEL_SIZE), (1, 1, 1, 1), (1, 1, 1, 1),
                                     bias=self.bias)


def plain_conv3x3(in_channels, out_channels):
    """The `enable_dcn=False` stand-in: a 3x3 / stride 1 / pad 1 conv with bias, keys `weight` and `bias`.

    Same initialisation as the DCN's weight and bias (U(+-1/sqrt(9 Cin)), 0), so the two variants start alike
    apart from the offsets and the 0.5 mask.
    """
    _check_channels("in_channels", in_channels)
    _check_channels("out_channels", out_channels)
    bound = 1.0 / math.sqrt(in_channels * NUM_KERNEL_POINTS)
    return nn.Conv2d(in_channels, out_channels, KERNEL_SIZE, stride=1, pad_mode="pad", padding=1, has_bias=True,
                     weight_init=Uniform(bound), bias_init="zeros")
