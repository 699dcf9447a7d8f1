"""Weight average (src/engine/ema.py): the average against a float64 numpy recurrence over the weights after each
update (an overflowing step updates nothing), checkpoints presenting it (test.py-style loading gets the average,
resume gets the training weights back), straight vs stop-and-resume bitwise, refused resumes, argument checks."""
import numpy as np
import pytest

import mindspore as ms
from mindspore import Tensor

from src.engine.checkpoint import (TRAINING_WEIGHTS, CheckpointError, load_for_resume, load_weights,
                                   save_checkpoint)
from src.engine.ema import WeightAverage, averaged_parameters, resume_average
from src.engine.train_step import TrainStep
from src.engine.trainer import Trainer
from tests.engine.toy import SPIKE, STEPS_PER_EPOCH, EpochDataset, ToyNet, build, state_arrays

pytestmark = pytest.mark.numerics  # make test-portable (pyproject.toml)

DECAY = 0.7
COMPONENTS = ("first", "second")


def weights_of(net):
    return {p.name: p.asnumpy().astype(np.float64) for p in averaged_parameters(net)}


def test_average_follows_the_recurrence_over_the_updated_weights():
    """a_0 = initial weights, a_t = d a_(t-1) + (1 - d) w_t after each update t (w_t read back after the step);
    the overflowing batch (SPIKE) makes no update and must leave the average and its count alone."""
    net, opt, scaler = build(seed=1, epochs=2)
    ema = WeightAverage(net, DECAY)
    step = TrainStep(net, opt, scaler, after_update=ema)
    expected, before_update = weights_of(net), weights_of(net)
    dataset, updates, overflows = EpochDataset(spike=SPIKE), 0, 0
    for epoch in range(2):
        dataset.set_epoch(epoch)
        for x, y in dataset:
            previous = weights_of(net)
            _, overflow, _, _ = step(Tensor(x), Tensor(y))
            if bool(overflow.asnumpy()):
                overflows += 1
                continue
            updates += 1
            current = weights_of(net)
            expected = {n: DECAY * expected[n] + (1 - DECAY) * current[n] for n in expected}
            before_update = {n: DECAY * before_update[n] + (1 - DECAY) * previous[n] for n in before_update}
    assert overflows == 1 and ema.num_updates() == updates == 2 * STEPS_PER_EPOCH - 1
    got = {n: v.asnumpy() for n, v in ema.averages().items()}
    assert sorted(got) == sorted(expected) and "bn.moving_mean" in got  # moving statistics are averaged too
    for name, value in expected.items():
        # float32 recurrence of 9 steps vs float64: a few ulp of the largest value
        np.testing.assert_allclose(got[name], value, rtol=0, atol=1e-6 * max(1.0, np.abs(value).max()), err_msg=name)
    # The average read the weights after the optimizer's update, not before: that recurrence is far off.
    assert max(np.abs(got[n] - before_update[n]).max() for n in got) > 1e-3


def test_checkpoint_presents_the_average_and_resume_restores_both(tmp_path):
    net, opt, scaler = build(seed=1, epochs=2)
    ema = WeightAverage(net, DECAY)
    step = TrainStep(net, opt, scaler, after_update=ema)
    for x, y in EpochDataset(steps=3):
        step(Tensor(x), Tensor(y))
    averages = {n: v.asnumpy() for n, v in ema.averages().items()}
    training = state_arrays(net, opt, scaler)
    path = save_checkpoint(tmp_path, net, opt, epoch=1, step_in_epoch=3, global_step=3, loss_scaler=scaler,
                           extra=ema.checkpoint_entries(), weights=ema.averages())
    stored = ms.load_checkpoint(path)
    for name, value in averages.items():
        np.testing.assert_array_equal(stored[name].asnumpy(), value)
        np.testing.assert_array_equal(stored[TRAINING_WEIGHTS + name].asnumpy(), training[name])
        assert not np.array_equal(value, training[name]) or name.startswith("bn.moving")

    bare = ToyNet()  # what test.py / predict.py do: the network's names get the average
    report = load_weights(bare, path)
    assert not report.missing and not report.unexpected
    for p in bare.get_parameters():
        np.testing.assert_array_equal(p.asnumpy(), averages[p.name])

    net2, opt2, scaler2 = build(seed=7, epochs=2, scale_value=4.0)
    ema2 = WeightAverage(net2, DECAY)
    state = load_for_resume(path, net2, opt2, scaler2)
    resume_average(ema2, state)
    got = state_arrays(net2, opt2, scaler2)
    for name, value in training.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)
    for name, value in ema2.averages().items():
        np.testing.assert_array_equal(value.asnumpy(), averages[name])
    assert ema2.num_updates() == ema.num_updates() == 3


def _trainer(tmp_dir, epochs, seed=1, ema_decay=DECAY, **kwargs):
    net, opt, scaler = build(seed, 2)
    ema = WeightAverage(net, ema_decay) if ema_decay else None
    trainer = Trainer(net, opt, EpochDataset(spike=SPIKE), STEPS_PER_EPOCH, epochs, tmp_dir, loss_scaler=scaler,
                      component_names=COMPONENTS, log_interval=5, ema=ema, **kwargs)
    return trainer, (net, opt, scaler), ema


def test_straight_and_resumed_training_agree_bitwise_with_the_average(tmp_path):
    straight, objs, ema = _trainer(tmp_path / "straight", epochs=2)
    straight.train()
    expected = state_arrays(*objs)
    expected_average = {n: v.asnumpy() for n, v in ema.averages().items()}

    first, _, _ = _trainer(tmp_path / "resumed", epochs=1)
    first.train()
    resumed, objs2, ema2 = _trainer(tmp_path / "resumed", epochs=2, seed=5)  # other initial weights and average
    resumed.train(resume=True)
    got = state_arrays(*objs2)
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)
    for name, value in ema2.averages().items():
        np.testing.assert_array_equal(value.asnumpy(), expected_average[name], err_msg=name)
    assert ema2.num_updates() == ema.num_updates() == 2 * STEPS_PER_EPOCH - 1  # one overflowing step
    final = ms.load_checkpoint(str(tmp_path / "resumed" / f"0-2_{STEPS_PER_EPOCH}.ckpt"))
    assert int(final["train_ema_updates"].asnumpy()) == 2 * STEPS_PER_EPOCH - 1
    assert float(final["train_ema_decay"].asnumpy()) == pytest.approx(DECAY)


@pytest.mark.parametrize("first_decay, resumed_decay, message", [
    (DECAY, 0, "holds averaged weights .trained with --ema_decay 0.7.; resume with the same --ema_decay"),
    (0, DECAY, "holds no weight average: resume it with --ema_decay 0"),
    (DECAY, 0.9, "was trained with --ema_decay 0.7; resume with the same value .this run has 0.9."),
])
def test_resume_with_another_average_setting_is_refused(tmp_path, first_decay, resumed_decay, message):
    first, _, _ = _trainer(tmp_path, epochs=1, ema_decay=first_decay)
    first.train()
    resumed, _, _ = _trainer(tmp_path, epochs=2, ema_decay=resumed_decay)
    with pytest.raises(CheckpointError, match=message):
        resumed.train(resume=True)


def test_a_recorded_setting_that_differs_is_refused(tmp_path):
    first, _, _ = _trainer(tmp_path, epochs=1, ema_decay=0, checkpoint_extra={"freeze_bn": True})
    first.train()
    resumed, _, _ = _trainer(tmp_path, epochs=2, ema_decay=0, checkpoint_extra={"freeze_bn": False})
    with pytest.raises(CheckpointError, match="written with freeze_bn True; this run has False"):
        resumed.train(resume=True)
    same, _, _ = _trainer(tmp_path, epochs=2, ema_decay=0, checkpoint_extra={"freeze_bn": True})
    assert same.train(resume=True)["global_step"] == 2 * STEPS_PER_EPOCH


@pytest.mark.parametrize("decay", [0, 1, 1.5, -0.1, True, "0.9"])
def test_decay_outside_the_open_unit_interval_is_refused(decay):
    with pytest.raises(ValueError, match="decay must be a number in .0, 1."):
        WeightAverage(ToyNet(), decay)
