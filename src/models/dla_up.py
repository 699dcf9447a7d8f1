"""CenterNet's DLA up-sampling necks (Zhou et al., "Objects as Points", 2019): DLAUp and IDAUp over DLA-34 levels.

Structure and parameter names follow the original `pose_dla_dcn.py` (`dla_up.ida_{0,1,2}.{proj,up,node}_k`,
`ida_up.*`), so original checkpoints load key for key. Every CenterNet task with a DLA-34 backbone (multi-person
pose, object detection) uses them through `src/models/dla_seg.py`.
"""
from mindspore import Tensor, nn

from src.models.dcn import ModulatedDeformConv2d, plain_conv3x3
from src.models.layers import batch_norm, bilinear_upsample_weight

__all__ = ["DeformConv", "IDAUp", "DLAUp"]


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
    """Merges backbone levels first_level..5 top-down with three IDAUps (docs/centernet.md "Network").

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
