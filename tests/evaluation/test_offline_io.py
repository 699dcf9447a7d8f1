"""Tests for src/evaluation/offline_io.py: the .bin / meta files between preprocess.py, the runners and
postprocess.py (byte layout, round trips, and one-line errors naming the file)."""
import json

import numpy as np
import pytest

from src.evaluation.eval_set import EvalImage
from src.evaluation.offline_io import (check_unique_keys, list_meta_files, output_path, read_heads, read_meta,
                                       write_input, write_outputs)
from src.inference.preprocess import make_input

HEADS = (("heatmap", 1), ("scale", 2), ("offset", 2), ("landmarks", 10))  # any model's (name, channels)


def test_input_bin_is_raw_little_endian_float32_nchw_and_meta_round_trips(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    chw, meta = make_input(image, input_size=(64, 96), scale=0.999)
    info = EvalImage("0_a_1", tmp_path / "0_a_1.jpg", {"event": "0--A", "stem": "0_a_1"})
    path = write_input(tmp_path / "pre", info, chw, meta, extra={"fit_scale": 0.999})
    assert path == tmp_path / "pre" / "input" / "0_a_1.bin"
    raw = path.read_bytes()
    assert len(raw) == 4 * 3 * 64 * 96
    np.testing.assert_array_equal(np.frombuffer(raw, "<f4").reshape(1, 3, 64, 96)[0], chw)
    [meta_file] = list_meta_files(tmp_path / "pre")
    assert json.loads(meta_file.read_text())["input_shape"] == [1, 3, 64, 96]
    back_info, back_meta = read_meta(meta_file)
    assert back_info == info and back_info.info == info.info
    np.testing.assert_array_equal(back_meta.affine, meta.affine)  # JSON keeps float64 exactly
    assert (back_meta.orig_hw, back_meta.input_hw) == ((50, 70), (64, 96))


def test_outputs_round_trip_with_head_shapes(tmp_path):
    rng = np.random.default_rng(1)
    heads = [rng.normal(size=(1, c, 8, 12)).astype(np.float32) for c in (1, 2, 2, 10)]
    paths = write_outputs(tmp_path, "img", heads)
    assert [p.name for p in paths] == ["img_0.bin", "img_1.bin", "img_2.bin", "img_3.bin"]
    back = read_heads(tmp_path, "img", (32, 48), HEADS, 4)
    for a, b in zip(heads, back):
        np.testing.assert_array_equal(a, b)


def test_read_heads_errors_name_the_file(tmp_path):
    write_outputs(tmp_path, "img", [np.zeros((1, c, 8, 12), np.float32) for c in (1, 2, 2)])
    with pytest.raises(FileNotFoundError, match=r"img_3.bin: missing network output 3 \(landmarks\)"):
        read_heads(tmp_path, "img", (32, 48), HEADS, 4)
    np.zeros(5, np.float32).tofile(output_path(tmp_path, "img", 3))
    with pytest.raises(ValueError, match=r"img_3.bin: 5 float32 values; expected 960 = \(1, 10, 8, 12\) of landmarks"):
        read_heads(tmp_path, "img", (32, 48), HEADS, 4)


def test_meta_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="run preprocess.py first"):
        list_meta_files(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"event": "e", "stem": "s"}))
    with pytest.raises(ValueError, match="bad.json: not a meta file"):
        read_meta(bad)


def test_duplicate_stems_rejected(tmp_path):
    images = [EvalImage("x", tmp_path / "a/x.jpg"), EvalImage("x", tmp_path / "b/x.jpg")]
    with pytest.raises(ValueError, match="share the name 'x'"):
        check_unique_keys(images)
    check_unique_keys(images[:1])
