"""CenterFace (Xu et al., 2019): MobileNetV2 + FPN-style neck + four 1x1 heads at output stride 4.

Output layout (the official one, docs/design.md "The official CenterFace model"; the task's `heads` in order,
src/centerface/task.py):
  heatmap   (N, 1, H/4, W/4)  face-centre probability (sigmoid applied)
  scale     (N, 2, H/4, W/4)  [log(box_h / 4), log(box_w / 4)]
  offset    (N, 2, H/4, W/4)  [off_y, off_x] sub-cell centre offset
  landmarks (N, 10, H/4, W/4) per landmark j: [(y_j - y1) / box_h, (x_j - x1) / box_w]
Input: RGB, raw 0..255, H and W multiples of 32.
"""
import math

from mindspore import nn, ops
from mindspore.common.initializer import Constant, Normal

from src.models.layers import ConvBNAct, NamedHeads, activation
from src.models.mobilenet_v2 import MobileNetV2Backbone

HEATMAP = "heatmap"  # the head that goes through the sigmoid; the first output


class UpBlock(nn.Cell):
    """ConvTranspose k2 s2 (no padding, no bias) + BN + activation: exact 2x upsampling."""

    def __init__(self, channels, act="relu"):
        super().__init__()
        self.conv = nn.Conv2dTranspose(channels, channels, 2, stride=2, pad_mode="valid", has_bias=False)
        self.bn = nn.BatchNorm2d(channels, eps=1e-5, momentum=0.9)
        self.act = activation(act)

    def construct(self, x):
        return self.act(self.bn(self.conv(x)))


class CenterFaceNeck(nn.Cell):
    """Top-down merge of the four taps: lateral 1x1 conv+BN+act, upsample-and-add, then a 3x3 conv."""

    def __init__(self, in_channels, width=24, act="relu"):
        super().__init__()
        self.laterals = nn.CellList([ConvBNAct(c, width, 1, act=act) for c in in_channels])
        # ups[i] brings level i+1 up to level i's resolution.
        self.ups = nn.CellList([UpBlock(width, act) for _ in range(len(in_channels) - 1)])
        self.fuse = ConvBNAct(width, width, 3, act=act)

    def construct(self, c2, c3, c4, c5):
        x = self.laterals[3](c5)
        x = self.ups[2](x) + self.laterals[2](c4)
        x = self.ups[1](x) + self.laterals[1](c3)
        x = self.ups[0](x) + self.laterals[0](c2)
        return self.fuse(x)


class CenterFace(NamedHeads):
    """The whole detector: backbone, neck, one 1x1 conv per head. `heads`: ((name, channels), ...) in output
    order, the heatmap first (the task's `heads`); checkpoint names are `head_<name>.weight/.bias`.
    `neck_width` 24 is the official model, 64 the old MindSpore zoo's."""

    def __init__(self, heads, neck_width=24, act="relu", heatmap_prior=0.1):
        super().__init__()
        heads = tuple((str(name), int(channels)) for name, channels in heads)
        if not heads or heads[0] != (HEATMAP, 1):
            raise ValueError(f"CenterFace: heads {heads}: expected ({HEATMAP!r}, 1) first")
        self.backbone = MobileNetV2Backbone(act=act)
        self.neck = CenterFaceNeck(self.backbone.tap_channels, neck_width, act)
        # Heatmap bias so that sigmoid starts at the prior (CenterNet's -2.19 for 0.1): keeps the focal loss
        # from exploding on the first steps. Regression heads start near zero.
        prior_bias = -math.log((1 - heatmap_prior) / heatmap_prior)
        cells = {}
        for name, channels in heads:
            is_heatmap = name == HEATMAP
            cells[f"head_{name}"] = nn.Conv2d(neck_width, channels, 1, has_bias=True,
                                              weight_init=Normal(0.01 if is_heatmap else 0.001),
                                              bias_init=Constant(prior_bias) if is_heatmap else "zeros")
        self.set_heads(cells)
        self.sigmoid = ops.Sigmoid()

    def construct(self, x):
        c2, c3, c4, c5 = self.backbone(x)
        outputs = self.apply_heads(self.neck(c2, c3, c4, c5))
        return (self.sigmoid(outputs[0]),) + outputs[1:]
