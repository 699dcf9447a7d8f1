"""Tests for src/model_utils/moxing_adapter.py with a fake `moxing` (the real one exists only on ModelArts)."""
import json
import os
import subprocess
import sys
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


def test_the_keys_it_redirects_are_canonical_config_keys():
    """The paths use_local_copies points at the copies are named by their one canonical key (an alias is rewritten to
    it before the config exists), each a key of some registered model's config."""
    from src.model_utils.config import load_schema
    from src.tasks import task_config_path, task_names

    schemas = [load_schema(task_config_path(name)) for name in task_names()]
    for key in moxing_adapter.DATA_KEYS + moxing_adapter.CHECKPOINT_KEYS:
        assert any(key in schema.values for schema in schemas), key
        assert not any(key in schema.aliases for schema in schemas), key


def test_missing_moxing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "moxing", None)  # makes `import moxing` raise ImportError
    calls = []

    @moxing_adapter.moxing_wrapper(modelarts_config(tmp_path))
    def main():
        calls.append("main")

    with pytest.raises(RuntimeError, match="enable_modelarts=True needs the `moxing` package"):
        main()
    assert calls == []  # nothing ran before the data was available


def test_wrapper_is_the_work_alone_off_modelarts(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "moxing", None)  # must not be needed
    calls = []
    cfg = modelarts_config(tmp_path, enable_modelarts=False, train_url="obs://x", data_dir="rel")

    @moxing_adapter.moxing_wrapper(cfg, pre_process=lambda: calls.append("pre"),
                                   post_process=lambda: calls.append("post"))
    def main(a, b=0):
        calls.append("main")
        return a + b

    assert main(2, b=3) == 5
    assert calls == ["main"] and cfg.data_dir == "rel"  # as the zoo's: pre/post_process are ModelArts steps


def fake_moxing(copies):
    """`moxing` recording each copy (nothing is copied); folders are the paths without a suffix."""
    mox = types.ModuleType("moxing")
    mox.file = types.SimpleNamespace(exists=os.path.exists, is_directory=lambda url: not os.path.splitext(url)[1],
                                     copy_parallel=lambda src, dst: copies.append((src, dst)),
                                     copy=lambda src, dst: copies.append(("file", src, dst)))
    return mox


@pytest.fixture()
def rank0(monkeypatch, clean_locks):
    monkeypatch.setenv("DEVICE_ID", "0")
    monkeypatch.setenv("RANK_SIZE", "1")


def test_wrapper_syncs_in_runs_and_syncs_out_on_modelarts(tmp_path, monkeypatch, rank0):
    copies = []
    monkeypatch.setitem(sys.modules, "moxing", fake_moxing(copies))
    cfg = modelarts_config(tmp_path, data_url=f"obs://{tmp_path}/d", checkpoint_url=f"obs://{tmp_path}/c",
                           train_url=f"obs://{tmp_path}/t")

    @moxing_adapter.moxing_wrapper(cfg, pre_process=lambda: copies.append("pre"),
                                   post_process=lambda: copies.append("post"))
    def main():
        copies.append("main")
        os.makedirs(cfg.output_path)
        open(os.path.join(cfg.output_path, "result.json"), "w").close()
        return 7

    assert main() == 7
    assert copies == [(cfg.data_url, cfg.data_path), (cfg.checkpoint_url, cfg.load_path), "pre", "main", "post",
                      (cfg.output_path, cfg.train_url)]


def test_nothing_written_nothing_uploaded_and_a_file_url_lands_in_load_path(tmp_path, monkeypatch, rank0):
    copies = []
    monkeypatch.setitem(sys.modules, "moxing", fake_moxing(copies))
    cfg = modelarts_config(tmp_path, data_url="", checkpoint_url=f"obs://{tmp_path}/c/model.ckpt",
                           train_url=f"obs://{tmp_path}/t")
    moxing_adapter.moxing_wrapper(cfg)(lambda: None)()
    assert copies == [("file", cfg.checkpoint_url, os.path.join(cfg.load_path, "model.ckpt"))]


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError, ValueError])
def test_a_failed_or_interrupted_run_still_uploads_what_it_wrote(tmp_path, monkeypatch, rank0, error):
    copies = []
    monkeypatch.setitem(sys.modules, "moxing", fake_moxing(copies))
    cfg = modelarts_config(tmp_path, data_url="", train_url=f"obs://{tmp_path}/t")

    @moxing_adapter.moxing_wrapper(cfg)
    def main():
        os.makedirs(os.path.join(cfg.output_path, "ckpt"))
        open(os.path.join(cfg.output_path, "ckpt", "0-1_2.ckpt"), "w").close()
        raise error

    with pytest.raises(error):
        main()
    assert copies == [(cfg.output_path, cfg.train_url)]


def test_a_failing_upload_after_a_failure_does_not_hide_the_failure(tmp_path, monkeypatch, rank0):
    mox = fake_moxing([])

    def broken(src, dst):
        raise OSError("OBS unreachable")

    mox.file.copy_parallel = broken
    monkeypatch.setitem(sys.modules, "moxing", mox)
    cfg = modelarts_config(tmp_path, data_url="", train_url=f"obs://{tmp_path}/t")

    @moxing_adapter.moxing_wrapper(cfg)
    def main():
        os.makedirs(cfg.output_path)
        open(os.path.join(cfg.output_path, "log_rank0.txt"), "w").close()
        raise ValueError("the run's own error")

    with pytest.raises(ValueError, match="the run's own error"):
        main()


def test_local_copies_take_the_paths_under_data_path_and_load_path(tmp_path):
    load = tmp_path / "ckpt"
    load.mkdir()
    (load / "0-3_5.ckpt").write_bytes(b"")
    cfg = modelarts_config(tmp_path, checkpoint_url="obs://b/c", train_json="train/train.json",
                           train_image_dir="/abs/images", data_dir="", mindrecord_dir="", ground_truth_path="gt",
                           pred_dir="", ckpt_path="", pretrained_backbone="backbone.ckpt")
    moxing_adapter.use_local_copies(cfg)
    data = tmp_path / "data"
    assert (cfg.train_json, cfg.train_image_dir, cfg.data_dir, cfg.mindrecord_dir, cfg.ground_truth_path,
            cfg.pred_dir) == (str(data / "train/train.json"), "/abs/images", str(data), "", str(data / "gt"), "")
    assert (cfg.ckpt_path, cfg.pretrained_backbone) == (str(load / "0-3_5.ckpt"), str(load / "backbone.ckpt"))
    (load / "0-4_5.ckpt").write_bytes(b"")  # several: the folder (test.py and eval.py sweep it)
    again = modelarts_config(tmp_path, checkpoint_url="obs://b/c", data_url="", ckpt_path="", data_dir="")
    moxing_adapter.use_local_copies(again)
    assert (again.ckpt_path, again.data_dir) == (str(load), "")  # no data_url: data keys untouched


def test_other_ranks_wait_for_the_copying_rank_across_processes(tmp_path, repo_root, clean_locks):
    """Rank 0 copies and leaves a lock; rank 1 (another process, another hash seed) must find that lock. Through
    the moxing stand-in of tests/stand_ins (a subprocess)."""
    (tmp_path / "obs" / "data").mkdir(parents=True)
    (tmp_path / "obs" / "data" / "a.txt").write_text("data")
    code = f"from src.model_utils.moxing_adapter import sync_data; sync_data('obs://{tmp_path}/obs/data', " \
           f"'{tmp_path}/data')"
    log = tmp_path / "moxing.log"
    for rank, seed in ((0, "1"), (1, "2")):
        env = dict(os.environ, DEVICE_ID=str(rank), RANK_SIZE="2", PYTHONHASHSEED=seed, MOXING_LOG=str(log),
                   PYTHONPATH=str(repo_root / "tests" / "stand_ins"))
        try:
            res = subprocess.run([sys.executable, "-c", code], cwd=repo_root, env=env, capture_output=True,
                                 text=True, timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"rank {rank} never saw rank 0's lock file (lock name differs between processes)")
        assert res.returncode == 0, res.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    copies = [(c["call"], c["pid"]) for c in calls if c["call"].startswith("copy")]
    assert len(copies) == 1 and (tmp_path / "data" / "a.txt").read_text() == "data"  # rank 0 copied once
