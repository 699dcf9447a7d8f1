"""Tests for src/model_utils/moxing_adapter.py with a fake `moxing` (the real one exists only on ModelArts)."""
import glob
import os
import subprocess
import sys
import textwrap
import types

import pytest

from src.model_utils import moxing_adapter
from src.model_utils.config import Config


def modelarts_config(tmp_path, **overrides):
    values = {"enable_modelarts": True, "data_url": "obs://bucket/data", "data_path": str(tmp_path / "data"),
              "checkpoint_url": "", "load_path": str(tmp_path / "ckpt"), "train_url": "",
              "output_path": str(tmp_path / "out")}
    values.update(overrides)
    return Config(values)


def test_missing_moxing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "moxing", None)  # makes `import moxing` raise ImportError
    calls = []

    @moxing_adapter.moxing_wrapper(modelarts_config(tmp_path))
    def main():
        calls.append("main")

    with pytest.raises(RuntimeError, match="enable_modelarts=True needs the `moxing` package"):
        main()
    assert calls == []  # nothing ran before the data was available


def test_wrapper_is_transparent_off_modelarts(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "moxing", None)  # must not be needed
    calls = []

    @moxing_adapter.moxing_wrapper(modelarts_config(tmp_path, enable_modelarts=False, train_url="obs://x"),
                                   pre_process=lambda: calls.append("pre"), post_process=lambda: calls.append("post"))
    def main(a, b=0):
        calls.append("main")
        return a + b

    assert main(2, b=3) == 5
    assert calls == ["pre", "main", "post"]


def fake_moxing(copies):
    mox = types.ModuleType("moxing")
    mox.file = types.SimpleNamespace(exists=os.path.exists,
                                     copy_parallel=lambda src, dst: copies.append((src, dst)))
    return mox


@pytest.fixture()
def clean_locks():
    before = set(glob.glob("/tmp/copy_sync.lock*"))
    yield
    for lock in set(glob.glob("/tmp/copy_sync.lock*")) - before:
        os.unlink(lock)


def test_wrapper_syncs_in_and_out_on_modelarts(tmp_path, monkeypatch, clean_locks):
    copies = []
    monkeypatch.setitem(sys.modules, "moxing", fake_moxing(copies))
    monkeypatch.setenv("DEVICE_ID", "0")
    monkeypatch.setenv("RANK_SIZE", "1")
    cfg = modelarts_config(tmp_path, data_url=f"obs://{tmp_path}/d", checkpoint_url=f"obs://{tmp_path}/c",
                           train_url=f"obs://{tmp_path}/t")

    @moxing_adapter.moxing_wrapper(cfg)
    def main():
        copies.append("main")
        return 7

    assert main() == 7
    assert copies == [(cfg.data_url, cfg.data_path), (cfg.checkpoint_url, cfg.load_path), "main",
                      (cfg.output_path, cfg.train_url)]
    assert os.path.isdir(cfg.output_path)


def test_other_ranks_wait_for_the_copying_rank_across_processes(tmp_path, repo_root, clean_locks):
    """Rank 0 copies and leaves a lock; rank 1 (another process, another hash seed) must find that lock."""
    code = textwrap.dedent(f"""
        import os, sys, types
        copies = []
        mox = types.ModuleType("moxing")
        mox.file = types.SimpleNamespace(exists=os.path.exists, copy_parallel=lambda s, d: copies.append(s))
        sys.modules["moxing"] = mox
        from src.model_utils.moxing_adapter import sync_data
        sync_data("obs://{tmp_path}/data", "{tmp_path}/data")
        print(len(copies))
    """)
    outputs = []
    for rank, seed in ((0, "1"), (1, "2")):
        env = dict(os.environ, DEVICE_ID=str(rank), RANK_SIZE="2", PYTHONHASHSEED=seed)
        try:
            res = subprocess.run([sys.executable, "-c", code], cwd=repo_root, env=env, capture_output=True,
                                 text=True, timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"rank {rank} never saw rank 0's lock file (lock name differs between processes)")
        assert res.returncode == 0, res.stderr
        outputs.append(res.stdout.strip().splitlines()[-1])
    assert outputs == ["1", "0"]  # rank 0 copied once, rank 1 reused the copy
