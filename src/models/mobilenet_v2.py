"""MobileNetV2 feature extractor (Sandler et al., CVPR 2018) returning the four CenterFace taps.

Layer layout follows torchvision's `features.0 .. features.17` indexing so that ImageNet weights and the
official CenterFace weights map one-to-one (see src/convert_weight_*.py). The last 1x1 conv to 1280 channels
(`features.18`) is not built: no detector here uses it. The official CenterFace uses ReLU where torchvision
uses ReLU6 (its ONNX graph has plain Relu nodes), so the activation is a constructor argument.
"""
from mindspore import nn

from src.models.layers import ConvBNAct

# (expand ratio t, output channels c, repeats n, first stride s) from the paper's Table 2, width 1.0.
INVERTED_RESIDUAL_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                              (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
# Indices into `features` whose outputs are the stride-4/8/16/32 taps (24, 32, 96, 320 channels).
TAP_INDICES = (3, 6, 13, 17)
TAP_CHANNELS = (24, 32, 96, 320)


def _make_divisible(value, divisor=8):
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


class InvertedResidual(nn.Cell):
    """Expand 1x1 -> depthwise 3x3 -> linear project 1x1, with a residual when shapes allow."""

    def __init__(self, in_ch, out_ch, stride, expand_ratio, act="relu"):
        super().__init__()
        hidden = int(round(in_ch * expand_ratio))
        self.use_residual = stride == 1 and in_ch == out_ch
        self.has_expand = expand_ratio != 1
        if self.has_expand:
            self.expand = ConvBNAct(in_ch, hidden, 1, act=act)
        self.depthwise = ConvBNAct(hidden, hidden, 3, stride, group=hidden, act=act)
        self.project = ConvBNAct(hidden, out_ch, 1, act=None)

    def construct(self, x):
        y = x
        if self.has_expand:
            y = self.expand(y)
        y = self.project(self.depthwise(y))
        if self.use_residual:
            y = x + y
        return y


class MobileNetV2Backbone(nn.Cell):
    """Returns (c2, c3, c4, c5): strides 4, 8, 16, 32 with TAP_CHANNELS channels (width 1.0)."""

    def __init__(self, act="relu", width_mult=1.0):
        super().__init__()
        in_ch = _make_divisible(32 * width_mult)
        layers = [ConvBNAct(3, in_ch, 3, 2, act=act)]
        for t, c, n, s in INVERTED_RESIDUAL_SETTINGS:
            out_ch = _make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(in_ch, out_ch, s if i == 0 else 1, t, act=act))
                in_ch = out_ch
        self.features = nn.CellList(layers)
        self.tap_channels = tuple(_make_divisible(c * width_mult) for c in TAP_CHANNELS)

    def construct(self, x):
        taps = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in TAP_INDICES:
                taps.append(x)
        return taps[0], taps[1], taps[2], taps[3]
