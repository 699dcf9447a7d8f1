"""EpochLoop alone (no standard hooks): when it calls a hook, with what, under a data sink and on resume.
The expected event lists are written out by hand for 5 steps per epoch (the toy data set)."""
import math

import mindspore.dataset as ds
import numpy as np
import pytest

from src.engine.hooks.base import HookBase
from src.engine.loop import EpochLoop
from tests.engine.toy import STEPS_PER_EPOCH, EpochDataset, build


class Recorder(HookBase):
    """Records every call; outputs are needed at the global steps in `need`."""

    def __init__(self, need=(), restore=None):
        self.events, self.need, self.restore, self.stats = [], set(need), restore, []

    def needs_outputs(self, global_step, step_in_epoch, epoch):
        return global_step in self.need

    def resume(self):
        self.events.append("resume")
        if self.restore is None:
            return None
        self.trainer.global_step = self.restore
        return math.ceil(self.restore / STEPS_PER_EPOCH)

    def after_resume(self):
        self.events.append("after_resume")

    def before_train(self, summary):
        self.events.append("before_train")

    def before_epoch(self, epoch, skip):
        self.events.append(("before_epoch", epoch, skip))

    def after_step(self, epoch, step_in_epoch, loss, overflow, scale, components):
        assert self.trainer.global_step == epoch * STEPS_PER_EPOCH + step_in_epoch
        assert sorted(components) == ["c0", "c1"]
        self.events.append(("step", step_in_epoch))

    def after_sync(self, epoch, step_in_epoch):
        self.events.append(("sync", step_in_epoch))

    def after_epoch(self, epoch, stats):
        self.events.append(("after_epoch", epoch))
        self.stats.append(stats)

    def after_train(self, summary):
        self.events.append("after_train")
        summary["recorded"] = True


def make_loop(tmp_path, hooks, epochs=1, **kwargs):
    net, opt, scaler = build(1, 2)
    return EpochLoop(net, opt, kwargs.pop("dataset", EpochDataset()), STEPS_PER_EPOCH, epochs, tmp_path, hooks=hooks,
                     loss_scaler=scaler, **kwargs)


def test_events_of_an_epoch_and_its_statistics(tmp_path):
    hook = Recorder()
    loop = make_loop(tmp_path, [hook])
    summary = loop.train()
    steps = [event for i in range(1, 6) for event in (("step", i), ("sync", i))]
    assert hook.events == ["before_train", ("before_epoch", 0, 0), *steps, ("after_epoch", 0), "after_train"]
    assert summary["recorded"] and summary["epoch_loss"] == [hook.stats[0]["mean_loss"]]
    stats = hook.stats[0]
    assert stats["steps"] == 5 and stats["mean_loss"] == pytest.approx(np.mean(loop.history["loss"]), rel=1e-12)
    assert list(stats["components"]) == ["c0", "c1"] and len(stats["components"]["c0"]) == 5
    assert stats["elapsed"] > 0 and stats["imgs_per_sec"] > 0 and stats["lr"] > 0


def test_with_a_data_sink_outputs_are_read_every_sink_steps_and_where_a_hook_needs_them(tmp_path, fake_data_sink):
    source = EpochDataset()
    x = np.concatenate([b[0] for b in source])
    y = np.concatenate([b[1] for b in source])
    dataset = ds.NumpySlicesDataset({"image": x, "target": y}, shuffle=False).batch(4, drop_remainder=True)
    hook = Recorder(need={2})
    make_loop(tmp_path, [hook], dataset=dataset, data_sink=fake_data_sink([]), sink_steps=5).train()
    assert hook.events[2:-2] == [("step", 1), ("step", 2), ("sync", 2), ("step", 3), ("step", 4), ("step", 5),
                                 ("sync", 5)]


def test_resume_asks_the_hooks_and_starts_where_one_restored(tmp_path):
    first, restoring, last = Recorder(), Recorder(restore=7), Recorder()
    make_loop(tmp_path, [first, restoring, last], epochs=2).train(resume=True)
    # the first hook restores nothing, the second restores global step 7 (epoch 2, 2 steps done); the third is
    # not asked; all hear `after_resume`
    assert first.events[:3] == ["resume", "after_resume", "before_train"]
    assert restoring.events[:4] == ["resume", "after_resume", "before_train", ("before_epoch", 1, 2)]
    assert last.events[:3] == ["after_resume", "before_train", ("before_epoch", 1, 2)]
    assert restoring.events[4] == ("step", 3) and restoring.stats[0]["steps"] == 3


def test_resume_without_a_restoring_hook_starts_from_scratch(tmp_path):
    hook = Recorder()
    make_loop(tmp_path, [hook]).train(resume=True)
    assert hook.events[:3] == ["resume", "before_train", ("before_epoch", 0, 0)]
