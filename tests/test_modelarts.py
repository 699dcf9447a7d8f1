"""ModelArts jobs through the real scripts (train.py, test.py, eval.py, export.py) with the moxing stand-in of
tests/stand_ins on PYTHONPATH (subprocesses only): the data exist only at the "OBS" URL, the job gives the paths
inside it, the scripts read the local copy at data_path / load_path, and output_path reaches train_url at the end,
also when the run is stopped after writing a checkpoint."""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.processes import interrupt_at

ROOT = Path(__file__).resolve().parents[1]
POSE = ["--config_path", str(ROOT / "configs" / "centernet_pose.yaml")]
FACE_TRAIN = ["--batch_size", "4", "--train_size", "64,64", "--num_workers", "1", "--log_interval", "1",
              "--seed", "3"]
POSE_TRAIN = ["--enable_dcn", "False", "--train_size", "64,64", "--batch_size", "4", "--num_workers", "1",
              "--log_interval", "1", "--seed", "5", "--save_checkpoint_steps", "0"]


class Job:
    """A ModelArts-like job folder: `obs/` stands for the bucket, `cache/` for the machine's local disk, `code/`
    an empty working folder (nothing resolves relative to it)."""

    def __init__(self, root):
        self.root = Path(root)
        self.obs, self.cache, self.cwd = self.root / "obs", self.root / "cache", self.root / "code"
        for folder in (self.obs, self.cache, self.cwd):
            folder.mkdir(parents=True, exist_ok=True)
        self.log = self.root / "moxing.log"
        self.locks_before = set(glob.glob("/tmp/copy_sync.lock*"))

    def new_machine(self):
        """What a new job starts from: an empty local disk (cache/) and no copy locks in /tmp."""
        shutil.rmtree(self.cache)
        self.cache.mkdir()
        for lock in set(glob.glob("/tmp/copy_sync.lock*")) - self.locks_before:
            os.unlink(lock)

    @staticmethod
    def url(path):
        return f"obs://{path}"

    def args(self, name, data=None, checkpoint=None):
        """The ModelArts flags of step `name`: data_url/checkpoint_url (OBS folders), train_url obs/<name>, local
        copies under cache/<name>/."""
        local = self.cache / name
        args = ["--enable_modelarts", "True", "--train_url", self.url(self.obs / name), "--output_path",
                local / "out", "--data_path", local / "data", "--load_path", local / "ckpt"]
        if data is not None:
            args += ["--data_url", self.url(data)]
        if checkpoint is not None:
            args += ["--checkpoint_url", self.url(checkpoint)]
        return args

    def env(self):
        return {**os.environ, "GLOG_v": "3", "PYTHONPATH": str(ROOT / "tests" / "stand_ins"),
                "MOXING_LOG": str(self.log), "DEVICE_ID": "0", "RANK_SIZE": "1"}

    def command(self, script, *args):
        return [sys.executable, str(ROOT / script), *map(str, args)]

    def run(self, script, *args, timeout=900):
        return subprocess.run(self.command(script, *args), capture_output=True, text=True, cwd=self.cwd,
                              env=self.env(), timeout=timeout)

    def calls(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def copies(self):
        return [(c["call"], *c["args"]) for c in self.calls() if c["call"].startswith("copy")]


def saved_config(folder):
    return next(yaml.safe_load_all((Path(folder) / "config.yaml").read_text()))


@pytest.fixture()
def job(tmp_path, clean_locks):
    return Job(tmp_path)


@pytest.mark.slow
def test_centerface_training_export_and_test_from_obs(job, tiny_set, tmp_path_factory):
    """train.py reads the data copied from data_url (the job names train/train.json inside it) and its whole output
    folder reaches train_url; export.py and test.py take that checkpoint folder as checkpoint_url."""
    data = job.obs / "faces"
    shutil.copytree(Path(tiny_set[0]).parent, data / "train")
    trained = job.run("train.py", *job.args("train", data=data), "--train_json", "train/train.json", "--epochs", "1",
                      *FACE_TRAIN)
    assert trained.returncode == 0, trained.stderr[-3000:]
    out, local = job.obs / "train", job.cache / "train"
    assert sorted(p.name for p in (out / "ckpt").iterdir()) == ["0-1_2.ckpt"]
    assert {"config.yaml", "log_rank0.txt", "loss_history.json", ".run.json"} <= {p.name for p in out.iterdir()}
    config = saved_config(out)
    assert config["train_json"] == str(local / "data" / "train" / "train.json")
    assert "training on 8 images" in (out / "log_rank0.txt").read_text()
    assert job.copies() == [("copy_parallel", job.url(data), str(local / "data")),
                            ("copy_parallel", str(local / "out"), job.url(out))]

    exported = job.run("export.py", *job.args("export", checkpoint=out / "ckpt"), "--input_size", "64,64")
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert (job.obs / "export" / "centerface.mindir").stat().st_size > 100_000
    assert not list(job.cwd.iterdir())  # nothing written beside the code

    from src.data.synthetic import generate

    val = generate(str(tmp_path_factory.mktemp("val")), 0, 2, seed=7, image_size=128, progress=False)
    shutil.copytree(Path(val["val_images"]).parent, job.obs / "wider")
    tested = job.run("test.py", *job.args("test", data=job.obs / "wider", checkpoint=out / "ckpt"), "--data_dir",
                     "images", "--ground_truth_path", "ground_truth", "--input_size", "128,128")
    assert tested.returncode == 0, tested.stderr[-3000:]
    results = job.obs / "test" / "0-1_2"
    assert len(list(results.rglob("*.txt"))) == 2 and (results / "test_info.json").is_file()
    assert saved_config(results)["ckpt_path"] == str(job.cache / "test" / "ckpt" / "0-1_2.ckpt")


@pytest.mark.slow
def test_pose_training_and_evaluation_from_obs(job, pose_data):
    """The pose model: train.py on the COCO folder copied from data_url (an empty data_dir is data_path), then
    eval.py of the uploaded checkpoint on the same copy's val2017 with COCO tables."""
    data = job.obs / "coco"
    shutil.copytree(pose_data / "coco", data)
    trained = job.run("train.py", *POSE, *job.args("train", data=data), "--epochs", "1", *POSE_TRAIN)
    assert trained.returncode == 0, trained.stderr[-3000:]
    out = job.obs / "train"
    assert sorted(p.name for p in (out / "ckpt").iterdir()) == ["0-1_2.ckpt"]
    assert saved_config(out)["data_dir"] == str(job.cache / "train" / "data")

    evaluated = job.run("eval.py", *POSE, *job.args("eval", data=data, checkpoint=out / "ckpt"), "--run_mode", "val",
                        "--enable_dcn", "False", "--input_size", "128,128")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    results = json.loads((job.obs / "eval" / "0-1_2" / "val_pred_eval.json").read_text())
    assert len(results) == 2 * 100 and "Average Precision" in evaluated.stdout


@pytest.mark.slow
def test_a_stopped_training_job_still_uploads_its_checkpoints(job, tiny_set):
    """SIGTERM (what stopping a job sends) after the first checkpoint: exit 130, and the checkpoints written so far
    are at train_url; the job resumed with --resume True continues from them (copied back from train_url)."""
    data = job.obs / "faces"
    shutil.copytree(Path(tiny_set[0]).parent, data / "train")
    args = [*job.args("train", data=data), "--train_json", "train/train.json", *FACE_TRAIN]
    code, stderr = interrupt_at(job.command("train.py", *args, "--epochs", "50"),
                                lambda line: "saved checkpoint" in line, signal.SIGTERM, cwd=job.cwd, env=job.env())
    assert code == 130, stderr[-3000:]
    uploaded = sorted(p.name for p in (job.obs / "train" / "ckpt").iterdir())
    assert uploaded and uploaded[0] == "0-1_2.ckpt"
    assert job.copies()[-1] == ("copy_parallel", str(job.cache / "train" / "out"), job.url(job.obs / "train"))

    job.new_machine()
    newest = max(int(name.split("-")[1].split("_")[0]) for name in uploaded)
    resumed = job.run("train.py", *args, "--epochs", newest + 1, "--resume", "True")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"-> epoch {newest} done" in (job.obs / "train" / "log_rank0.txt").read_text()
    assert f"0-{newest + 1}_2.ckpt" in {p.name for p in (job.obs / "train" / "ckpt").iterdir()}
