"""CenterNet multi-person pose network (Zhou et al., "Objects as Points", 2019): DLA-34 + DLAUp/IDAUp + 6 heads.

This is the original `DLASeg('dla34', heads, down_ratio=4, final_kernel=1, last_level=5, head_conv=256)`
described in CENTERNET.md §A, with the original's parameter names (the backbone lives under `base`, the
aggregation under `dla_up.ida_{0,1,2}` and `ida_up`, the heads under their names), so a checkpoint converted
by src/convert_weight_centernet.py loads key for key.

Input: normalised BGR image (x/255 - mean) / std, (N, 3, H, W) with H and W multiples of 32.
Output: the 6 RAW head maps at stride 4, in head order (default hm 1, wh 2, hps 34, reg 2, hm_hp 17,
hp_offset 2); no sigmoid is applied (the loss and the decoder apply it to hm and hm_hp).
"""
import math

import numpy as np
from mindspore import Tensor, nn
from mindspore.common.initializer import Constant, HeUniform

from src.models.dcn import ModulatedDeformConv2d, plain_conv3x3
from src.models.dla import DLA34, batch_norm
from src.models.layers import NamedHeads

POSE_HEADS = (("hm", 1), ("wh", 2), ("hps", 34), ("reg", 2), ("hm_hp", 17), ("hp_offset", 2))
FIRST_LEVEL = 2  # log2(down_ratio 4): the heads read the stride-4 map
LAST_LEVEL = 5


def bilinear_upsample_weight(channels, kernel_size):
    """The original's `fill_up_weights`: a separable bilinear kernel copied to every channel, shape (C, 1, k, k).

    f = ceil(k/2), c = (2f - 1 - f%2) / (2f), w[i, j] = (1 - |i/f - c|)(1 - |j/f - c|) (CENTERNET.md §A).
    """
    f = math.ceil(kernel_size / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    ramp = 1 - np.abs(np.arange(kernel_size) / f - c)
    kernel = np.outer(ramp, ramp).astype(np.float32)
    return np.broadcast_to(kernel, (channels, 1, kernel_size, kernel_size)).copy()


class DeformConv(nn.Cell):
    """`conv` (DCNv2 3x3 or, with enable_dcn=False, a plain 3x3 conv) then `actf` = SequentialCell(BN, ReLU)."""

    def __init__(self, in_channels, out_channels, enable_dcn=True):
        super().__init__()
        self.conv = (ModulatedDeformConv2d(in_channels, out_channels) if enable_dcn
                     else plain_conv3x3(in_channels, out_channels))
        self.actf = nn.SequentialCell([batch_norm(out_channels), nn.ReLU()])

    def construct(self, x):
        return self.actf(self.conv(x))


class IDAUp(nn.Cell):
    """Iterative deep aggregation: map k (k >= 1) is projected to `out_channels`, up-sampled by `up_factors[k]`
    and summed with the already merged map k-1, then refined by node_k.

    Cells `proj_k`, `up_k`, `node_k` (k = 1..len(in_channels)-1) carry the original names. `up_k` is a depthwise
    ConvTranspose2d (kernel 2f, stride f, padding f//2, no bias) initialised bilinearly and trainable; its output
    size (in-1)*f - 2*(f//2) + 2f is exactly f*in for even f (2, 4, 8).

    construct(*maps) takes the maps it merges (map 0 already at the target resolution) and returns all of them
    after merging: (maps[0], merged_1, ..., merged_last).
    """

    def __init__(self, out_channels, in_channels, up_factors, enable_dcn=True):
        super().__init__()
        if len(in_channels) != len(up_factors) or len(in_channels) < 2:
            raise ValueError(f"IDAUp in_channels={in_channels}, up_factors={up_factors}: expected equal lengths >= 2")
        self.num_inputs = len(in_channels)
        for k in range(1, self.num_inputs):
            factor = int(up_factors[k])
            if factor not in (2, 4, 8):
                # (in - 1) f - 2 (f // 2) + 2f equals f * in only for even f
                raise ValueError(f"IDAUp up_factors[{k}]={up_factors[k]}: expected 2, 4 or 8")
            setattr(self, f"proj_{k}", DeformConv(in_channels[k], out_channels, enable_dcn))
            up = nn.Conv2dTranspose(out_channels, out_channels, 2 * factor, stride=factor, pad_mode="pad",
                                    padding=factor // 2, group=out_channels, has_bias=False)
            up.weight.set_data(Tensor(bilinear_upsample_weight(out_channels, 2 * factor)))
            setattr(self, f"up_{k}", up)
            setattr(self, f"node_{k}", DeformConv(out_channels, out_channels, enable_dcn))

    def construct(self, *maps):
        merged = (maps[0],)
        for k in range(1, self.num_inputs):
            upsampled = getattr(self, "up_" + str(k))(getattr(self, "proj_" + str(k))(maps[k]))
            merged = merged + (getattr(self, "node_" + str(k))(upsampled + merged[k - 1]),)
        return merged


class DLAUp(nn.Cell):
    """Merges backbone levels first_level..5 top-down with three IDAUps (CENTERNET.md §A).

    ida_0 merges levels 4-5, ida_1 levels 3-5, ida_2 levels 2-5 (each on the previous one's results); returns
    (stride-4 64 ch, stride-8 128 ch, stride-16 256 ch, stride-32 512 ch): the deepest merged map of each ida
    plus the untouched level 5.
    """

    def __init__(self, channels=(64, 128, 256, 512), scales=(1, 2, 4, 8), enable_dcn=True):
        super().__init__()
        in_channels = list(channels)
        scales = list(scales)
        self.num_levels = len(channels)
        for i in range(self.num_levels - 1):
            j = self.num_levels - 2 - i  # the level ida_i brings the deeper ones to
            factors = [s // scales[j] for s in scales[j:]]
            setattr(self, f"ida_{i}", IDAUp(channels[j], in_channels[j:], factors, enable_dcn))
            # After ida_i, levels deeper than j hold maps at level j's resolution and width.
            scales[j + 1:] = [scales[j]] * (self.num_levels - 1 - j)
            in_channels[j + 1:] = [channels[j]] * (self.num_levels - 1 - j)

    def construct(self, *levels):
        """`levels`: the backbone maps first_level..5; returns them merged, shallowest first."""
        levels = tuple(levels)
        outputs = (levels[-1],)
        for i in range(self.num_levels - 1):
            start = self.num_levels - 2 - i
            merged = getattr(self, "ida_" + str(i))(*levels[start:])
            levels = levels[:start] + merged
            outputs = (levels[-1],) + outputs
        return outputs


class CenterNetPose(NamedHeads):
    """DLA-34 + DLAUp + IDAUp + heads; construct(x) returns the raw head maps in head order.

    Args:
        heads: ((name, channels), ...) in output order; the default is the COCO person-keypoint layout
            (hps channel 2j = dx_j, 2j+1 = dy_j; wh = (w, h); reg and hp_offset = (dx, dy); CENTERNET.md §A).
        head_conv: width of each head's 3x3 conv (256 for DLA-34 in the original).
        enable_dcn: True = DCNv2 in the up-sampling path (the original); False = plain 3x3 convs with the same
            `weight`/`bias` keys and no `conv_offset_mask` (for targets without a deformable-conv kernel).
        down_ratio: output stride; only 4 is supported (the heads read the stride-4 map).
        final_bias: initial bias of the last conv of the heatmap heads (`hm` and names starting with `hm_`):
            -2.19 = logit(0.1), so the focal loss starts from a 0.1 prior; the other heads' biases start at 0.
    """

    def __init__(self, heads=POSE_HEADS, head_conv=256, enable_dcn=True, down_ratio=4, final_bias=-2.19):
        super().__init__()
        if down_ratio != 4:
            raise ValueError(f"down_ratio={down_ratio}: only 4 is supported (heads at stride 4)")
        if head_conv <= 0:
            raise ValueError(f"head_conv={head_conv}: expected a positive width")
        heads = tuple((str(name), int(channels)) for name, channels in heads)
        if not heads or len({name for name, _ in heads}) != len(heads):
            raise ValueError(f"heads={heads}: expected a non-empty list of uniquely named heads")
        self.heads = heads
        self.enable_dcn = enable_dcn
        self.base = DLA34()
        channels = self.base.channels[FIRST_LEVEL:]  # (64, 128, 256, 512)
        scales = tuple(2 ** i for i in range(len(channels)))  # (1, 2, 4, 8)
        self.dla_up = DLAUp(channels, scales, enable_dcn)
        num_merged = LAST_LEVEL - FIRST_LEVEL  # 3: stride 4, 8, 16
        self.ida_up = IDAUp(channels[0], channels[:num_merged], tuple(2 ** i for i in range(num_merged)), enable_dcn)
        cells = {}
        for name, out_channels in heads:
            if out_channels <= 0:
                raise ValueError(f"head {name!r} has {out_channels} channels: expected > 0")
            if not name.isidentifier() or hasattr(self, name):
                raise ValueError(f"head name {name!r}: expected an identifier that is not a CenterNetPose attribute")
            is_heatmap = name == "hm" or name.startswith("hm_")
            cells[name] = self._head(channels[0], head_conv, out_channels, final_bias if is_heatmap else 0.0)
        self.set_heads(cells)

    @staticmethod
    def _head(in_channels, head_conv, out_channels, bias):
        """SequentialCell(conv3x3 + bias, ReLU, conv1x1 + bias): keys `.0.*` and `.2.*` as in the original.

        Weights: PyTorch's default conv initialisation (HeUniform with a = sqrt(5), i.e. U(+-1/sqrt(fan_in))), which
        the original keeps; biases 0 except the heatmap heads' final -2.19.
        """
        first = nn.Conv2d(in_channels, head_conv, 3, pad_mode="pad", padding=1, has_bias=True,
                          weight_init=HeUniform(negative_slope=math.sqrt(5)), bias_init="zeros")
        last = nn.Conv2d(head_conv, out_channels, 1, has_bias=True, weight_init=HeUniform(negative_slope=math.sqrt(5)),
                         bias_init=Constant(bias))
        return nn.SequentialCell([first, nn.ReLU(), last])

    def construct(self, x):
        levels = self.base(x)
        merged = self.dla_up(*levels[FIRST_LEVEL:])
        features = self.ida_up(*merged[:LAST_LEVEL - FIRST_LEVEL])[-1]
        return self.apply_heads(features)


def count_parameters(network):
    """Number of trainable values (conv weights/biases, BN gamma/beta; BN moving statistics excluded)."""
    return sum(int(np.prod(p.shape)) for p in network.trainable_params())
