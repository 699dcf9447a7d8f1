"""Checkpoints: zoo name, atomic write, keep-last-N, newest lookup, resume round trip, tolerant loading."""
import os

import numpy as np
import pytest

import mindspore as ms
from mindspore import Tensor

from src.engine import checkpoint as ckpt_mod
from src.engine.checkpoint import (CheckpointError, checkpoint_name, latest_checkpoint, list_checkpoints,
                                   load_for_resume, load_weights, save_checkpoint)
from src.engine.train_step import TrainStep
from tests.engine.toy import EpochDataset, ToyNet, build, state_arrays


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


def test_failed_save_leaves_no_partial_file(tmp_path, monkeypatch):
    net, opt, scaler = trained_toy(steps=1)
    good = save_checkpoint(tmp_path, net, opt, epoch=1, step_in_epoch=5, global_step=5)
    good_bytes = open(good, "rb").read()

    def broken_save(save_obj, ckpt_file_name, **kwargs):
        with open(ckpt_file_name, "wb") as handle:
            handle.write(b"half a checkpoint")
        raise RuntimeError("disk full")

    monkeypatch.setattr(ckpt_mod.ms, "save_checkpoint", broken_save)
    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(tmp_path, net, opt, epoch=2, step_in_epoch=5, global_step=10)
    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(tmp_path, net, opt, epoch=1, step_in_epoch=5, global_step=5)  # overwrite attempt
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
