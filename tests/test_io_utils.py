"""Tests for src/io_utils.py: atomic writes, checkpoint saving at the exact path, checkpoint loading errors."""
import json
import os
import stat

import mindspore as ms
import numpy as np
import pytest

from src.io_utils import atomic_write_bytes, save_checkpoint_atomic, write_json_atomic


def test_atomic_write_creates_parents_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a" / "b" / "out.bin"
    atomic_write_bytes(path, b"first")
    atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert os.listdir(path.parent) == ["out.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_failed_write_keeps_old_file_and_removes_temp(tmp_path):
    path = tmp_path / "out.txt"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(path, "a str is not bytes")  # fails inside the write
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_write_json_atomic_round_trip(tmp_path):
    obj = {"boxes": [[1.5, 2.0, 3.0, 4.0]], "name": "ä"}
    write_json_atomic(tmp_path / "r.json", obj, indent=1)
    assert json.loads((tmp_path / "r.json").read_text()) == obj


def tensors(**arrays):
    return [{"name": k, "data": ms.Tensor(np.asarray(v, np.float32))} for k, v in arrays.items()]


@pytest.mark.parametrize("name", ["model.ckpt", "0-140_1610.ckpt", "a.b.ckpt"])
def test_save_checkpoint_path_is_exact(tmp_path, name):
    path = tmp_path / name
    save_checkpoint_atomic(tensors(weight=np.arange(6).reshape(2, 3), bias=[1, 2]), path,
                           append_dict={"epoch": 3})
    assert os.listdir(tmp_path) == [name]  # no "model.ckpt.ckpt", no temporary file
    loaded = ms.load_checkpoint(str(path))
    np.testing.assert_array_equal(loaded["weight"].asnumpy(), np.arange(6).reshape(2, 3))
    assert int(loaded["epoch"]) == 3


@pytest.mark.parametrize("name", ["model", "weights.bin", "model.ckpt.part"])
def test_save_checkpoint_needs_ckpt_suffix(tmp_path, name):
    # mindspore.load_checkpoint refuses other names, so such a file could never be loaded back.
    with pytest.raises(ValueError, match=f"{name}: must end in .ckpt"):
        save_checkpoint_atomic(tensors(weight=[1.0]), tmp_path / name)
    assert os.listdir(tmp_path) == []


def test_save_checkpoint_overwrites(tmp_path):
    # MindSpore makes checkpoints read-only (0400); a second save to the same path must still replace it.
    path = tmp_path / "m.ckpt"
    save_checkpoint_atomic(tensors(weight=[1.0]), path)
    save_checkpoint_atomic(tensors(weight=[2.0]), path)
    assert ms.load_checkpoint(str(path))["weight"].asnumpy().tolist() == [2.0]
    assert os.listdir(tmp_path) == ["m.ckpt"]


