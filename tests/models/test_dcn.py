"""Tests for src/models/dcn.py against a scalar numpy transcription of DCNv2's modulated deformable convolution.

The reference below is written from DCNv2's sampling rule (docs/centernet.md "Deformable convolution layout"): for
output pixel (h, w) and kernel point k = 3i + j, sample the input at (h - 1 + i + dy_k, w - 1 + j + dx_k) where the
offset conv's channel 2k is dy_k and 2k+1 is dx_k; bilinear interpolation whose taps outside the map count 0, and a
sample is 0 unless
-1 < y < H and -1 < x < W; the sample is multiplied by sigmoid(channel 18 + k).
"""
import math

import mindspore as ms
import numpy as np
import pytest

from src.models.dcn import ModulatedDeformConv2d, plain_conv3x3


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


def test_parameter_names_shapes_and_initialisation():
    layer = ModulatedDeformConv2d(6, 4)
    shapes = {name: tuple(p.shape) for name, p in layer.parameters_and_names()}
    assert shapes == {"weight": (4, 6, 3, 3), "bias": (4,), "conv_offset_mask.weight": (27, 6, 3, 3),
                      "conv_offset_mask.bias": (27,)}
    assert not layer.conv_offset_mask.weight.asnumpy().any() and not layer.conv_offset_mask.bias.asnumpy().any()
    assert not layer.bias.asnumpy().any()
    weight = layer.weight.asnumpy()
    bound = 1 / math.sqrt(9 * 6)
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.8 * bound  # U(-bound, bound), 216 draws

    plain = plain_conv3x3(6, 4)
    assert {name: tuple(p.shape) for name, p in plain.parameters_and_names()} == {"weight": (4, 6, 3, 3),
                                                                                  "bias": (4,)}
    with pytest.raises(ValueError, match="in_channels=0"):
        ModulatedDeformConv2d(0, 4)
    with pytest.raises(ValueError, match="out_channels=-1"):
        plain_conv3x3(3, -1)


def test_matches_scalar_dcnv2_transcription(mode):
    layer, values = random_layer(5, 4, seed=0)
    x = np.random.default_rng(1).standard_normal((2, 5, 7, 9)).astype(np.float32)
    ours = layer(ms.Tensor(x)).asnumpy()
    ref, raw = dcnv2_numpy(x, values["weight"], values["bias"], values["offset_weight"], values["offset_bias"])
    offsets = raw[:, :18]
    # The case is meaningful: offsets of several pixels, both signs, samples falling off the map.
    assert np.abs(offsets).max() > 2.5 and offsets.min() < -1 and offsets.max() > 1
    rows = np.arange(7)[None, None, :, None] - 1 + np.repeat(np.arange(3), 3)[None, :, None, None] + offsets[:, 0::2]
    assert ((rows <= -1) | (rows >= 7)).mean() > 0.05
    # float32 network vs float64 reference: a few ulps of values of order 1 summed over 45 products.
    np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-5 * max(1.0, np.abs(ref).max()))


def test_hand_computed_half_pixel_shifts(mode):
    """Only kernel point 4 (the centre) has weight 1, mask ~1: output = the input sampled at (h + dy, w + dx)."""
    layer = ModulatedDeformConv2d(1, 1)
    weight = np.zeros((1, 1, 3, 3), np.float32)
    weight[0, 0, 1, 1] = 1.0
    layer.weight.set_data(ms.Tensor(weight))
    offset_bias = np.zeros(27, np.float32)
    offset_bias[18:] = 30.0  # sigmoid(30) = 1 - 9e-14
    x = np.arange(1, 21, dtype=np.float32).reshape(1, 1, 4, 5)

    offset_bias[2 * 4 + 1] = 0.5  # channel 9 = dx of the centre point
    layer.conv_offset_mask.bias.set_data(ms.Tensor(offset_bias))
    out = layer(ms.Tensor(x)).asnumpy()[0, 0]
    expected = np.zeros((4, 5), np.float32)
    expected[:, :4] = (x[0, 0, :, :4] + x[0, 0, :, 1:]) / 2
    expected[:, 4] = x[0, 0, :, 4] / 2  # the right tap is outside the map and counts 0
    np.testing.assert_allclose(out, expected, atol=1e-5)

    offset_bias[2 * 4 + 1] = 0.0
    offset_bias[2 * 4] = -1.25  # channel 8 = dy of the centre point: sample at row h - 1.25
    layer.conv_offset_mask.bias.set_data(ms.Tensor(offset_bias))
    out = layer(ms.Tensor(x)).asnumpy()[0, 0]
    img = x[0, 0]
    expected = np.zeros((4, 5), np.float32)
    expected[0] = 0.0  # y = -1.25 is outside (-1, H)
    expected[1] = 0.75 * img[0]  # y = -0.25: row -1 (weight 0.25) is outside, row 0 has weight 0.75
    expected[2] = 0.25 * img[0] + 0.75 * img[1]
    expected[3] = 0.25 * img[1] + 0.75 * img[2]
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_fresh_layer_is_half_a_plain_conv(mode):
    """Zero-initialised offset conv: regular grid, mask sigmoid(0) = 0.5, so out = 0.5 * conv(x, W) + b."""
    layer = ModulatedDeformConv2d(3, 2)
    bias = np.array([0.3, -0.7], np.float32)
    layer.bias.set_data(ms.Tensor(bias))
    x = np.random.default_rng(2).standard_normal((1, 3, 6, 5)).astype(np.float32)
    weight = layer.weight.asnumpy()
    expected = 0.5 * conv3x3_numpy(x, weight, np.zeros(2)) + bias[None, :, None, None]
    np.testing.assert_allclose(layer(ms.Tensor(x)).asnumpy(), expected, atol=1e-5)
    plain = plain_conv3x3(3, 2)
    np.testing.assert_allclose(plain(ms.Tensor(x)).asnumpy(),
                               conv3x3_numpy(x, plain.weight.asnumpy(), plain.bias.asnumpy()), atol=1e-5)


def test_gradients_match_finite_differences_of_the_reference(mode):
    """Analytic gradients of sum(out * R) w.r.t. input, weight and offset-conv weight vs central differences of the
    float64 numpy reference (eps 1e-5; bilinear sampling is piecewise linear, so a kink within 1e-5 px of a sample
    position is the only way the difference could be off: improbable with random offsets)."""
    layer, values = random_layer(2, 2, seed=3, offset_px=1.5)
    rng = np.random.default_rng(4)
    # batch 2: MindSpore 2.10's CPU StridedSliceGrad fails for batch > 1, which a batch of 1 would not reveal
    x = rng.standard_normal((2, 2, 4, 4)).astype(np.float32)
    probe = rng.standard_normal((2, 2, 4, 4))

    def loss_ms(inp):
        return (layer(inp) * ms.Tensor(probe.astype(np.float32))).sum()

    grad_fn = ms.grad(loss_ms, grad_position=0, weights=(layer.weight, layer.conv_offset_mask.weight))
    grad_x, (grad_w, grad_offset_w) = grad_fn(ms.Tensor(x))
    grads = {"x": grad_x.asnumpy(), "weight": grad_w.asnumpy(), "offset_weight": grad_offset_w.asnumpy()}
    for name, grad in grads.items():
        assert np.isfinite(grad).all(), name

    def loss_ref(arrays):
        out, _ = dcnv2_numpy(arrays["x"], arrays["weight"], values["bias"], arrays["offset_weight"],
                             values["offset_bias"])
        return float((out * probe).sum())

    base = {"x": x.astype(np.float64), "weight": values["weight"].astype(np.float64),
            "offset_weight": values["offset_weight"].astype(np.float64)}
    eps = 1e-5
    for name, grad in grads.items():
        flat_indices = rng.choice(grad.size, size=min(grad.size, 12), replace=False)
        for flat in flat_indices:
            index = np.unravel_index(flat, grad.shape)
            plus = {k: v.copy() for k, v in base.items()}
            minus = {k: v.copy() for k, v in base.items()}
            plus[name][index] += eps
            minus[name][index] -= eps
            numeric = (loss_ref(plus) - loss_ref(minus)) / (2 * eps)
            # float32 gradients of a loss of magnitude ~1: 1e-3 absolute + relative
            assert abs(grad[index] - numeric) <= 1e-3 + 1e-3 * abs(numeric), (name, index, grad[index], numeric)
    assert np.abs(grads["offset_weight"]).max() > 1e-2  # the offsets do receive a gradient
