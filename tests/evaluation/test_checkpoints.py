"""Tests for src/evaluation/checkpoints.py: which checkpoints a test run covers, where their results go."""
import pytest

from src.evaluation.checkpoints import result_dir, select_checkpoints


def test_select_checkpoints_epoch_range_rank0_sorted(tmp_path):
    for name in ["0-1_5.ckpt", "0-2_5.ckpt", "0-10_5.ckpt", "0-2_3.ckpt", "1-2_5.ckpt", "0-3_5.ckpt.tmp",
                 "centerface.ckpt", "0-11_5.ckpt"]:
        (tmp_path / name).write_bytes(b"x")
    names = [p.name for p in select_checkpoints(tmp_path, 2, 10)]
    assert names == ["0-2_3.ckpt", "0-2_5.ckpt", "0-10_5.ckpt"]  # numeric epoch order, rank 1 left out
    assert [p.name for p in select_checkpoints(tmp_path, 10, -1)] == ["0-10_5.ckpt", "0-11_5.ckpt"]
    single = tmp_path / "centerface.ckpt"
    assert select_checkpoints(single, 50, 60) == [single]


def test_select_checkpoints_errors_name_the_problem(tmp_path):
    (tmp_path / "0-1_5.ckpt").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match=r"epoch in 5\.\.7"):
        select_checkpoints(tmp_path, 5, 7)
    with pytest.raises(ValueError, match="start=3 > end=2"):
        select_checkpoints(tmp_path, 3, 2)
    with pytest.raises(FileNotFoundError, match="nope"):
        select_checkpoints(tmp_path / "nope", 0, -1)


def test_result_dir_is_checkpoint_stem(tmp_path):
    assert result_dir(tmp_path, "/x/0-140_1610.ckpt") == tmp_path / "0-140_1610"
