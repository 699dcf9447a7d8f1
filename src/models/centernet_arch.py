"""CenterNet networks by the original's `--arch` name, for every CenterNet task (pose, object detection).

    dla_34        src/models/dla_seg.py    DLA-34 + DLAUp/IDAUp (DCN) + heads, head_conv 256
    resdcn_<N>    src/models/resnet_dcn.py ResNet-N (18, 34, 50, 101, 152) + 3 x (DCN, ConvTranspose) + heads,
                                           head_conv 64 (the original publishes resdcn_18 and resdcn_101)

The default head width is the original's (`opts.py`: 256 if 'dla' in arch else 64). `backbone_prefixes(arch)`
names the parameters an ImageNet backbone checkpoint fills (DLA-34 under `base.`, ResNet at the top level).
"""
from src.models.resnet import RESNET_SPECS

__all__ = ["ARCHS", "parse_arch", "default_head_conv", "backbone_prefixes", "build_centernet_network"]

DLA_ARCH = "dla_34"
ARCHS = (DLA_ARCH,) + tuple(f"resdcn_{depth}" for depth in sorted(RESNET_SPECS))
RESNET_BACKBONE_PREFIXES = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")


def parse_arch(arch):
    """'dla_34' -> ('dla', 34); 'resdcn_18' -> ('resdcn', 18); ValueError naming the known ones otherwise."""
    if arch not in ARCHS:
        raise ValueError(f"arch {arch!r}: expected one of {', '.join(ARCHS)}")
    family, _, depth = arch.partition("_")
    return family, int(depth)


def default_head_conv(arch):
    """The original's head width for `arch`: 256 for DLA-34, 64 for the ResNets."""
    return 256 if parse_arch(arch)[0] == "dla" else 64


def backbone_prefixes(arch):
    """Prefixes of the parameter names an ImageNet backbone checkpoint of `arch` holds (a tuple, for
    str.startswith)."""
    return ("base.",) if parse_arch(arch)[0] == "dla" else RESNET_BACKBONE_PREFIXES


def build_centernet_network(arch, heads, head_conv=None, enable_dcn=True, down_ratio=4, final_bias=-2.19):
    """The network of `arch` with `heads` ((name, channels), ... in output order), in training form; head_conv
    None = the original's default for the arch."""
    family, depth = parse_arch(arch)
    head_conv = default_head_conv(arch) if head_conv is None else head_conv
    if family == "dla":
        from src.models.dla_seg import DLASeg

        return DLASeg(heads, head_conv=head_conv, enable_dcn=enable_dcn, down_ratio=down_ratio, final_bias=final_bias)
    from src.models.resnet_dcn import ResNetDCN

    return ResNetDCN(heads, num_layers=depth, head_conv=head_conv, enable_dcn=enable_dcn, down_ratio=down_ratio,
                     final_bias=final_bias)
