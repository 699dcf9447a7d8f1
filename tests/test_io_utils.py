"""Tests for src/io_utils.py: atomic writes, checkpoint saving at the exact path, checkpoint saving errors
(OSErrors naming the path, nothing left behind) and the loading errors of damaged checkpoint files.

A failing MindSpore writer during a checkpoint save, and loading a missing file, are tested through the engine's
save_checkpoint (which calls save_checkpoint_atomic) and load_weights in tests/engine/test_checkpoint.py.
"""
import errno
import json
import os
import re
import stat

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from src.engine.checkpoint import CheckpointError, load_weights
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


def test_save_checkpoint_where_a_folder_is_a_file(tmp_path):
    # An OSError (exit code 3 in the scripts) naming the file that is in the way; nothing written.
    (tmp_path / "runs").write_bytes(b"not a folder")
    with pytest.raises(NotADirectoryError) as info:
        save_checkpoint_atomic(tensors(weight=[1.0]), tmp_path / "runs" / "m.ckpt")
    assert info.value.errno == errno.ENOTDIR and info.value.filename == str(tmp_path / "runs")
    assert os.listdir(tmp_path) == ["runs"] and (tmp_path / "runs").read_bytes() == b"not a folder"


def test_save_checkpoint_onto_a_folder_of_that_name(tmp_path):
    # os.replace cannot put a file over a folder: an OSError naming the checkpoint path, the folder and its
    # content untouched, no temporary left beside it.
    (tmp_path / "m.ckpt").mkdir()
    (tmp_path / "m.ckpt" / "keep.txt").write_text("mine")
    with pytest.raises(IsADirectoryError) as info:
        save_checkpoint_atomic(tensors(weight=[1.0]), tmp_path / "m.ckpt")
    assert info.value.filename == str(tmp_path / "m.ckpt")
    assert os.listdir(tmp_path) == ["m.ckpt"] and (tmp_path / "m.ckpt" / "keep.txt").read_text() == "mine"


def damaged(data):
    """Ways a checkpoint file gets damaged: cut (a crash, a partial copy), emptied, replaced by other bytes."""
    return {"last_byte_cut": data[:-1], "cut_in_half": data[:len(data) // 2], "empty": b"",
            "json_text": b'{"weight": [1.0, 2.0]}\n', "random_bytes": np.random.default_rng(0).bytes(len(data))}


@pytest.mark.parametrize("damage", sorted(damaged(b"x")))
def test_loading_a_damaged_checkpoint_is_one_user_error_naming_it(tmp_path, damage):
    # CheckpointError is a ValueError: the scripts print it as one line and exit with code 2.
    good = tmp_path / "good.ckpt"
    save_checkpoint_atomic(tensors(weight=np.ones((2, 3)), bias=[1, 2]), good)
    dense = nn.Dense(3, 2)
    assert load_weights(dense, good, strict=True).missing == []  # the undamaged file loads
    path = tmp_path / f"{damage}.ckpt"
    path.write_bytes(damaged(good.read_bytes())[damage])
    before = dense.weight.asnumpy().copy()
    with pytest.raises(CheckpointError, match=f"^checkpoint {re.escape(str(path))}: cannot be read as a MindSpore"):
        load_weights(dense, path)
    np.testing.assert_array_equal(dense.weight.asnumpy(), before)  # nothing half-loaded
