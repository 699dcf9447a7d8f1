"""ResNet backbone (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016) in torchvision's layout.

The form CenterNet's `resnet_dcn.py` builds (and torchvision's ImageNet models ship): conv1 7x7/2 (pad 3, no bias),
bn1, ReLU, max-pool 3x3/2 (pad 1), then layer1..layer4 of residual blocks with 64, 128, 256, 512 planes, the
first block of layer2..4 carrying stride 2. BasicBlock (ResNet-18/34): conv3x3 (stride) -> bn -> ReLU -> conv3x3 ->
bn, + residual, ReLU. Bottleneck (ResNet-50/101/152): conv1x1 -> bn -> ReLU -> conv3x3 (stride) -> bn -> ReLU ->
conv1x1 (4x planes) -> bn, + residual, ReLU. A block whose stride or width changes has `downsample` = 1x1 conv
(stride) + bn on the residual path.

Parameter names are torchvision's state-dict keys (`conv1.weight`, `bn1.gamma`, `layer1.0.conv1.weight`,
`layer2.0.downsample.0.weight`, `layer2.0.downsample.1.moving_mean`, ...) with MindSpore's BatchNorm names (gamma,
beta, moving_mean, moving_variance for weight, bias, running_mean, running_var). The classifier (`avgpool`,
`fc`) is left out: the network returns the stride-32 feature map (512 channels, 2048 with Bottleneck).
BatchNorm: PyTorch's eps 1e-5 and momentum 0.1, as the original.
"""
from mindspore import nn, ops

from src.models.layers import batch_norm, conv_no_bias

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "StemMaxPool", "RESNET_SPECS", "STAGE_PLANES"]

STAGE_PLANES = (64, 128, 256, 512)


def _downsample(in_channels, out_channels, stride):
    """The residual projection of a block whose stride or width changes (keys `.0.weight`, `.1.*`), else an
    Identity (no parameters, as the original's None)."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.SequentialCell([conv_no_bias(in_channels, out_channels, 1, stride), batch_norm(out_channels)])


class StemMaxPool(nn.Cell):
    """PyTorch's `max_pool2d(x, 3, stride=2, padding=1)` of a NON-NEGATIVE x (the stem's pool follows a ReLU): a
    zero border then a valid 3x3 / stride-2 max-pool. For x >= 0 a zero border changes no maximum (every window
    holds at least one pixel of the map), so this equals PyTorch's implicit -inf padding.

    Why not `nn.MaxPool2d(pad_mode="pad", padding=1)`: MindSpore 2.10 runs that as MaxPool3DWithArgmax, which its
    ONNX exporter cannot write (nor `ops.pad`'s PadV3); `ops.Pad` + MaxPool export as ONNX Pad + MaxPool. Both
    MindSpore forms are slow on CPU (64 x 256 x 256, measured on a loaded machine: Pad 330 ms + pool 29 ms,
    MaxPool3DWithArgmax 137 ms), so the compiled CPU kernels replace this cell (src/models/kernels/maxpool.py).
    pad_mode "same" would pad only the bottom/right and shift every window by one pixel."""

    def __init__(self):
        super().__init__()
        self.pad = ops.Pad(((0, 0), (0, 0), (1, 1), (1, 1)))
        self.pool = ops.MaxPool(kernel_size=3, strides=2, pad_mode="VALID")

    def construct(self, x):
        return self.pool(self.pad(x))


class BasicBlock(nn.Cell):
    """conv1 3x3 (carries the stride) -> bn1 -> ReLU -> conv2 3x3 -> bn2, + downsample(x), ReLU."""

    expansion = 1

    def __init__(self, in_channels, planes, stride=1):
        super().__init__()
        self.conv1 = conv_no_bias(in_channels, planes, 3, stride)
        self.bn1 = batch_norm(planes)
        self.conv2 = conv_no_bias(planes, planes, 3)
        self.bn2 = batch_norm(planes)
        self.relu1 = nn.ReLU()  # its own cell, so that the training BatchNorm kernel can take it in (BN_RELU)
        self.relu = nn.ReLU()
        self.downsample = _downsample(in_channels, planes, stride)

    BN_RELU = {"bn1": "relu1"}

    def construct(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))


class Bottleneck(nn.Cell):
    """conv1 1x1 -> bn1 -> ReLU -> conv2 3x3 (carries the stride) -> bn2 -> ReLU -> conv3 1x1 (4x planes) -> bn3,
    + downsample(x), ReLU (the stride on the 3x3 conv, as torchvision and CenterNet's resnet_dcn.py)."""

    expansion = 4

    def __init__(self, in_channels, planes, stride=1):
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = conv_no_bias(in_channels, planes, 1)
        self.bn1 = batch_norm(planes)
        self.conv2 = conv_no_bias(planes, planes, 3, stride)
        self.bn2 = batch_norm(planes)
        self.conv3 = conv_no_bias(planes, out_channels, 1)
        self.bn3 = batch_norm(out_channels)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()  # their own cells: see BasicBlock
        self.relu = nn.ReLU()
        self.downsample = _downsample(in_channels, out_channels, stride)

    BN_RELU = {"bn1": "relu1", "bn2": "relu2"}

    def construct(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.downsample(x))


# depth -> (block, blocks per stage), torchvision's and CenterNet's `resnet_spec`
RESNET_SPECS = {18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)), 50: (Bottleneck, (3, 4, 6, 3)),
                101: (Bottleneck, (3, 4, 23, 3)), 152: (Bottleneck, (3, 8, 36, 3))}


class ResNet(nn.Cell):
    """ResNet-`num_layers` feature extractor (18, 34, 50, 101, 152): construct(x) returns the stride-32 map of
    `out_channels` channels; `features(x)` is the same for subclasses that add layers after it."""

    def __init__(self, num_layers=18):
        super().__init__()
        if num_layers not in RESNET_SPECS:
            raise ValueError(f"ResNet num_layers={num_layers!r}: expected one of {sorted(RESNET_SPECS)}")
        block, counts = RESNET_SPECS[num_layers]
        self.num_layers = num_layers
        self.conv1 = conv_no_bias(3, 64, 7, stride=2)
        self.bn1 = batch_norm(64)
        self.relu = nn.ReLU()
        self.maxpool = StemMaxPool()
        in_channels = 64
        for stage, (planes, count) in enumerate(zip(STAGE_PLANES, counts), start=1):
            blocks = []
            for i in range(count):
                blocks.append(block(in_channels, planes, 2 if stage > 1 and i == 0 else 1))
                in_channels = planes * block.expansion
            setattr(self, f"layer{stage}", nn.SequentialCell(blocks))
        self.out_channels = in_channels

    BN_RELU = {"bn1": "relu"}  # the stem's ReLU, used there only

    def features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def construct(self, x):
        return self.features(x)
