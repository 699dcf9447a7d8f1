"""CenterNet's DLA-34 network (Zhou et al., "Objects as Points", 2019): DLA-34 + DLAUp/IDAUp + named heads.

The original `DLASeg('dla34', heads, down_ratio=4, final_kernel=1, last_level=5, head_conv=256)` of
`pose_dla_dcn.py`, shared by every CenterNet task with a DLA-34 backbone (multi-person pose: hm, wh, hps, reg,
hm_hp, hp_offset; object detection: hm, wh, reg). Parameter names are the original's (the backbone under `base`,
the aggregation under `dla_up.ida_{0,1,2}` and `ida_up`, the heads under their names), so a checkpoint converted
by src/convert_weight_centernet.py loads key for key.

Input: normalised BGR image (x/255 - mean) / std, (N, 3, H, W) with H and W multiples of 32.
Output: the RAW head maps at stride 4, in head order; no sigmoid is applied (losses and decoders apply it to
the heatmap heads).
"""
from src.models.dla import DLA34
from src.models.dla_up import DLAUp, IDAUp
from src.models.layers import NamedHeads

__all__ = ["DLASeg", "FIRST_LEVEL", "LAST_LEVEL"]

FIRST_LEVEL = 2  # log2(down_ratio 4): the heads read the stride-4 map
LAST_LEVEL = 5


class DLASeg(NamedHeads):
    """The original `DLASeg('dla34', heads, down_ratio=4, final_kernel=1, last_level=5, head_conv)`: DLA-34 +
    DLAUp + IDAUp + heads; construct(x) returns the raw head maps in head order.

    Args:
        heads: ((name, channels), ...) in output order (each task computes its list from its config).
        head_conv: width of each head's 3x3 conv (256 for DLA-34 in the original).
        enable_dcn: True = DCNv2 in the up-sampling path (the original); False = plain 3x3 convs with the same
            `weight`/`bias` keys and no `conv_offset_mask` (for targets without a deformable-conv kernel).
        down_ratio: output stride; only 4 is supported (the heads read the stride-4 map).
        final_bias: initial bias of the last conv of the heatmap heads (`hm` and names starting with `hm_`):
            -2.19 = logit(0.1), so the focal loss starts from a 0.1 prior; the other heads' biases start at 0.
    """

    def __init__(self, heads, head_conv=256, enable_dcn=True, down_ratio=4, final_bias=-2.19):
        super().__init__()
        if down_ratio != 4:
            raise ValueError(f"down_ratio={down_ratio}: only 4 is supported (heads at stride 4)")
        self.enable_dcn = enable_dcn
        self.base = DLA34()
        channels = self.base.channels[FIRST_LEVEL:]  # (64, 128, 256, 512)
        scales = tuple(2 ** i for i in range(len(channels)))  # (1, 2, 4, 8)
        self.dla_up = DLAUp(channels, scales, enable_dcn)
        num_merged = LAST_LEVEL - FIRST_LEVEL  # 3: stride 4, 8, 16
        self.ida_up = IDAUp(channels[0], channels[:num_merged], tuple(2 ** i for i in range(num_merged)), enable_dcn)
        self.set_centernet_heads(heads, channels[0], head_conv, final_bias)

    def construct(self, x):
        levels = self.base(x)
        merged = self.dla_up(*levels[FIRST_LEVEL:])
        features = self.ida_up(*merged[:LAST_LEVEL - FIRST_LEVEL])[-1]
        return self.apply_heads(features)
