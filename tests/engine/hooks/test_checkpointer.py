"""CheckpointHook alone, over the toy network: when it saves (hand-listed schedule), what a checkpoint holds
(state, `train_<key>` extras, EMA averages as the weights), how many are kept, other ranks, and resume."""
import mindspore as ms
import numpy as np
import pytest

from src.engine.checkpoint import CheckpointError
from src.engine.ema import WeightAverage
from src.engine.hooks.base import HookBase
from src.engine.hooks.checkpointer import CheckpointHook, describe_position
from tests.engine.toy import build, state_arrays


class SeenCheckpoints(HookBase):
    def __init__(self):
        self.paths = []

    def after_checkpoint(self, path):
        self.paths.append(path)


@pytest.fixture()
def toy_trainer(fake_trainer):
    fake_trainer.network, fake_trainer.optimizer, fake_trainer.loss_scaler = build(3, 2)
    return fake_trainer


def test_due_every_interval_epochs_the_last_epoch_and_every_n_steps(fake_trainer):
    fake_trainer.epochs = 5  # 4 steps per epoch
    hook = fake_trainer.attach(CheckpointHook(fake_trainer.output_dir, ckpt_interval=2, save_checkpoint_steps=3))
    due = [(epoch, step) for epoch in range(5) for step in range(1, 5) if hook.due(epoch * 4 + step, step, epoch)]
    # steps 3, 6, 9, ... (global); the end of epochs 2 and 4 (1-based) and of the last one, 5
    assert due == [(0, 3), (1, 2), (1, 4), (2, 1), (2, 4), (3, 3), (3, 4), (4, 2), (4, 4)]
    assert hook.needs_outputs(3, 3, 0) and not hook.needs_outputs(2, 2, 0)


def test_save_writes_the_state_and_the_extras_then_tells_the_hooks(toy_trainer):
    seen = SeenCheckpoints()
    hook = toy_trainer.attach(CheckpointHook(toy_trainer.output_dir / "ckpt", extra={"model": "toy"}), seen)
    summary = {"checkpoints": []}
    hook.before_train(summary)
    toy_trainer.global_step = 6
    hook.after_sync(1, 2)  # not due: nothing
    hook.after_sync(1, 4)  # the last epoch's end
    path = str(toy_trainer.output_dir / "ckpt" / "0-2_4.ckpt")
    assert seen.paths == [path] and summary["checkpoints"] == [path]
    assert toy_trainer.lines == [f"saved checkpoint {path}"]
    stored = ms.load_checkpoint(str(path))
    assert stored["train_model"] == "toy" and int(stored["train_global_step"].asnumpy()) == 6
    for param in toy_trainer.network.get_parameters():
        np.testing.assert_array_equal(stored[param.name].asnumpy(), param.asnumpy())


def test_keep_checkpoint_max_and_other_ranks(toy_trainer):
    hook = toy_trainer.attach(CheckpointHook(toy_trainer.output_dir / "ckpt", save_checkpoint_steps=1,
                                             keep_checkpoint_max=2))
    for step in (1, 2, 3):
        toy_trainer.global_step = step
        hook.after_sync(0, step)
    assert sorted(p.name for p in (toy_trainer.output_dir / "ckpt").iterdir()) == ["0-1_2.ckpt", "0-1_3.ckpt"]
    toy_trainer.rank = 1
    hook.save(0, 4)
    assert not (toy_trainer.output_dir / "ckpt" / "0-1_4.ckpt").exists()


def test_with_an_average_the_checkpoint_presents_it_as_the_weights(toy_trainer):
    ema = WeightAverage(toy_trainer.network, 0.5)
    for param in toy_trainer.network.get_parameters():  # training moves the weights away from the average
        if param.name in ema.names:
            param.set_data(ms.Tensor(param.asnumpy() + np.float32(1.0)))
    hook = toy_trainer.attach(CheckpointHook(toy_trainer.output_dir, ema=ema))
    hook.save(0, 4)
    stored = ms.load_checkpoint(str(toy_trainer.output_dir / "0-1_4.ckpt"))
    for name, average in ema.averages().items():
        np.testing.assert_array_equal(stored[name].asnumpy(), average.asnumpy())
        np.testing.assert_array_equal(stored[f"train_weights.{name}"].asnumpy(),
                                      stored[name].asnumpy() + np.float32(1.0))
    assert float(stored["train_ema_decay"].asnumpy()) == 0.5


def test_resume_restores_the_newest_checkpoint(toy_trainer, fake_trainer):
    hook = toy_trainer.attach(CheckpointHook(toy_trainer.output_dir, save_checkpoint_steps=1, extra={"model": "toy"}))
    toy_trainer.global_step = 5
    hook.save(1, 1)
    expected = state_arrays(toy_trainer.network, toy_trainer.optimizer, toy_trainer.loss_scaler)
    toy_trainer.network, toy_trainer.optimizer, toy_trainer.loss_scaler = build(4, 2)  # other weights
    toy_trainer.global_step = 0
    assert hook.resume() == 2 and toy_trainer.global_step == 5
    restored = state_arrays(toy_trainer.network, toy_trainer.optimizer, toy_trainer.loss_scaler)
    assert restored.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_array_equal(restored[name], value, err_msg=name)
    assert toy_trainer.lines[-1].startswith(f"resume: {toy_trainer.output_dir / '0-2_1.ckpt'} -> epoch 2: 1 of 4 "
                                            "steps done, global step 5, optimizer step 0, loss scale ")


def test_resume_refuses_a_checkpoint_of_other_settings(toy_trainer):
    toy_trainer.attach(CheckpointHook(toy_trainer.output_dir, extra={"model": "toy"})).save(0, 4)
    other = toy_trainer.attach(CheckpointHook(toy_trainer.output_dir, extra={"model": "other"}))
    with pytest.raises(CheckpointError, match="written with model toy; this run has other"):
        other.resume()


def test_resume_without_a_checkpoint_restores_nothing(toy_trainer):
    hook = toy_trainer.attach(CheckpointHook(toy_trainer.output_dir / "empty"))
    assert hook.resume() is None and toy_trainer.global_step == 0
    assert toy_trainer.lines == [f"resume: no checkpoint in {toy_trainer.output_dir / 'empty'}, starting from scratch"]


@pytest.mark.parametrize("global_step, text", [(0, "epoch 0 done"), (8, "epoch 2 done"),
                                               (9, "epoch 3: 1 of 4 steps done")])
def test_describe_position(global_step, text):
    assert describe_position(global_step, 4) == text
