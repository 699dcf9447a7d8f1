"""Tests for src/convert_weight_centerface.py: the converted checkpoint reproduces the official ONNX.

Acceptance test of the conversion: our MindSpore network with the converted weights against onnxruntime
running the official centerface.onnx on the same input.
"""
import mindspore as ms
import numpy as np
import pytest

from src.centerface.network import CenterFace
from src.convert_weight_centerface import check_against_network, convert, main
from src.engine.checkpoint import load_weights
from src.onnx_utils import ort_session
from src.pretrained import OFFICIAL_INPUT
from src.tasks import get_task

HEADS = get_task("centerface").heads  # CenterFace's outputs, as its task computes them

HEAD_NAMES = ("heatmap", "scale", "offset", "landmarks")
# Heatmap: the bound. It is a sigmoid output in (0, 1), so float32 rounding differences shrink.
HEATMAP_ATOL = 1e-4
# Scale/offset/landmarks are unbounded linear heads (values up to ~5 on real photos). oneDNN and MLAS sum the
# ~60 conv layers in different orders in float32, so the outputs agree only up to accumulated rounding:
# measured max abs diff 2e-5 (4e-5 uncropped) on the astronaut photo, 3e-6 on random input. The subtlest
# conversion error, forgetting the neck BN's eps difference (1e-3 vs 1e-5), gives 3.4e-3 on the heatmap and
# 5.4e-3 on scale (measured), so both bounds still catch it.
REGRESSION_ATOL = 1e-3


@pytest.fixture(scope="module")
def official_net(official_ckpt):
    net = CenterFace(HEADS, neck_width=24, act="relu")
    load_weights(net, official_ckpt, strict=True)
    net.set_train(False)
    return net


@pytest.fixture(scope="module")
def official_session(official_onnx):
    return ort_session(official_onnx)


@pytest.fixture(scope="module")
def converted(official_onnx):
    return convert(official_onnx)


def pad_to_32(image):
    h, w = image.shape[:2]
    padded = np.zeros(((h + 31) // 32 * 32, (w + 31) // 32 * 32, 3), image.dtype)
    padded[:h, :w] = image
    return padded


def compare_with_official(net, session, x):
    ours = [o.asnumpy() for o in net(ms.Tensor(x))]
    theirs = session.run(None, {OFFICIAL_INPUT: x})
    for name, a, b in zip(HEAD_NAMES, ours, theirs):
        assert a.shape == b.shape, name
        tol = HEATMAP_ATOL if name == "heatmap" else REGRESSION_ATOL
        diff = np.abs(a - b).max()
        assert diff <= tol, f"{name}: max abs diff {diff:.3g} > {tol} (values up to {np.abs(b).max():.3g})"
    return ours, theirs


def test_parity_on_random_input(official_net, official_session):
    x = (np.random.default_rng(0).random((2, 3, 96, 128)) * 255).astype(np.float32)
    compare_with_official(official_net, official_session, x)


def test_parity_on_real_photo(official_net, official_session, astronaut_rgb):
    # Crop to a size that is not a multiple of 32 so that the padding path is exercised too (500x470 -> 512x480).
    image = pad_to_32(astronaut_rgb[:500, :470])
    assert image.shape == (512, 480, 3)
    x = np.ascontiguousarray(image.transpose(2, 0, 1)[None]).astype(np.float32)
    ours, theirs = compare_with_official(official_net, official_session, x)
    # The photo has one clear face: both models find it, at the same heatmap cell.
    assert ours[0].max() > 0.5 and theirs[0].max() > 0.5
    assert np.argmax(ours[0]) == np.argmax(theirs[0])


def test_head_names_map_to_our_heads(converted, official_onnx):
    import onnx
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(official_onnx)).graph.initializer}
    for theirs, ours in (("pos", "heatmap"), ("reg", "scale"), ("off", "offset"), ("lm", "landmarks")):
        for field in ("weight", "bias"):
            np.testing.assert_array_equal(converted[f"head_{ours}.{field}"], inits[f"head.{theirs}_conv.{field}"])
    np.testing.assert_array_equal(converted["neck.ups.2.conv.weight"], inits["neck.deconv_layers.2.conv.weight"])


def test_conversion_covers_the_network_exactly(converted):
    check_against_network(converted, CenterFace(HEADS, neck_width=24))
    assert all(v.dtype == np.float32 for v in converted.values())


def test_shape_mismatch_is_caught(converted):
    net = CenterFace(HEADS, neck_width=24)
    bad = dict(converted)
    bad["neck.fuse.conv.weight"] = np.zeros((24, 24, 1, 1), np.float32)
    with pytest.raises(ValueError, match=r"neck\.fuse\.conv\.weight.*\(24, 24, 1, 1\).*\(24, 24, 3, 3\)"):
        check_against_network(bad, net)
    with pytest.raises(ValueError, match=r"conv\.weight"):
        check_against_network(converted, CenterFace(HEADS, neck_width=64))


def test_missing_and_unexpected_keys_are_caught(converted):
    net = CenterFace(HEADS, neck_width=24)
    missing = {k: v for k, v in converted.items() if k != "head_offset.bias"}
    with pytest.raises(ValueError, match=r"missing \['head_offset\.bias'\]"):
        check_against_network(missing, net)
    extra = dict(converted, **{"head.extra": np.zeros(1, np.float32)})
    with pytest.raises(ValueError, match=r"unexpected \['head\.extra'\]"):
        check_against_network(extra, net)


def test_missing_onnx_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.onnx"
    with pytest.raises(FileNotFoundError, match="nope.onnx: no such file"):
        convert(missing)
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        main(["--onnx", str(missing), "--output_path", str(tmp_path / "out.ckpt")])
    assert not (tmp_path / "out.ckpt").exists()
