"""PyTorch twin of our CenterFace network and loss, for the training benchmark only (torch is optional).

It is what a user would otherwise train with: the same layers in the same order as
`src/models/{mobilenet_v2,centerface}.py` (MobileNetV2 taps at strides 4/8/16/32, the 24-channel
neck of ConvTranspose k2 s2 upsampling, four 1x1 heads, sigmoid on the heatmap) and the same objective
as `src/losses.py` (penalty-reduced focal loss with a straight-through clip, SmoothL1/L1 regression
gathered at object centres, the same weights and normalisations). Module names mirror ours, so a
MindSpore parameter name maps to a torch state-dict key by renaming only the BatchNorm fields
(`ms_to_torch_key`); `copy_mindspore_weights` uses that to load our weights for parity tests.

BatchNorm: MindSpore's `momentum=0.9` (weight of the old moving value) is torch's `momentum=0.1`.
"""
import math

import torch
from torch import nn

# (expand ratio t, output channels c, repeats n, first stride s): MobileNetV2 paper, Table 2 (width 1.0).
INVERTED_RESIDUAL_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                              (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
TAP_INDICES = (3, 6, 13, 17)
TAP_CHANNELS = (24, 32, 96, 320)
_BN_RENAMES = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}


def _activation(name):
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "relu6":
        return nn.ReLU6(inplace=True)
    raise ValueError(f"activation: expected 'relu' or 'relu6', got {name!r}")


class ConvBNAct(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size=1, stride=1, groups=1, act="relu"):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride, kernel_size // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=1e-5, momentum=0.1)
        self.act = _activation(act) if act else nn.Identity()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class InvertedResidual(nn.Module):
    def __init__(self, in_ch, out_ch, stride, expand_ratio, act="relu"):
        super().__init__()
        hidden = int(round(in_ch * expand_ratio))
        self.use_residual = stride == 1 and in_ch == out_ch
        self.expand = ConvBNAct(in_ch, hidden, 1, act=act) if expand_ratio != 1 else None
        self.depthwise = ConvBNAct(hidden, hidden, 3, stride, groups=hidden, act=act)
        self.project = ConvBNAct(hidden, out_ch, 1, act=None)

    def forward(self, x):
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.use_residual else y


class MobileNetV2Backbone(nn.Module):
    def __init__(self, act="relu"):
        super().__init__()
        layers = [ConvBNAct(3, 32, 3, 2, act=act)]
        in_ch = 32
        for t, c, n, s in INVERTED_RESIDUAL_SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(in_ch, c, s if i == 0 else 1, t, act=act))
                in_ch = c
        self.features = nn.ModuleList(layers)

    def forward(self, x):
        taps = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in TAP_INDICES:
                taps.append(x)
        return taps


class UpBlock(nn.Module):
    def __init__(self, channels, act="relu"):
        super().__init__()
        self.conv = nn.ConvTranspose2d(channels, channels, 2, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)
        self.act = _activation(act)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class CenterFaceNeck(nn.Module):
    def __init__(self, in_channels=TAP_CHANNELS, width=24, act="relu"):
        super().__init__()
        self.laterals = nn.ModuleList([ConvBNAct(c, width, 1, act=act) for c in in_channels])
        self.ups = nn.ModuleList([UpBlock(width, act) for _ in range(len(in_channels) - 1)])
        self.fuse = ConvBNAct(width, width, 3, act=act)

    def forward(self, c2, c3, c4, c5):
        x = self.laterals[3](c5)
        x = self.ups[2](x) + self.laterals[2](c4)
        x = self.ups[1](x) + self.laterals[1](c3)
        x = self.ups[0](x) + self.laterals[0](c2)
        return self.fuse(x)


class TorchCenterFace(nn.Module):
    """(N,3,H,W) RGB 0..255 -> (heatmap after sigmoid, scale, offset, landmarks), as our CenterFace."""

    def __init__(self, neck_width=24, act="relu", heatmap_prior=0.1):
        super().__init__()
        self.backbone = MobileNetV2Backbone(act)
        self.neck = CenterFaceNeck(TAP_CHANNELS, neck_width, act)
        self.head_heatmap = nn.Conv2d(neck_width, 1, 1)
        self.head_scale = nn.Conv2d(neck_width, 2, 1)
        self.head_offset = nn.Conv2d(neck_width, 2, 1)
        self.head_landmarks = nn.Conv2d(neck_width, 10, 1)
        # Same initial heads as ours: heatmap bias at the prior, small regression weights, zero biases.
        nn.init.normal_(self.head_heatmap.weight, std=0.01)
        nn.init.constant_(self.head_heatmap.bias, -math.log((1 - heatmap_prior) / heatmap_prior))
        for head in (self.head_scale, self.head_offset, self.head_landmarks):
            nn.init.normal_(head.weight, std=0.001)
            nn.init.zeros_(head.bias)

    def forward(self, x):
        feat = self.neck(*self.backbone(x))
        return (torch.sigmoid(self.head_heatmap(feat)), self.head_scale(feat), self.head_offset(feat),
                self.head_landmarks(feat))


def ms_to_torch_key(name):
    """MindSpore parameter name -> torch state-dict key (only BatchNorm fields are named differently)."""
    prefix, _, last = name.rpartition(".")
    return f"{prefix}.{_BN_RENAMES.get(last, last)}" if prefix else name


def copy_mindspore_weights(torch_net, ms_net):
    """Load every parameter of the MindSpore network into `torch_net`; every torch key must be covered."""
    state = {ms_to_torch_key(p.name): torch.from_numpy(p.asnumpy().copy()) for p in ms_net.get_parameters()}
    own = {k for k in torch_net.state_dict() if not k.endswith("num_batches_tracked")}
    if set(state) != own:
        raise KeyError(f"weight copy: keys differ; only in MindSpore: {sorted(set(state) - own)[:5]}, "
                       f"only in torch: {sorted(own - set(state))[:5]}")
    torch_net.load_state_dict(state, strict=False)


def gather_at_indices(maps, ind):
    """Values of `maps (N,C,h,w)` at flat cell indices `ind (N,K)` -> (N,K,C)."""
    n, c = maps.shape[:2]
    index = ind.long().unsqueeze(1).expand(n, c, ind.shape[1])
    return maps.reshape(n, c, -1).gather(2, index).transpose(1, 2)


def focal_loss(pred, target, alpha=2.0, beta=4.0, eps=1e-4):
    """Penalty-reduced focal loss with the straight-through clip of `src.losses.FocalLoss`."""
    pred = pred + (pred.clamp(eps, 1.0 - eps) - pred).detach()
    pos = (target == 1.0).float()
    pos_loss = torch.log(pred) * (1.0 - pred) ** alpha * pos
    neg_loss = torch.log(1.0 - pred) * pred ** alpha * (1.0 - target) ** beta * (1.0 - pos)
    return -(pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1.0)


def reg_loss(pred, ind, mask, target, weight=None, smooth=True):
    """Masked SmoothL1 (beta 1) or L1 at object centres, divided by `mask.sum() + 1e-4` as `src.losses.RegLoss`."""
    diff = gather_at_indices(pred, ind) - target
    absd = diff.abs()
    elem = torch.where(absd < 1.0, 0.5 * diff * diff, absd - 0.5) if smooth else absd
    mask = mask.float()
    if mask.dim() == 2:
        mask = mask.unsqueeze(-1)
    if weight is not None:
        elem = elem * weight.unsqueeze(-1)
    full = mask.expand_as(elem)
    elem = torch.where(full > 0, elem * full, torch.zeros_like(elem))
    return elem.sum() / (mask.sum() + 1e-4)


def centerface_loss(outputs, heatmap, ind, mask, scale, offset, landmarks, landmark_mask, size_weight,
                    weights=(1.0, 0.1, 1.0, 0.1)):
    """(total, hm, wh, off, lm) of `src.losses.CenterFaceLoss` (same argument order, default weights)."""
    hm_pred, scale_pred, offset_pred, lm_pred = outputs
    hm = focal_loss(hm_pred, heatmap)
    wh = reg_loss(scale_pred, ind, mask, scale, size_weight)
    off = reg_loss(offset_pred, ind, mask, offset)
    lm = reg_loss(lm_pred, ind, landmark_mask, landmarks, smooth=False)
    total = weights[0] * hm + weights[1] * wh + weights[2] * off + weights[3] * lm
    return total, hm, wh, off, lm
