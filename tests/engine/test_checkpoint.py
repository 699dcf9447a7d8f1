"""Checkpoints: zoo name, atomic write, keep-last-N, newest lookup, resume round trip, tolerant loading; faults:
a full disk or a kill during a write, temporaries cleaned up, resume past a truncated checkpoint."""
import errno
import json
import logging
import os
import re
import signal
from pathlib import Path

import numpy as np
import pytest

import mindspore as ms
from mindspore import Tensor

from src.engine.checkpoint import (CheckpointError, checkpoint_name, latest_checkpoint, list_checkpoints,
                                   load_for_resume, load_latest_for_resume, load_weights, save_checkpoint)
from src.engine.train_step import TrainStep
from tests.engine.toy import EpochDataset, ToyNet, build, state_arrays

ROOT = Path(__file__).resolve().parents[2]


def trained_toy(seed=1, steps=3):
    net, opt, scaler = build(seed, epochs=2)
    step = TrainStep(net, opt, scaler)
    for x, y in list(EpochDataset(steps=steps)):
        step(Tensor(x), Tensor(y))
    return net, opt, scaler


def test_name_and_listing(tmp_path):
    assert checkpoint_name(140, 1610) == "0-140_1610.ckpt"
    for name in ["0-9_5.ckpt", "0-10_5.ckpt", "0-2_5.ckpt", "1-30_5.ckpt", ".tmp-12-0-99_5.ckpt", "0-11_5.ckpt.bak",
                 "x-12_5.ckpt"]:
        (tmp_path / name).write_bytes(b"")
    # Numeric, not lexical, order; other ranks, temporaries and junk are ignored.
    assert [(e, s) for e, s, _ in list_checkpoints(tmp_path)] == [(2, 5), (9, 5), (10, 5)]
    assert latest_checkpoint(tmp_path).endswith("0-10_5.ckpt")
    assert latest_checkpoint(tmp_path, rank=1).endswith("1-30_5.ckpt")
    assert latest_checkpoint(tmp_path / "missing") is None


def test_save_keep_last_and_no_temporaries(tmp_path):
    net, opt, scaler = trained_toy(steps=1)
    for epoch in range(1, 5):
        save_checkpoint(tmp_path, net, opt, epoch=epoch, step_in_epoch=5, global_step=5 * epoch, loss_scaler=scaler,
                        keep_last=2)
    assert sorted(os.listdir(tmp_path)) == ["0-3_5.ckpt", "0-4_5.ckpt"]
    save_checkpoint(tmp_path, net, opt, epoch=5, step_in_epoch=5, global_step=25, keep_last=0)
    assert len(list_checkpoints(tmp_path)) == 3


# A subprocess saving a checkpoint of a 200x200 Dense layer (~160 KB) with the engine's save_checkpoint, its
# files limited to 50 KB by RLIMIT_FSIZE: a write past the limit fails with EFBIG ("File too large"), the same
# path as a full disk (ENOSPC), and works as root (permission bits do not). With SIGXFSZ at its default action
# the kernel kills the process in the middle of the write instead, as a SIGKILL would: no Python clean-up runs.
SAVE_SCRIPT = """
import json, os, resource, signal, sys
sys.path.insert(0, {root!r})
import mindspore as ms
from mindspore import nn
from src.engine.checkpoint import save_checkpoint
net = nn.Dense(200, 200)
if {killed!r}:
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
resource.setrlimit(resource.RLIMIT_FSIZE, (50000, 50000))
try:
    save_checkpoint({folder!r}, net, epoch=2, step_in_epoch=5, global_step=10)
except OSError as err:
    print(json.dumps({{"errno": err.errno, "filename": err.filename, "pid": os.getpid()}}))
"""


def save_in_subprocess(folder, killed):
    import subprocess
    import sys

    script = SAVE_SCRIPT.format(root=str(ROOT), folder=str(folder), killed=killed)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "GLOG_v": "3"})


def dense_checkpoint(folder, epoch):
    from mindspore import nn

    return save_checkpoint(folder, nn.Dense(200, 200), epoch=epoch, step_in_epoch=5, global_step=5 * epoch)


def test_disk_full_during_a_write_names_the_checkpoint_and_leaves_nothing_behind(tmp_path):
    good = dense_checkpoint(tmp_path, 1)
    good_bytes = open(good, "rb").read()
    proc = save_in_subprocess(tmp_path, killed=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    error = json.loads(proc.stdout.strip().splitlines()[-1])
    assert error["errno"] == errno.EFBIG and error["filename"] == str(tmp_path / "0-2_5.ckpt")
    assert "CRITICAL" not in proc.stderr  # MindSpore's line names the temporary; ours names the checkpoint
    assert sorted(os.listdir(tmp_path)) == ["0-1_5.ckpt"]  # no temporary, the old checkpoint untouched
    assert open(good, "rb").read() == good_bytes


def test_a_write_killed_midway_leaves_mindspores_temporary_which_is_ignored_then_removed(tmp_path):
    dense_checkpoint(tmp_path, 1)
    proc = save_in_subprocess(tmp_path, killed=True)
    assert proc.returncode == -signal.SIGXFSZ, (proc.returncode, proc.stderr[-2000:])
    left = sorted(set(os.listdir(tmp_path)) - {"0-1_5.ckpt"})
    # MindSpore 2.10 writes `<the name it is given, .ckpt -> .tmp>`: our temporary `.0-2_5.ckpt.<pid>.part.ckpt`
    # becomes `.0-2_5.ckpt.<pid>.part.tmp`, cut short.
    assert len(left) == 1 and re.fullmatch(r"\.0-2_5\.ckpt\.\d+\.part\.tmp", left[0]), left
    assert 0 < (tmp_path / left[0]).stat().st_size <= 50000
    assert [(e, s) for e, s, _ in list_checkpoints(tmp_path)] == [(1, 5)]
    assert latest_checkpoint(tmp_path).endswith("0-1_5.ckpt")
    dense_checkpoint(tmp_path, 3)  # the next save clears what the dead writer left
    assert sorted(os.listdir(tmp_path)) == ["0-1_5.ckpt", "0-3_5.ckpt"]


def test_only_temporaries_of_dead_writers_and_of_this_process_are_stale(tmp_path):
    import subprocess
    import sys

    from src.io_utils import remove_stale_checkpoint_temporaries

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            f".0-4_2.ckpt.{dead}.part.tmp": True,  # MindSpore's temporary, writer gone
            f".0-4_2.ckpt.{dead}.part.ckpt": True,  # ours
            f".0-4_2.ckpt.{os.getpid()}.part.tmp": True,  # this process writes one checkpoint at a time
            f".tmp-{dead}-0-4_2.tmp": True,  # the names of earlier versions
            f".tmp-{dead}-0-4_2.ckpt": True,
            f".centerface_official.{dead}.part.tmp": True,
            f".0-4_2.ckpt.{live.pid}.part.tmp": False,  # a live writer's: kept
            "0-4_2.ckpt": False, "notes.tmp": False, ".hidden.ckpt": False,
        }
        for name in names:
            (tmp_path / name).write_bytes(b"x")
        removed = remove_stale_checkpoint_temporaries(tmp_path)
    finally:
        live.kill()
        live.wait()
    assert sorted(p.name for p in removed) == sorted(n for n, stale in names.items() if stale)
    assert sorted(os.listdir(tmp_path)) == sorted(n for n, stale in names.items() if not stale)


def test_a_failing_writer_is_an_os_error_naming_the_checkpoint(tmp_path, monkeypatch):
    net, opt, scaler = trained_toy(steps=1)
    good = save_checkpoint(tmp_path, net, opt, epoch=1, step_in_epoch=5, global_step=5)
    good_bytes = open(good, "rb").read()

    def broken_save(save_obj, ckpt_file_name, **kwargs):
        # what MindSpore's writer does: its own temporary (<name> with .ckpt -> .tmp), then an error
        with open(ckpt_file_name[:-len(".ckpt")] + ".tmp", "wb") as handle:
            handle.write(b"half a checkpoint")
        raise RuntimeError("the writer failed")

    monkeypatch.setattr(ms, "save_checkpoint", broken_save)
    for epoch in (2, 1):  # a new checkpoint, and an overwrite attempt
        with pytest.raises(OSError, match="writing the checkpoint failed") as info:
            save_checkpoint(tmp_path, net, opt, epoch=epoch, step_in_epoch=5, global_step=5)
        assert info.value.filename == str(tmp_path / f"0-{epoch}_5.ckpt") and info.value.errno == errno.EIO
    assert sorted(os.listdir(tmp_path)) == ["0-1_5.ckpt"]
    assert open(good, "rb").read() == good_bytes


def test_resume_round_trip_restores_everything(tmp_path):
    net, opt, scaler = trained_toy(seed=1)
    expected = state_arrays(net, opt, scaler)
    path = save_checkpoint(tmp_path, net, opt, epoch=1, step_in_epoch=3, global_step=3, loss_scaler=scaler)

    net2, opt2, scaler2 = build(seed=7, epochs=2, scale_value=4.0)
    assert not np.array_equal(net2.network.conv.weight.asnumpy(), expected["conv.weight"])
    state = load_for_resume(path, net2, opt2, scaler2)
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (1, 3, 3)
    got = state_arrays(net2, opt2, scaler2)
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)
    assert int(got["opt/global_step"][0]) == 3 and got["opt/moment2.conv.weight"].any()


def test_resume_rejects_other_models_and_plain_weight_files(tmp_path):
    net, opt, scaler = trained_toy(steps=1)
    path = save_checkpoint(tmp_path, net, opt, epoch=1, step_in_epoch=1, global_step=1, loss_scaler=scaler)
    other, other_opt, _ = build(seed=1, epochs=2, optimizer="momentum")
    with pytest.raises(CheckpointError, match="moments"):
        load_for_resume(path, other, other_opt)
    plain = tmp_path / "plain.ckpt"
    ms.save_checkpoint(net, str(plain))
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        load_for_resume(plain, net, opt)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_for_resume(tmp_path / "nope.ckpt", net, opt)


def test_load_weights_strips_zoo_prefix_once_and_reports(tmp_path):
    source = ToyNet()
    items = [{"name": "centerface_network." + p.name, "data": p} for p in source.get_parameters()
             if p.name != "head.bias"]
    items.append({"name": "moment1.centerface_network.conv.weight", "data": source.conv.weight})
    items.append({"name": "centerface_network.extra.weight", "data": source.conv.weight})
    items.append({"name": "network.network.head.weight", "data": source.head.weight})  # two prefixes: no
    path = tmp_path / "zoo.ckpt"
    ms.save_checkpoint(items, str(path), append_dict={"epoch_num": 3})

    target = ToyNet()
    old_bias = target.head.bias.asnumpy().copy()
    # the zoo's wrapper prefix is the caller's (CenterFace's task names it), not the engine's
    assert sorted(load_weights(ToyNet(), path).missing) == sorted(p.name for p in source.get_parameters())
    report = load_weights(target, path, extra_prefixes=("centerface_network.",))
    assert report.missing == ["head.bias"]
    assert sorted(report.unexpected) == ["centerface_network.extra.weight", "network.network.head.weight"]
    assert sorted(report.ignored) == ["epoch_num", "moment1.centerface_network.conv.weight"]
    assert len(report.loaded) == len(list(source.get_parameters())) - 1
    np.testing.assert_array_equal(target.conv.weight.asnumpy(), source.conv.weight.asnumpy())
    np.testing.assert_array_equal(target.bn.moving_mean.asnumpy(), source.bn.moving_mean.asnumpy())
    np.testing.assert_array_equal(target.head.bias.asnumpy(), old_bias)
    with pytest.raises(CheckpointError, match="missing 1 keys"):
        load_weights(ToyNet(), path, strict=True, extra_prefixes=("centerface_network.",))


def test_load_weights_refuses_a_checkpoint_of_another_model(tmp_path):
    items = [{"name": p.name, "data": p} for p in ToyNet().get_parameters()]
    path = tmp_path / "other.ckpt"
    ms.save_checkpoint(items, str(path), append_dict={"model": "centernet_pose"})
    with pytest.raises(CheckpointError, match="holds a 'centernet_pose' model; this run's task is 'centerface'"):
        load_weights(ToyNet(), path, model="centerface")
    assert load_weights(ToyNet(), path, model="centernet_pose").missing == []
    assert load_weights(ToyNet(), path).missing == []  # no expectation given: the tag is not checked


def test_load_weights_shape_mismatch_is_an_error(tmp_path):
    items = [{"name": p.name, "data": p} for p in ToyNet().get_parameters() if p.name != "head.weight"]
    items.append({"name": "head.weight", "data": Tensor(np.zeros((3, 4), np.float32))})
    path = tmp_path / "bad.ckpt"
    ms.save_checkpoint(items, str(path))
    with pytest.raises(CheckpointError, match=r"head.weight: checkpoint \(3, 4\) vs network \(2, 4\)"):
        load_weights(ToyNet(), path)


def test_training_checkpoint_loads_into_bare_network(tmp_path):
    # NetworkWithLoss has auto_prefix=False: its checkpoint keys are the bare network's names.
    net, opt, scaler = trained_toy(steps=1)
    path = save_checkpoint(tmp_path, net, opt, epoch=1, step_in_epoch=1, global_step=1, loss_scaler=scaler)
    bare = ToyNet()
    report = load_weights(bare, path, strict=True)
    assert report.missing == [] and report.unexpected == []
    np.testing.assert_array_equal(bare.head.weight.asnumpy(), net.network.head.weight.asnumpy())


def test_load_weights_missing_file_and_errors_are_user_errors(tmp_path):
    # FileNotFoundError / ValueError are what the root scripts turn into one line and exit code 2.
    with pytest.raises(FileNotFoundError, match="nope.ckpt: no such file"):
        load_weights(ToyNet(), tmp_path / "nope.ckpt")
    assert issubclass(CheckpointError, ValueError)


def test_listing_every_rank(tmp_path):
    for name in ["0-1_5.ckpt", "1-2_5.ckpt", "3-1_5.ckpt", ".0-9_5.ckpt.7.part.tmp"]:
        (tmp_path / name).write_bytes(b"")
    assert [Path(p).name for _, _, p in list_checkpoints(tmp_path, rank=None)] == ["0-1_5.ckpt", "3-1_5.ckpt",
                                                                                 "1-2_5.ckpt"]


def resume_candidates(tmp_path):
    """Checkpoints of epochs 1, 2, 3 of one toy run, each after one more step; returns their states."""
    net, opt, scaler = build(seed=1, epochs=4)
    step = TrainStep(net, opt, scaler)
    states = {}
    for epoch, (x, y) in enumerate(list(EpochDataset(steps=3)), start=1):
        step(Tensor(x), Tensor(y))
        save_checkpoint(tmp_path, net, opt, epoch=epoch, step_in_epoch=1, global_step=epoch, loss_scaler=scaler)
        states[epoch] = state_arrays(net, opt, scaler)
    return states


def test_resume_falls_back_from_a_truncated_newest_checkpoint(tmp_path, caplog):
    states = resume_candidates(tmp_path)
    newest = tmp_path / "0-3_1.ckpt"
    data = newest.read_bytes()
    newest.chmod(0o600)
    newest.write_bytes(data[:len(data) // 2])  # e.g. cut by a copy or a crash of a file system without fsync
    net, opt, scaler = build(seed=9, epochs=4)
    logger = logging.getLogger("test.resume")
    with caplog.at_level(logging.WARNING, logger="test.resume"):
        state = load_latest_for_resume(tmp_path, net, opt, scaler, logger=logger)
    assert (state["epoch"], state["path"]) == (2, str(tmp_path / "0-2_1.ckpt"))
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and "skipping " + str(newest) in warnings[0] and "cannot be read" in warnings[0]
    assert "fell back to " + str(tmp_path / "0-2_1.ckpt") in warnings[1]
    got = state_arrays(net, opt, scaler)
    for name, value in states[2].items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)


def test_resume_falls_back_from_a_checkpoint_missing_entries_and_changes_nothing_when_it_fails(tmp_path):
    states = resume_candidates(tmp_path)
    complete = ms.load_checkpoint(str(tmp_path / "0-3_1.ckpt"))
    # cut at an entry boundary (parses, but the training counters written last are missing)
    partial = [{"name": k, "data": v} for k, v in complete.items() if not k.startswith("train_")]
    (tmp_path / "0-3_1.ckpt").unlink()
    ms.save_checkpoint(partial, str(tmp_path / "0-3_1.ckpt"), append_dict={"train_format": "objects-as-points-"
                                                                                           "engine-1"})
    net, opt, scaler = build(seed=9, epochs=4)
    before = state_arrays(net, opt, scaler)
    with pytest.raises(CheckpointError, match="missing 3 keys"):
        load_for_resume(tmp_path / "0-3_1.ckpt", net, opt, scaler)
    for name, value in before.items():  # checked before anything is set
        np.testing.assert_array_equal(state_arrays(net, opt, scaler)[name], value, err_msg=name)
    assert load_latest_for_resume(tmp_path, net, opt, scaler)["epoch"] == 2
    np.testing.assert_array_equal(state_arrays(net, opt, scaler)["conv.weight"], states[2]["conv.weight"])


def test_resume_with_no_usable_checkpoint(tmp_path):
    net, opt, scaler = build(seed=9, epochs=4)
    assert load_latest_for_resume(tmp_path, net, opt, scaler) is None
    for epoch in (1, 2):
        (tmp_path / f"0-{epoch}_1.ckpt").write_bytes(b"\x0a\x05trunc")
    with pytest.raises(CheckpointError, match=r"0-2_1.ckpt: cannot be read .*\(and 1 older checkpoint\(s\)"):
        load_latest_for_resume(tmp_path, net, opt, scaler)


def test_a_checkpoint_larger_than_free_but_not_available_memory_loads(tmp_path, monkeypatch):
    """MindSpore 2.10 compares a .ckpt's size with MemFree (sysconf SC_AVPHYS_PAGES), which leaves out the page cache
    the kernel gives back on demand; the loaders compare with MemAvailable (src.engine.memory.available_gb)."""
    from mindspore.train import serialization

    from src.engine import memory
    from src.engine.checkpoint import check_reads_against_available_memory

    net, opt, scaler = trained_toy(steps=1)
    path = save_checkpoint(tmp_path, net, opt, epoch=1, step_in_epoch=1, global_step=1, loss_scaler=scaler)
    real_sysconf = os.sysconf  # "1 free page of 1 byte": smaller than any checkpoint
    monkeypatch.setattr(os, "sysconf", lambda name: 1 if name in ("SC_AVPHYS_PAGES", "SC_PAGE_SIZE") else
                        real_sysconf(name))

    check_reads_against_available_memory()
    ours = serialization._get_available_memory
    monkeypatch.setattr(serialization, "_get_available_memory", ours.replaced)  # MindSpore's own measure: refused
    with pytest.raises(ValueError, match="exceeds current available memory 1 bytes"):
        ms.load_checkpoint(path)

    monkeypatch.setattr(serialization, "_get_available_memory", ours)
    net2, opt2, scaler2 = build(seed=7, epochs=2)
    assert load_for_resume(path, net2, opt2, scaler2)["epoch"] == 1
    check_reads_against_available_memory()  # idempotent: the replaced function is MindSpore's, not ours
    assert serialization._get_available_memory is ours and not hasattr(ours.replaced, "uses_mem_available")

    # A file larger than the available memory is still refused, as one error naming it.
    monkeypatch.setattr(memory, "available_gb", lambda: 1 / memory.GB)
    with pytest.raises(CheckpointError, match=f"checkpoint {re.escape(str(path))}: .*exceeds current available"):
        load_for_resume(path, net2, opt2, scaler2)
