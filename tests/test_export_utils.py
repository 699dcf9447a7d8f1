"""Tests for src/export_utils.py and export.py: ONNX and MINDIR round trips against the Cell, error cases.

The network carries the official weights (converted checkpoint), so the outputs compared are realistic.
"""
import os
import subprocess
import sys

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from src.export_utils import export_network
from src.engine.checkpoint import load_weights
from src.models.centerface import CenterFace
from src.onnx_utils import OFFICIAL_INPUT, OFFICIAL_OUTPUTS, ort_session

HEAD_CHANNELS = (1, 2, 2, 10)  # heatmap, scale, offset, landmarks


@pytest.fixture(scope="module")
def official_net(official_ckpt):
    net = CenterFace(neck_width=24, act="relu")
    load_weights(net, official_ckpt, strict=True)
    net.set_train(False)
    return net


def random_batch(shape, seed=0):
    return (np.random.default_rng(seed).random(shape) * 255).astype(np.float32)


def cell_outputs(net, x):
    return [o.asnumpy() for o in net(ms.Tensor(x))]


def test_onnx_round_trip_official_contract(official_net, tmp_path):
    import onnx

    path = export_network(official_net, tmp_path / "cf", "ONNX", (1, 3, 64, 64))
    assert path == tmp_path / "cf.onnx"
    assert os.listdir(tmp_path) == ["cf.onnx"]  # no temporary files left behind
    model = onnx.load(str(path))
    deconvs = [n for n in model.graph.node if n.op_type == "ConvTranspose"]
    assert len(deconvs) == 3
    for node in deconvs:
        shapes = [list(a.ints) for a in node.attribute if a.name == "output_shape"]
        assert all(len(s) == 2 for s in shapes), shapes  # onnxruntime refuses [N, C, H, W]
    session = ort_session(path, dynamic=False)
    assert [i.name for i in session.get_inputs()] == [OFFICIAL_INPUT] == ["input.1"]
    assert [o.name for o in session.get_outputs()] == list(OFFICIAL_OUTPUTS) == ["537", "538", "539", "540"]
    x = random_batch((1, 3, 64, 64))
    expected = cell_outputs(official_net, x)
    got = session.run(None, {"input.1": x})
    for name, channels, a, b in zip(("heatmap", "scale", "offset", "landmarks"), HEAD_CHANNELS, got, expected):
        assert a.shape == b.shape == (1, channels, 16, 16), name
        # Same weights, both float32 on CPU, different kernels (MLAS vs oneDNN): rounding only.
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5, err_msg=name)


def test_onnx_keeps_mindspore_names_on_request(official_net, tmp_path):
    path = export_network(official_net, tmp_path / "plain", "ONNX", (1, 3, 32, 32), official_names=False)
    session = ort_session(path, dynamic=False)
    assert session.get_inputs()[0].name != OFFICIAL_INPUT
    assert not set(o.name for o in session.get_outputs()) & set(OFFICIAL_OUTPUTS)
    assert [o.shape for o in session.run(None, {session.get_inputs()[0].name: random_batch((1, 3, 32, 32))})] == \
        [(1, c, 8, 8) for c in HEAD_CHANNELS]


def test_mindir_round_trip_is_exact(official_net, tmp_path):
    path = export_network(official_net, tmp_path / "cf", "MINDIR", (2, 3, 64, 96))
    assert path == tmp_path / "cf.mindir" and os.listdir(tmp_path) == ["cf.mindir"]
    graph = nn.GraphCell(ms.load(str(path)))
    x = random_batch((2, 3, 64, 96), seed=3)
    got = [o.asnumpy() for o in graph(ms.Tensor(x))]
    expected = cell_outputs(official_net, x)
    for channels, a, b in zip(HEAD_CHANNELS, got, expected):
        assert a.shape == (2, channels, 16, 24)
        np.testing.assert_array_equal(a, b)  # same MindSpore CPU kernels: bit-exact (DESIGN.md §1)


def test_air_needs_ascend(official_net, tmp_path):
    with pytest.raises(ValueError, match="AIR.*Ascend"):
        export_network(official_net, tmp_path / "cf", "AIR", (1, 3, 64, 64), device_target="CPU")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("shape", [(1, 3, 60, 64), (1, 3, 64, 100), (1, 1, 64, 64), (0, 3, 64, 64)])
def test_bad_input_shape_rejected(official_net, tmp_path, shape):
    with pytest.raises(ValueError, match=r"input shape .*multiples of 32"):
        export_network(official_net, tmp_path / "cf", "MINDIR", shape)
    assert os.listdir(tmp_path) == []


def test_unknown_format_rejected(official_net, tmp_path):
    with pytest.raises(ValueError, match="file_format.*'PB'"):
        export_network(official_net, tmp_path / "cf", "pb", (1, 3, 64, 64))


def run_export_script(repo_root, *argv):
    return subprocess.run([sys.executable, "export.py", *argv], cwd=repo_root, capture_output=True, text=True,
                          timeout=300)


def test_export_script_writes_mindir(repo_root, official_ckpt, official_net, tmp_path):
    out = tmp_path / "sub" / "cf_b2"
    res = run_export_script(repo_root, "--ckpt_file", str(official_ckpt), "--file_format", "MINDIR",
                            "--batch_size", "2", "--input_h", "64", "--input_w", "96", "--file_name", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    assert "exported" in res.stdout and os.listdir(out.parent) == ["cf_b2.mindir"]
    # The file holds the official weights at the requested batch and size.
    graph = nn.GraphCell(ms.load(str(out) + ".mindir"))
    x = random_batch((2, 3, 64, 96), seed=4)
    for a, b in zip([o.asnumpy() for o in graph(ms.Tensor(x))], cell_outputs(official_net, x)):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)  # exported in another process, still bit-exact (measured)


def test_export_script_without_ckpt_exits_2_with_one_line(repo_root, tmp_path):
    res = run_export_script(repo_root, "--file_name", str(tmp_path / "x"))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == ["error: --ckpt_file is required"]
    assert os.listdir(tmp_path) == []


def test_export_script_missing_ckpt_exits_2(repo_root, tmp_path):
    missing = tmp_path / "nope.ckpt"
    res = run_export_script(repo_root, "--ckpt_file", str(missing), "--file_name", str(tmp_path / "x"))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1] == f"error: checkpoint {missing}: no such file"
