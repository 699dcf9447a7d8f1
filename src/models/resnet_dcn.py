"""CenterNet's ResNet network (Zhou et al., "Objects as Points", 2019): the original `PoseResNet` of
`resnet_dcn.py` (arch `resdcn_18`, `resdcn_101`, ...).

ResNet (src/models/resnet.py, torchvision layout) then `deconv_layers`, three up-sampling stages, then named heads:

    deconv_layers = SequentialCell(                     # 512 (2048 with Bottleneck) channels at stride 32
        DCN 3x3 (in -> 256), BN, ReLU, ConvTranspose 4x4/2 pad 1 (256 -> 256), BN, ReLU,    # .0 .. .5   stride 16
        DCN 3x3 (256 -> 128), BN, ReLU, ConvTranspose 4x4/2 pad 1 (128 -> 128), BN, ReLU,   # .6 .. .11  stride 8
        DCN 3x3 (128 -> 64), BN, ReLU, ConvTranspose 4x4/2 pad 1 (64 -> 64), BN, ReLU)      # .12 .. .17 stride 4
    heads: conv3x3 64 -> head_conv (+bias), ReLU, conv1x1 head_conv -> channels (+bias)    # `hm.0.*`, `hm.2.*`

Parameter names are the original state-dict keys (`conv1.weight`, `layer1.0.conv1.weight`, `deconv_layers.0.weight`,
`deconv_layers.0.conv_offset_mask.weight`, `deconv_layers.1.gamma`, `deconv_layers.3.weight`, `hm.0.weight`, ...)
with MindSpore's BatchNorm names, so a checkpoint converted by src/convert_weight_centernet.py loads key for key.
The DCN is the DLA network's (src/models/dcn.py: DCNv2 3x3, stride 1, one deformable group, `weight` + `bias` +
`conv_offset_mask`); `enable_dcn=False` puts a plain 3x3 conv with the same `weight`/`bias` keys in its place.
Each ConvTranspose is a FULL convolution (planes -> planes, no groups, no bias; weight (in, out, 4, 4)), unlike
the depthwise up-sampling of DLA's IDAUp; output size (in - 1) * 2 - 2 + 4 = 2 * in.

Input: normalised BGR image (x/255 - mean) / std, (N, 3, H, W) with H and W multiples of 32.
Output: the RAW head maps at stride 4 (64 channels feed the heads), in head order; no sigmoid is applied.
"""
import math

import numpy as np
from mindspore import Tensor, nn
from mindspore.common.initializer import Uniform, initializer

from src.models.dcn import ModulatedDeformConv2d, plain_conv3x3
from src.models.layers import NamedHeads, batch_norm, bilinear_upsample_weight
from src.models.resnet import ResNet

__all__ = ["ResNetDCN", "DECONV_CHANNELS", "DECONV_KERNEL"]

DECONV_CHANNELS = (256, 128, 64)  # the original's num_deconv_filters
DECONV_KERNEL = 4  # kernel 4, stride 2, padding 1, output_padding 0: exactly 2x


def full_upsample_weight(channels, kernel_size):
    """The original's initialisation of a full (planes -> planes) ConvTranspose2d: PyTorch's default
    U(+-1/sqrt(fan_in)) with fan_in = out channels * k * k (PyTorch reads dim 1 of a transposed weight), then
    `fill_up_weights`, which writes the bilinear kernel into w[c, 0] for every input channel c and leaves the rest
    random. Shape (channels, channels, k, k)."""
    bound = 1.0 / math.sqrt(channels * kernel_size * kernel_size)
    weight = initializer(Uniform(bound), (channels, channels, kernel_size, kernel_size)).init_data().asnumpy()
    weight[:, 0] = bilinear_upsample_weight(channels, kernel_size)[:, 0]
    return weight.astype(np.float32)


def deconv_stage(in_channels, planes, enable_dcn):
    """[DCN 3x3 (or a plain 3x3 conv), BN, ReLU, ConvTranspose 4x4/2, BN, ReLU]: six Sequential items, as the
    original's `_make_deconv_layer` appends them."""
    conv = ModulatedDeformConv2d(in_channels, planes) if enable_dcn else plain_conv3x3(in_channels, planes)
    up = nn.Conv2dTranspose(planes, planes, DECONV_KERNEL, stride=2, pad_mode="pad", padding=1, has_bias=False)
    up.weight.set_data(Tensor(full_upsample_weight(planes, DECONV_KERNEL)))
    return [conv, batch_norm(planes), nn.ReLU(), up, batch_norm(planes), nn.ReLU()]


class ResNetDCN(ResNet, NamedHeads):
    """The original `PoseResNet(block, layers, heads, head_conv)` (`get_pose_net(num_layers, heads, head_conv)` of
    resnet_dcn.py); construct(x) returns the raw head maps in head order.

    Args:
        heads: ((name, channels), ...) in output order (ctdet: (("hm", 80), ("wh", 2), ("reg", 2))).
        num_layers: ResNet depth, 18, 34, 50, 101 or 152 (CenterNet publishes resdcn_18 and resdcn_101).
        head_conv: width of each head's 3x3 conv (64 for ResNet in the original).
        enable_dcn: True = DCNv2 before each up-sampling (the original); False = plain 3x3 convs with the same
            `weight`/`bias` keys and no `conv_offset_mask` (for targets without a deformable-conv kernel, ONNX).
        down_ratio: output stride; only 4 is supported (three 2x up-samplings of the stride-32 map).
        final_bias: initial bias of the last conv of the heatmap heads (`hm` and names starting with `hm_`):
            -2.19 = logit(0.1); the other heads' biases start at 0.
    """

    def __init__(self, heads, num_layers=18, head_conv=64, enable_dcn=True, down_ratio=4, final_bias=-2.19):
        ResNet.__init__(self, num_layers)
        if down_ratio != 4:
            raise ValueError(f"down_ratio={down_ratio}: only 4 is supported (heads at stride 4)")
        self.enable_dcn = enable_dcn
        layers, in_channels = [], self.out_channels
        for planes in DECONV_CHANNELS:
            layers += deconv_stage(in_channels, planes, enable_dcn)
            in_channels = planes
        self.deconv_layers = nn.SequentialCell(layers)
        self.set_centernet_heads(heads, in_channels, head_conv, final_bias)

    def construct(self, x):
        return self.apply_heads(self.deconv_layers(self.features(x)))
