"""PyTorch twins of the CenterNet networks and losses: the parity tests' reference and the benchmarks' peer.

The networks are transcriptions of the ORIGINAL CenterNet networks, written for this project from facts read in
xingyizhou/CenterNet (`pose_dla_dcn.py`, `resnet_dcn.py`, DCNv2: module structure, attribute names, forward
order; docs/centernet.md "Network" and "Deformable convolution layout"), not copied from it:
* `TorchDLASeg`: DLASeg with DLA-34, DLAUp/IDAUp and DCNv2 (`pose_dla_dcn.py`; arch dla_34), any heads;
* `TorchResNetDCN`: PoseResNet of `resnet_dcn.py` (arch resdcn_N): a torchvision-layout ResNet (`TorchResNet`,
  written from torchvision's published structure: torchvision itself is not installed here), then three
  [DCN 3x3, BN, ReLU, full ConvTranspose 4x4/2, BN, ReLU] stages as one Sequential `deconv_layers`, then heads.
Module attribute names reproduce the original state-dict keys (`base.level3.tree1.tree1.conv1.weight`,
`dla_up.ida_0.proj_1.conv.conv_offset_mask.weight`, `layer1.0.conv1.weight`, `deconv_layers.3.weight`,
`hm.2.bias`, ...), so a state_dict() of a twin has exactly the layout of an original checkpoint, and a MindSpore
parameter name maps to a torch key by renaming the BatchNorm fields only
(`benchmarks.torch_centerface.ms_to_torch_key`).

The DCNv2 kernel is not available on CPU here (and torchvision's compiled ops do not load with this torch
wheel), so `TorchDCN` computes the modulated deformable convolution with one `F.grid_sample` per kernel point
(bilinear, align_corners=True, zero padding), which reproduces DCNv2's sampling rule: taps outside the map are 0,
and a sample is 0 unless -1 < y < H and -1 < x < W (docs/centernet.md "Deformable convolution layout"). Offsets keep
DCNv2's channel order: channel 2k = dy_k, 2k+1 = dx_k for kernel point k = 3i + j, mask = sigmoid(channels 18..26).
Among the pure-torch ways it is as fast as any: one grid_sample over all nine points at once measured 8% slower at 64
channels / 128x128 and 20% faster at 256 channels / 32x32 (interleaved, loaded machine), so neither wins overall.

`pose_loss` is the twin of `src.centernet_pose.loss.CenterNetPoseLoss` with the pose config's defaults (focal
loss with the straight-through clip on hm and hm_hp, L1 regressions normalised as there); `ctdet_loss` is the
original ctdet objective (hm focal + 0.1 wh L1 + reg L1, RegL1Loss normalisation); both are built from the shared
torch losses of `benchmarks/torch_centerface.py`. Used by the network parity tests (with the helpers of
tests/models/torch_reference.py), tests/models/kernels and benchmarks/bench_centernet.py (speed).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.torch_centerface import focal_loss, reg_loss

BN_MOMENTUM = 0.1


class TorchDCN(nn.Module):
    """Modulated deformable conv 3x3 / stride 1 / pad 1 / 1 deformable group (DCNv2 semantics)."""

    def __init__(self, chi, cho):
        super().__init__()
        bound = 1 / math.sqrt(9 * chi)
        self.weight = nn.Parameter(torch.empty(cho, chi, 3, 3).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(cho))
        self.conv_offset_mask = nn.Conv2d(chi, 27, 3, stride=1, padding=1, bias=True)
        nn.init.zeros_(self.conv_offset_mask.weight)
        nn.init.zeros_(self.conv_offset_mask.bias)

    def offsets_and_mask(self, x):
        """((N, 9, H, W) dy, (N, 9, H, W) dx, (N, 9, H, W) mask) in DCNv2's channel order."""
        out = self.conv_offset_mask(x)
        return out[:, 0:18:2], out[:, 1:18:2], torch.sigmoid(out[:, 18:27])

    def forward(self, x):
        n, c, h, w = x.shape
        dy, dx, mask = self.offsets_and_mask(x)
        rows = torch.arange(h, dtype=x.dtype).view(1, h, 1)
        cols = torch.arange(w, dtype=x.dtype).view(1, 1, w)
        samples = []
        for k in range(9):
            i, j = divmod(k, 3)
            y = rows - 1 + i + dy[:, k]  # (N, H, W) absolute sampling position (pad 1, dilation 1)
            xx = cols - 1 + j + dx[:, k]
            # align_corners=True: -1 and +1 are the centres of the first and last pixels.
            grid = torch.stack((xx * 2 / (w - 1) - 1, y * 2 / (h - 1) - 1), dim=-1)
            sampled = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
            samples.append(sampled * mask[:, k:k + 1])
        cols9 = torch.stack(samples, dim=2)  # (N, C, 9, H, W)
        out = torch.einsum("nckhw,ock->nohw", cols9, self.weight.reshape(self.weight.shape[0], c, 9))
        return out + self.bias.view(1, -1, 1, 1)


class TorchDeformConv(nn.Module):
    def __init__(self, chi, cho, enable_dcn=True):
        super().__init__()
        self.actf = nn.Sequential(nn.BatchNorm2d(cho, momentum=BN_MOMENTUM), nn.ReLU(inplace=False))
        self.conv = TorchDCN(chi, cho) if enable_dcn else nn.Conv2d(chi, cho, 3, stride=1, padding=1, bias=True)

    def forward(self, x):
        return self.actf(self.conv(x))


class TorchBasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)

    def forward(self, x, residual=None):
        if residual is None:
            residual = x
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + residual)


class TorchRoot(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=1, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM)

    def forward(self, *x):
        return F.relu(self.bn(self.conv(torch.cat(x, 1))))


class TorchTree(nn.Module):
    """Follows the original's forward literally: residual computed and handed down, children list appended."""

    def __init__(self, levels, in_channels, out_channels, stride=1, level_root=False, root_dim=0):
        super().__init__()
        if root_dim == 0:
            root_dim = 2 * out_channels
        if level_root:
            root_dim += in_channels
        if levels == 1:
            self.tree1 = TorchBasicBlock(in_channels, out_channels, stride)
            self.tree2 = TorchBasicBlock(out_channels, out_channels, 1)
            self.root = TorchRoot(root_dim, out_channels)
        else:
            self.tree1 = TorchTree(levels - 1, in_channels, out_channels, stride, root_dim=0)
            self.tree2 = TorchTree(levels - 1, out_channels, out_channels, root_dim=root_dim + out_channels)
        self.level_root = level_root
        self.levels = levels
        self.downsample = nn.MaxPool2d(stride, stride=stride) if stride > 1 else None
        self.project = None
        if in_channels != out_channels:
            self.project = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=1, bias=False),
                                         nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM))

    def forward(self, x, residual=None, children=None):
        children = [] if children is None else children
        bottom = self.downsample(x) if self.downsample is not None else x
        residual = self.project(bottom) if self.project is not None else bottom
        if self.level_root:
            children.append(bottom)
        x1 = self.tree1(x, residual)
        if self.levels == 1:
            x2 = self.tree2(x1)
            return self.root(x2, x1, *children)
        children.append(x1)
        return self.tree2(x1, children=children)


class TorchDLA34(nn.Module):
    """DLA-34; `with_fc` adds the ImageNet classifier conv (512 -> 1000, 1x1) that CenterNet checkpoints carry."""

    def __init__(self, with_fc=False):
        super().__init__()
        channels = [16, 32, 64, 128, 256, 512]
        self.base_layer = nn.Sequential(nn.Conv2d(3, 16, 7, stride=1, padding=3, bias=False),
                                        nn.BatchNorm2d(16, momentum=BN_MOMENTUM), nn.ReLU(inplace=False))
        self.level0 = nn.Sequential(nn.Conv2d(16, 16, 3, stride=1, padding=1, bias=False),
                                    nn.BatchNorm2d(16, momentum=BN_MOMENTUM), nn.ReLU(inplace=False))
        self.level1 = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False),
                                    nn.BatchNorm2d(32, momentum=BN_MOMENTUM), nn.ReLU(inplace=False))
        self.level2 = TorchTree(1, channels[1], channels[2], 2, level_root=False)
        self.level3 = TorchTree(2, channels[2], channels[3], 2, level_root=True)
        self.level4 = TorchTree(2, channels[3], channels[4], 2, level_root=True)
        self.level5 = TorchTree(1, channels[4], channels[5], 2, level_root=True)
        if with_fc:
            self.fc = nn.Conv2d(512, 1000, 1, bias=True)

    def forward(self, x):
        outs = []
        x = self.base_layer(x)
        for i in range(6):
            x = getattr(self, f"level{i}")(x)
            outs.append(x)
        return outs


def fill_up_weights_reference(up):
    """Bilinear kernel: f = ceil(k/2), c = (2f-1-f%2)/(2f), w = (1-|i/f-c|)(1-|j/f-c|), on every channel."""
    w = up.weight.data
    k = w.size(2)
    f = math.ceil(k / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    for i in range(k):
        for j in range(k):
            w[0, 0, i, j] = (1 - abs(i / f - c)) * (1 - abs(j / f - c))
    for ch in range(1, w.size(0)):
        w[ch, 0] = w[0, 0]


class TorchIDAUp(nn.Module):
    def __init__(self, o, channels, up_f, enable_dcn=True):
        super().__init__()
        for i in range(1, len(channels)):
            f = int(up_f[i])
            setattr(self, f"proj_{i}", TorchDeformConv(channels[i], o, enable_dcn))
            up = nn.ConvTranspose2d(o, o, f * 2, stride=f, padding=f // 2, output_padding=0, groups=o, bias=False)
            fill_up_weights_reference(up)
            setattr(self, f"up_{i}", up)
            setattr(self, f"node_{i}", TorchDeformConv(o, o, enable_dcn))

    def forward(self, layers, startp, endp):
        for i in range(startp + 1, endp):
            upsample = getattr(self, f"up_{i - startp}")
            project = getattr(self, f"proj_{i - startp}")
            layers[i] = upsample(project(layers[i]))
            node = getattr(self, f"node_{i - startp}")
            layers[i] = node(layers[i] + layers[i - 1])


class TorchDLAUp(nn.Module):
    def __init__(self, startp, channels, scales, enable_dcn=True):
        super().__init__()
        self.startp = startp
        in_channels = list(channels)
        scales = np.array(scales, dtype=int)
        for i in range(len(channels) - 1):
            j = -i - 2
            setattr(self, f"ida_{i}", TorchIDAUp(channels[j], in_channels[j:], scales[j:] // scales[j], enable_dcn))
            scales[j + 1:] = scales[j]
            in_channels[j + 1:] = [channels[j] for _ in channels[j + 1:]]

    def forward(self, layers):
        out = [layers[-1]]
        for i in range(len(layers) - self.startp - 1):
            getattr(self, f"ida_{i}")(layers, len(layers) - i - 2, len(layers))
            out.insert(0, layers[-1])
        return out


POSE_HEADS = (("hm", 1), ("wh", 2), ("hps", 34), ("reg", 2), ("hm_hp", 17), ("hp_offset", 2))
CTDET_HEADS = (("hm", 80), ("wh", 2), ("reg", 2))


def add_heads(model, heads, in_channels, head_conv):
    """The original heads: conv3x3 (bias) + ReLU + conv1x1 (bias) per (name, channels), as attributes `name`;
    'hm' heads' last bias -2.19, the other heads' biases 0."""
    for name, classes in heads:
        fc = nn.Sequential(nn.Conv2d(in_channels, head_conv, 3, padding=1, bias=True), nn.ReLU(inplace=False),
                           nn.Conv2d(head_conv, classes, 1, stride=1, padding=0, bias=True))
        if "hm" in name:
            fc[-1].bias.data.fill_(-2.19)
        else:
            nn.init.zeros_(fc[0].bias)
            nn.init.zeros_(fc[-1].bias)
        setattr(model, name, fc)


class TorchDLASeg(nn.Module):
    """DLASeg('dla34', heads, down_ratio=4, final_kernel=1, last_level=5, head_conv=256); forward -> tuple of maps."""

    def __init__(self, heads=POSE_HEADS, head_conv=256, enable_dcn=True, with_fc=True):
        super().__init__()
        self.heads = tuple(heads)
        self.first_level, self.last_level = 2, 5
        self.base = TorchDLA34(with_fc=with_fc)
        channels = [16, 32, 64, 128, 256, 512]
        scales = [2 ** i for i in range(len(channels[self.first_level:]))]
        self.dla_up = TorchDLAUp(self.first_level, channels[self.first_level:], scales, enable_dcn)
        self.ida_up = TorchIDAUp(64, channels[self.first_level:self.last_level],
                                 [2 ** i for i in range(self.last_level - self.first_level)], enable_dcn)
        add_heads(self, self.heads, 64, head_conv)

    def forward(self, x):
        x = self.base(x)
        x = self.dla_up(x)
        y = [x[i].clone() for i in range(self.last_level - self.first_level)]
        self.ida_up(y, 0, len(y))
        return tuple(getattr(self, name)(y[-1]) for name, _ in self.heads)


class TorchResNetBasicBlock(nn.Module):
    """torchvision's BasicBlock: conv3x3 (stride) -> bn -> relu -> conv3x3 -> bn, + residual (downsample), relu."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchResNetBottleneck(nn.Module):
    """torchvision's Bottleneck (v1.5, stride on the 3x3): 1x1 -> bn -> relu -> 3x3 (stride) -> bn -> relu ->
    1x1 (4x) -> bn, + residual (downsample), relu."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4, momentum=BN_MOMENTUM)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


TORCH_RESNET_SPECS = {18: (TorchResNetBasicBlock, (2, 2, 2, 2)), 34: (TorchResNetBasicBlock, (3, 4, 6, 3)),
                      50: (TorchResNetBottleneck, (3, 4, 6, 3)), 101: (TorchResNetBottleneck, (3, 4, 23, 3)),
                      152: (TorchResNetBottleneck, (3, 8, 36, 3))}


class TorchResNet(nn.Module):
    """torchvision's ResNet-N layout: conv1 7x7/2 pad 3, bn1, relu, maxpool 3x3/2 pad 1, layer1..4 (64, 128, 256,
    512 planes, stride 2 from layer2 on, `downsample` = Sequential(1x1 conv stride, BN) where stride or width
    change); `with_fc` adds the ImageNet classifier (avgpool + fc 1000) that torchvision's state dicts carry.
    forward -> the stride-32 map (or the logits with `classify`)."""

    def __init__(self, num_layers=18, with_fc=False):
        super().__init__()
        block, counts = TORCH_RESNET_SPECS[num_layers]
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.inplanes = 64
        for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), counts), start=1):
            stride = 1 if stage == 1 else 2
            downsample = None
            if stride != 1 or self.inplanes != planes * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes * block.expansion, momentum=BN_MOMENTUM))
            blocks = [block(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * block.expansion
            blocks += [block(self.inplanes, planes) for _ in range(1, count)]
            setattr(self, f"layer{stage}", nn.Sequential(*blocks))
        if with_fc:
            self.fc = nn.Linear(512 * block.expansion, 1000)

    def features(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x):
        return self.features(x)


class TorchResNetDCN(TorchResNet):
    """PoseResNet of resnet_dcn.py: TorchResNet, then `deconv_layers` = 3 x [DCN 3x3 (in -> 256/128/64), BN, ReLU,
    ConvTranspose 4x4 stride 2 pad 1 (planes -> planes, full, no bias; w[:, 0] bilinear as `fill_up_weights`
    leaves it, the rest PyTorch's default), BN, ReLU] as one Sequential (indices 0..17), then the heads on 64
    channels; forward -> tuple of maps in head order. enable_dcn False: plain 3x3 convs with bias instead."""

    def __init__(self, heads=CTDET_HEADS, num_layers=18, head_conv=64, enable_dcn=True):
        super().__init__(num_layers)
        self.heads = tuple(heads)
        layers = []
        for planes in (256, 128, 64):
            conv = TorchDCN(self.inplanes, planes) if enable_dcn else nn.Conv2d(self.inplanes, planes, 3, padding=1)
            up = nn.ConvTranspose2d(planes, planes, 4, stride=2, padding=1, output_padding=0, bias=False)
            fill_up_weights_reference(up)
            layers += [conv, nn.BatchNorm2d(planes, momentum=BN_MOMENTUM), nn.ReLU(inplace=False), up,
                       nn.BatchNorm2d(planes, momentum=BN_MOMENTUM), nn.ReLU(inplace=False)]
            self.inplanes = planes
        self.deconv_layers = nn.Sequential(*layers)
        add_heads(self, self.heads, 64, head_conv)

    def forward(self, x):
        x = self.deconv_layers(self.features(x))
        return tuple(getattr(self, name)(x) for name, _ in self.heads)


def object_l1(pred, index, mask, target):
    """L1 at the object cells, normalised by the object mask expanded over the coordinates (2 x #objects), as
    the original's RegL1Loss."""
    return reg_loss(pred, index, mask.float().unsqueeze(-1).expand_as(target), target, smooth=False)


def ctdet_loss(outputs, hm_t, wh_t, reg_t, ind, reg_mask, weights=(1.0, 0.1, 1.0)):
    """(total, hm, wh, off) of the original ctdet objective (`trains/ctdet.py`, defaults: focal loss on the
    clamped sigmoid, RegL1Loss for wh and reg); `outputs` = the RAW (hm, wh, reg) maps; weights (hm, wh, off)."""
    hm, wh, reg = outputs
    hm_loss = focal_loss(torch.sigmoid(hm), hm_t)
    wh_loss = object_l1(wh, ind, reg_mask, wh_t)
    off_loss = object_l1(reg, ind, reg_mask, reg_t)
    return weights[0] * hm_loss + weights[1] * wh_loss + weights[2] * off_loss, hm_loss, wh_loss, off_loss


def pose_loss(outputs, hm_t, wh_t, reg_t, ind, reg_mask, hps_t, hps_mask, hm_hp_t, hp_offset_t, hp_ind, hp_mask,
              weights=(1.0, 0.1, 1.0, 1.0, 1.0)):
    """(total, hm, hp, hm_hp, hp_offset, wh, off) of `CenterNetPoseLoss` with reg_loss "l1", no dense_hp and every
    head on; `outputs` = the six RAW maps (hm, wh, hps, reg, hm_hp, hp_offset); targets in `PoseTargets.keys` order.
    weights = (hm, wh, off, hp, hm_hp); `off` weighs both offset terms as in the original."""
    hm, wh, hps, reg, hm_hp, hp_offset = outputs
    hm_w, wh_w, off_w, hp_w, hm_hp_w = weights

    hm_loss = focal_loss(torch.sigmoid(hm), hm_t)
    hp_loss = reg_loss(hps, ind, hps_mask, hps_t, smooth=False)
    wh_loss = object_l1(wh, ind, reg_mask, wh_t)
    off_loss = object_l1(reg, ind, reg_mask, reg_t)
    hp_offset_loss = object_l1(hp_offset, hp_ind, hp_mask, hp_offset_t)
    hm_hp_loss = focal_loss(torch.sigmoid(hm_hp), hm_hp_t)
    total = (hm_w * hm_loss + wh_w * wh_loss + off_w * off_loss + hp_w * hp_loss + hm_hp_w * hm_hp_loss
             + off_w * hp_offset_loss)
    return total, hm_loss, hp_loss, hm_hp_loss, hp_offset_loss, wh_loss, off_loss
