"""A scalar float64 numpy transcription of DCNv2's modulated deformable convolution, and layers with offsets
spread over a few pixels: the reference of tests/models/test_dcn.py and of the compiled kernels' tests.

Written from DCNv2's sampling rule (docs/centernet.md "Deformable convolution layout"): for output pixel (h, w) and
kernel point k = 3i + j, sample the input at (h - 1 + i + dy_k, w - 1 + j + dx_k) where the offset conv's channel 2k
is dy_k and 2k+1 is dx_k; bilinear interpolation whose taps outside the map count 0, and a sample is 0 unless
-1 < y < H and -1 < x < W; the sample is multiplied by sigmoid(channel 18 + k).
"""
import math

import mindspore as ms
import numpy as np

from src.models.dcn import ModulatedDeformConv2d


def conv3x3_numpy(x, weight, bias):
    """3x3 / stride 1 / pad 1 cross-correlation in float64: (N, C, H, W) -> (N, O, H, W)."""
    n, c, h, w = x.shape
    padded = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, weight.shape[0], h, w))
    for i in range(3):
        for j in range(3):
            out += np.einsum("nchw,oc->nohw", padded[:, :, i:i + h, j:j + w], weight[:, :, i, j].astype(np.float64))
    return out + np.asarray(bias, np.float64)[None, :, None, None]


def bilinear_dcnv2(image, y, x):
    """DCNv2's bilinear sample of a 2-D map at (y, x): 0 outside -1 < y < H, -1 < x < W; outside taps are 0."""
    height, width = image.shape
    if not (-1 < y < height and -1 < x < width):
        return 0.0
    y0, x0 = math.floor(y), math.floor(x)
    ly, lx = y - y0, x - x0
    value = 0.0
    for row, wy in ((y0, 1 - ly), (y0 + 1, ly)):
        for col, wx in ((x0, 1 - lx), (x0 + 1, lx)):
            if 0 <= row < height and 0 <= col < width:
                value += wy * wx * image[row, col]
    return value


def dcnv2_numpy(x, weight, bias, offset_weight, offset_bias):
    """The whole layer in float64: offset conv, then the modulated deformable 3x3 conv, scalar loops."""
    x = x.astype(np.float64)
    raw = conv3x3_numpy(x, offset_weight, offset_bias)  # (N, 27, H, W) in DCNv2's channel order
    n, c, h, w = x.shape
    out_channels = weight.shape[0]
    w_flat = weight.reshape(out_channels, c, 9).astype(np.float64)
    out = np.zeros((n, out_channels, h, w))
    for b in range(n):
        for row in range(h):
            for col in range(w):
                columns = np.zeros((c, 9))
                for k in range(9):
                    i, j = divmod(k, 3)
                    sample_y = row - 1 + i + raw[b, 2 * k, row, col]
                    sample_x = col - 1 + j + raw[b, 2 * k + 1, row, col]
                    mask = 1.0 / (1.0 + math.exp(-raw[b, 18 + k, row, col]))
                    for ch in range(c):
                        columns[ch, k] = bilinear_dcnv2(x[b, ch], sample_y, sample_x) * mask
                out[b, :, row, col] = np.einsum("ck,ock->o", columns, w_flat) + bias
    return out, raw


def random_layer(in_channels, out_channels, seed, offset_px=3.0):
    """A layer whose offset conv yields offsets spread over about +-offset_px (bias) plus a varying part."""
    rng = np.random.default_rng(seed)
    layer = ModulatedDeformConv2d(in_channels, out_channels)
    values = {
        "weight": rng.standard_normal((out_channels, in_channels, 3, 3)) / math.sqrt(9 * in_channels),
        "bias": rng.standard_normal(out_channels) * 0.5,
        "offset_weight": rng.standard_normal((27, in_channels, 3, 3)) * 0.5 / math.sqrt(9 * in_channels),
        "offset_bias": np.concatenate([rng.uniform(-offset_px, offset_px, 18), rng.standard_normal(9)]),
    }
    values = {k: v.astype(np.float32) for k, v in values.items()}
    layer.weight.set_data(ms.Tensor(values["weight"]))
    layer.bias.set_data(ms.Tensor(values["bias"]))
    layer.conv_offset_mask.weight.set_data(ms.Tensor(values["offset_weight"]))
    layer.conv_offset_mask.bias.set_data(ms.Tensor(values["offset_bias"]))
    return layer, values
