"""Trainer: straight vs stop-and-resume (fresh process; and from a checkpoint inside an epoch, also through the
sharded MindSpore pipeline) bitwise equality, step checkpoints and their names, both log-line forms, history files,
epoch hook, mindspore datasets, the data-sink path (through a stand-in: MindSpore sinks only on Ascend/GPU),
non-finite stop, argument errors."""
import csv
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mindspore.dataset as ds

from src.data.dataset import TrainingSource, create_dataset
from src.engine.trainer import NonFiniteLossError, Trainer
from tests.engine.toy import SPIKE, STEPS_PER_EPOCH, EpochDataset, build, state_arrays

TOY_SCRIPT = __import__("tests.engine.toy", fromlist=["__file__"]).__file__
COMPONENTS = ("first", "second")


def make_trainer(tmp_dir, epochs, dataset=None, seed=1, schedule_epochs=None, **kwargs):
    net, opt, scaler = build(seed, schedule_epochs or epochs)
    kwargs.setdefault("log_interval", 2)
    trainer = Trainer(net, opt, dataset if dataset is not None else EpochDataset(spike=SPIKE), STEPS_PER_EPOCH,
                      epochs, tmp_dir, loss_scaler=scaler, component_names=COMPONENTS, **kwargs)
    return trainer, (net, opt, scaler)


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    trainer, objs = make_trainer(out, epochs=2)
    summary = trainer.train()
    return out, summary, state_arrays(*objs), trainer.history


def test_resume_in_fresh_process_matches_straight_run_bitwise(tmp_path, straight_run):
    _, _, expected, straight_history = straight_run
    assert any(straight_history["overflow"][STEPS_PER_EPOCH:])  # epoch 2 holds a skipped (overflow) step
    first, _ = make_trainer(tmp_path, epochs=1, schedule_epochs=2, output_dir=tmp_path / "out0")
    first.train()
    out = tmp_path / "resumed.npz"
    # Fresh process, different seed (so nothing but the checkpoint can make the weights agree).
    proc = subprocess.run([sys.executable, TOY_SCRIPT, "--ckpt_dir", str(tmp_path), "--epochs", "2", "--seed", "99",
                           "--resume", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resume: " in proc.stdout and "0-1_5.ckpt" in proc.stdout
    history = json.loads((tmp_path / "out0" / "loss_history.json").read_text())
    got = dict(np.load(out))
    np.testing.assert_array_equal(got.pop("overflow"), straight_history["overflow"])
    assert sorted(got) == sorted(expected)
    # CPU kernels are deterministic here (measured: two straight runs in separate processes agree bitwise),
    # so resume must reproduce weights, BN statistics, Adam moments, step counter and loss scale exactly.
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)
    assert history["global_step"] == straight_history["global_step"]
    assert history["loss"] == straight_history["loss"]
    assert history["loss_scale"] == straight_history["loss_scale"]


def test_logs_history_curve_and_checkpoints(straight_run):
    out, summary, _, history = straight_run
    log = (out / "log_rank0.txt").read_text()
    step_lines = re.findall(r"epoch:(\d+), iter:(\d+), avg_loss:[\d.]+, loss:\S+, overflow:(True|False), "
                            r"loss_scale:[\d.e+]+", log)
    assert [(e, i) for e, i, _ in step_lines] == [("1", "2"), ("1", "4"), ("2", "2"), ("2", "4")]
    assert re.search(r"epoch:1, avg_loss:[\d.]+, first:[\d.]+, second:[\d.]+, time:[\d.]+s, per_step:[\d.]+ms, "
                     r"imgs/sec:[\d.]+, lr:0.02\n", log)
    assert re.search(r"epoch:2, avg_loss:.*lr:0.01\n", log)
    assert log.count("first train step:") == 1  # multistep milestone at epoch 1, gamma 0.5
    assert [p.rsplit("/", 1)[-1] for p in summary["checkpoints"]] == ["0-1_5.ckpt", "0-2_5.ckpt"]
    rows = list(csv.DictReader(open(out / "loss_history.csv")))
    assert [int(r["global_step"]) for r in rows] == list(range(1, 11))
    assert rows[7]["overflow"] == "1" and rows[7]["loss"] == ""  # the spiked batch
    np.testing.assert_allclose([float(r["loss"]) for r in rows if r["loss"]],
                               [v for v in history["loss"] if v is not None], rtol=1e-12)
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finite = [v for v in history["loss"] if v is not None]
    assert np.mean(finite[-3:]) < np.mean(finite[:3])


def test_epoch_hook_prefers_callback_and_keep_last(tmp_path):
    seen = []
    dataset = EpochDataset()
    trainer, _ = make_trainer(tmp_path, epochs=3, dataset=dataset, on_epoch_begin=lambda e: (seen.append(e),
                                                                                              dataset.set_epoch(e)),
                              keep_checkpoint_max=1)
    trainer.train()
    assert seen == [0, 1, 2] and dataset.epochs_seen == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == ["0-3_5.ckpt"]


def test_mindspore_generator_dataset(tmp_path):
    source = EpochDataset(steps=STEPS_PER_EPOCH)
    x = np.concatenate([b[0] for b in source])
    y = np.concatenate([b[1] for b in source])
    dataset = ds.NumpySlicesDataset({"image": x, "target": y}, shuffle=False).batch(4, drop_remainder=True)
    assert dataset.get_dataset_size() == STEPS_PER_EPOCH
    trainer, _ = make_trainer(tmp_path, epochs=2, dataset=dataset, log_interval=100)
    summary = trainer.train()
    assert summary["global_step"] == 2 * STEPS_PER_EPOCH and np.isfinite(summary["epoch_loss"]).all()


def test_resume_without_checkpoint_starts_from_scratch(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=1)
    summary = trainer.train(resume=True)
    assert summary["start_epoch"] == 0 and summary["global_step"] == STEPS_PER_EPOCH
    assert "no checkpoint" in (tmp_path / "log_rank0.txt").read_text()


class SpikeEveryBatch(EpochDataset):
    def __iter__(self):
        for x, y in super().__iter__():
            yield x, y * np.float32(1e30)


def test_non_finite_loss_stops_with_clear_error(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=2, dataset=SpikeEveryBatch(), max_skipped_steps=3)
    with pytest.raises(NonFiniteLossError, match="no update for 3 consecutive steps.*loss is non-finite"):
        trainer.train()
    assert len(json.loads((tmp_path / "loss_history.json").read_text())["loss"]) == 3


def test_short_dataset_and_short_schedule_are_errors(tmp_path):
    trainer, _ = make_trainer(tmp_path / "a", epochs=1, dataset=list(EpochDataset(steps=3)))
    with pytest.raises(ValueError, match="yielded 3 batches in epoch 1, expected steps_per_epoch=5"):
        trainer.train()
    trainer, _ = make_trainer(tmp_path / "b", epochs=3, schedule_epochs=2)
    with pytest.raises(ValueError, match="lr schedule has 10 steps"):
        trainer.train()
    with pytest.raises(ValueError, match="log_interval"):
        make_trainer(tmp_path / "c", epochs=1, log_interval=0)


def test_data_parallel_ranks_agree_on_skipped_steps(tmp_path):
    """Two CPU ranks under msrun: gradients are all-reduced and a non-finite step on rank 1 only is skipped on
    both, so trainable weights and optimizer state stay identical (BatchNorm moving statistics are per rank)."""
    msrun = Path(sys.executable).with_name("msrun")
    if not msrun.exists():
        pytest.skip("msrun not installed next to the python executable")
    env = dict(os.environ, PATH=f"{msrun.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "rank{rank}.npz"
    cmd = [str(msrun), "--worker_num=2", "--local_worker_num=2", f"--master_port={port}",
           f"--log_dir={tmp_path / 'msrun_logs'}", "--join=True", TOY_SCRIPT, "--data_parallel",
           "--ckpt_dir", str(tmp_path / "ckpt"), "--epochs", "2", "--seed", "1", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    logs = "".join(p.read_text() for p in sorted((tmp_path / "msrun_logs").glob("*.log")))
    assert proc.returncode == 0, (proc.stdout + proc.stderr + logs)[-4000:]
    rank0, rank1 = (dict(np.load(str(out).format(rank=r))) for r in (0, 1))
    overflow = rank0.pop("overflow")
    np.testing.assert_array_equal(rank1.pop("overflow"), overflow)
    assert np.flatnonzero(overflow).tolist() == [STEPS_PER_EPOCH + SPIKE[1]]  # rank 1's spiked batch only
    differing = sorted(k for k in rank0 if not np.array_equal(rank0[k], rank1[k]))
    assert differing == ["bn.moving_mean", "bn.moving_variance"]
    assert sorted(p.name for p in (tmp_path / "ckpt").glob("*.ckpt")) == ["0-1_5.ckpt", "0-2_5.ckpt"]  # rank 0


# ---------------------------------------------------------------- step checkpoints, mid-epoch resume, zoo lines, sink

class Interrupted(Exception):
    """Stands for a crash (or Ctrl-C) in the middle of a run."""


class InterruptedTrainer(Trainer):
    """Stops when about to book step `stop_at` (1-based global step): that step and later ones never count."""

    stop_at = None

    def _after_step(self, *args, **kwargs):
        if self.global_step + 1 == self.stop_at:
            raise Interrupted(f"stopped before global step {self.stop_at}")
        return super()._after_step(*args, **kwargs)


def test_step_checkpoints_named_as_modelcheckpoint_and_zoo_percent_lines(tmp_path):
    trainer, _ = make_trainer(tmp_path, epochs=2, save_checkpoint_steps=3, log_format="percent")
    summary = trainer.train()
    # Every 3 global steps (3, 6, 9) and at each epoch's end (5, 10), named 0-{epoch}_{step in that epoch}.
    names = [Path(p).name for p in summary["checkpoints"]]
    assert names == ["0-1_3.ckpt", "0-1_5.ckpt", "0-2_1.ckpt", "0-2_4.ckpt", "0-2_5.ckpt"]
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == sorted(names)
    import mindspore as ms

    state = ms.load_checkpoint(str(tmp_path / "0-2_1.ckpt"))
    assert [int(state[f"train_{k}"].asnumpy()) for k in ("epoch", "step_in_epoch", "global_step")] == [2, 1, 6]
    log = (tmp_path / "log_rank0.txt").read_text()
    lines = re.findall(r"epoch: (\d+), current epoch percent: ([\d.]+), step: (\d+), outputs are \(([\d.]+|nan), "
                       r"(True|False), ([\d.e+]+)\)", log)
    assert [(e, p, s) for e, p, s, *_ in lines] == [("1", "0.400", "2"), ("1", "0.800", "4"), ("2", "0.400", "7"),
                                                   ("2", "0.800", "9")]
    history = trainer.history
    for _, _, step, loss, overflow, scale in lines:
        i = history["global_step"].index(int(step))
        assert float(loss) == pytest.approx(history["loss"][i], abs=5e-7)
        assert (overflow, float(scale)) == (str(history["overflow"][i]), history["loss_scale"][i])
    assert "iter:" not in log and re.search(r"epoch:2, avg_loss:", log)  # the epoch line stays


def test_resume_from_a_mid_epoch_checkpoint_matches_straight_run_bitwise(tmp_path, straight_run):
    """Crash after global step 7 of 10; the newest checkpoint is 0-2_1 (step 6, inside epoch 2). A fresh trainer
    with other initial weights resumes: it skips epoch 2's first batch and must end bit-identical to a straight run
    (weights, BN statistics, Adam moments, step counter, loss scale; the overflowing batch 2 of epoch 2 included)."""
    _, straight_summary, expected, straight_history = straight_run
    crashed, _ = make_trainer(tmp_path, epochs=2, save_checkpoint_steps=3)
    crashed.__class__ = InterruptedTrainer
    crashed.stop_at = 8
    with pytest.raises(Interrupted):
        crashed.train()
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == ["0-1_3.ckpt", "0-1_5.ckpt", "0-2_1.ckpt"]

    read = []

    class Counting(EpochDataset):
        def __iter__(self):
            for index, batch in enumerate(super().__iter__()):
                read.append((self.epoch, index))
                yield batch
    resumed, objs = make_trainer(tmp_path, epochs=2, seed=5, dataset=Counting(spike=SPIKE), save_checkpoint_steps=3)
    summary = resumed.train(resume=True)
    assert summary["start_epoch"] == 1 and summary["skipped_steps"] == 1 and summary["global_step"] == 10
    assert read == [(1, i) for i in range(5)]  # without rest_of_epoch: batch 0 read and dropped
    got = state_arrays(*objs)
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)
    history = json.loads((tmp_path / "loss_history.json").read_text())
    assert history["global_step"] == straight_history["global_step"]
    assert history["loss"] == straight_history["loss"] and history["overflow"] == straight_history["overflow"]
    log = (tmp_path / "log_rank0.txt").read_text()
    assert "resume: inside epoch 2, its first 1 of 5 steps are done and skipped" in log
    # where the run stood: 1 of epoch 2's 5 steps, not "epoch 2 done"; epoch 2's mean covers its 5 steps, the one
    # done before the resume included, as the straight run's does
    assert re.search(r"resume: \S+0-2_1\.ckpt -> epoch 2: 1 of 5 steps done, global step 6, optimizer step 6", log)
    assert summary["epoch_loss"] == [straight_summary["epoch_loss"][-1]]


class PoseLikeSource(TrainingSource):
    """A real TrainingSource (per-(seed, epoch, index) generators) with the toy's columns: 40 samples."""

    column_names = ("image", "target")

    def sample(self, index, rng):
        x = rng.uniform(0, 1, size=(1, 6, 6)).astype(np.float32)
        m = float(x.mean())
        return x, np.array([2 * m - 1, 0.5 - m], np.float32)


def test_resume_inside_an_epoch_through_the_sharded_pipeline_reads_only_the_rest(tmp_path):
    """run.py's composition: create_dataset (shard 0 of 2: 20 samples, 5 batches of 4), the source told the epoch,
    and rest_of_epoch = create_dataset(skip_batches=done). Straight vs crash-and-resume, bitwise; the resumed run
    never decodes the 3 skipped batches of its first epoch."""
    def pipeline(run_dir, seed, stop_at=None, resume=False):
        source = PoseLikeSource(list(range(40)), seed=11)
        decoded = []
        sample = source.sample
        source.sample = lambda index, rng: (decoded.append((source.epoch, index)), sample(index, rng))[1]

        def dataset(skip=0):
            return create_dataset(source, 4, num_shards=2, shard_id=0, num_workers=1, skip_batches=skip)
        trainer, objs = make_trainer(run_dir, epochs=2, seed=seed, dataset=dataset(), save_checkpoint_steps=4,
                                     on_epoch_begin=source.set_epoch, rest_of_epoch=lambda e, done: dataset(done))
        if stop_at:
            trainer.__class__ = InterruptedTrainer
            trainer.stop_at = stop_at
            with pytest.raises(Interrupted):
                trainer.train()
            return None, decoded
        trainer.train(resume=resume)
        return state_arrays(*objs), decoded

    straight, _ = pipeline(tmp_path / "straight", seed=1)
    pipeline(tmp_path / "resumed", seed=1, stop_at=10)  # last checkpoint: global step 8 = epoch 2, step 3
    assert latest_names(tmp_path / "resumed") == "0-2_3.ckpt"
    resumed, decoded = pipeline(tmp_path / "resumed", seed=7, resume=True)
    for name, value in straight.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)
    # Single worker: samples are decoded in the main process with their epoch in the index, so the count holds.
    assert len(decoded) == 2 * 4  # epoch 2's last 2 batches of 4: the first 3 batches were not read


def latest_names(folder):
    from src.engine.checkpoint import latest_checkpoint

    return Path(latest_checkpoint(folder)).name


def test_resume_with_another_steps_per_epoch_is_refused(tmp_path):
    first, _ = make_trainer(tmp_path, epochs=1, schedule_epochs=3)
    first.train()  # 0-1_5.ckpt at global step 5
    net, opt, scaler = build(1, 3)
    other = Trainer(net, opt, EpochDataset(steps=4), 4, 3, tmp_path, loss_scaler=scaler, component_names=COMPONENTS)
    with pytest.raises(ValueError, match="global step 5 in epoch 1, which does not fit steps_per_epoch=4"):
        other.train(resume=True)


def fake_data_sink(calls):
    """Stand-in for mindspore.data_sink (Ascend/GPU only): one step per call on the next batch of an iterator
    that runs on across epochs, as the device queue does; records its calls."""
    def factory(step, dataset):
        batches = dataset.create_tuple_iterator(num_epochs=-1, output_numpy=False)

        def one_step():
            calls.append("step")
            try:
                batch = next(batches)
            except StopIteration:  # a MindSpore iterator ends each epoch so; the next next() starts the next one
                batch = next(batches)
            return step(*batch)
        return one_step
    return factory


def test_data_sink_reads_outputs_every_sink_steps_and_trains_identically(tmp_path):
    source = EpochDataset(steps=STEPS_PER_EPOCH)
    x = np.concatenate([b[0] for b in source])
    y = np.concatenate([b[1] for b in source])

    def dataset():
        return ds.NumpySlicesDataset({"image": x, "target": y}, shuffle=False).batch(4, drop_remainder=True)
    plain, plain_objs = make_trainer(tmp_path / "plain", epochs=2, dataset=dataset())
    plain.train()
    events = []
    sunk, sunk_objs = make_trainer(tmp_path / "sink", epochs=2, dataset=dataset(), sink_steps=3,
                                   data_sink=fake_data_sink(events))
    read = sunk._after_step
    sunk._after_step = lambda *args: (events.append("read"), read(*args))[1]
    summary = sunk.train()
    # 5 steps per epoch, outputs read after 3 queued steps and at the epoch's end (checkpoint).
    assert events == (["step"] * 3 + ["read"] * 3 + ["step"] * 2 + ["read"] * 2) * 2
    assert [Path(p).name for p in summary["checkpoints"]] == ["0-1_5.ckpt", "0-2_5.ckpt"]
    for name, value in state_arrays(*plain_objs).items():
        np.testing.assert_array_equal(state_arrays(*sunk_objs)[name], value, err_msg=name)
    assert sunk.history["loss"] == plain.history["loss"]


def test_data_sink_is_refused_on_cpu_with_one_log_line(tmp_path):
    import logging
    from types import SimpleNamespace

    from src.engine.run import data_sink_factory

    records = []
    logger = logging.getLogger("test_data_sink")
    logger.addHandler(type("H", (logging.Handler,), {"emit": lambda self, r: records.append(r.getMessage())})())
    logger.setLevel(logging.INFO)
    cfg = SimpleNamespace(enable_data_sink=True, data_sink_steps=50)
    assert data_sink_factory(cfg, SimpleNamespace(target="CPU"), logger) is None
    assert records == ["data sink: not used on CPU (MindSpore 2.10 sinks data on Ascend and GPU only); batches are "
                       "fed from the host"]
    assert data_sink_factory(SimpleNamespace(enable_data_sink=False), SimpleNamespace(target="GPU"), logger) is None
    assert callable(data_sink_factory(cfg, SimpleNamespace(target="GPU"), logger))  # built, not run, here


@pytest.mark.parametrize("kwargs, message", [
    ({"save_checkpoint_steps": -1}, r"save_checkpoint_steps \(0 = off\) must be a positive int, got -1"),
    ({"log_format": "zoo"}, "log_format must be one of"),
    ({"sink_steps": 0, "data_sink": fake_data_sink([])}, "sink_steps"),
])
def test_new_trainer_arguments_are_checked(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_trainer(tmp_path, epochs=1, **kwargs)
