"""StepLogHook alone: the zoo-form step lines every `log_interval` steps and the epoch line, rank 0 only.
Expected lines are written out by hand from the values fed in."""
import pytest

from src.engine.hooks.step_log import StepLogHook


def feed(hook, losses, epoch=0, overflow=False, scale=1024.0):
    for i, loss in enumerate(losses):
        hook.trainer.global_step += 1
        hook.after_step(epoch, i + 1, loss, overflow, scale, {})


def test_iter_lines_average_the_finite_losses_of_the_interval(fake_trainer):
    hook = fake_trainer.attach(StepLogHook(log_interval=2, log_format="iter"))
    hook.before_epoch(0, 0)
    feed(hook, [1.0, float("nan"), 3.0, 4.0])
    assert fake_trainer.lines == [
        "epoch:1, iter:2, avg_loss:1.000000, loss:nan, overflow:False, loss_scale:1024",
        "epoch:1, iter:4, avg_loss:3.500000, loss:4.000000, overflow:False, loss_scale:1024"]


def test_an_interval_without_a_finite_loss_logs_nan(fake_trainer):
    hook = fake_trainer.attach(StepLogHook(log_interval=1))
    hook.before_epoch(0, 0)
    feed(hook, [float("inf")], overflow=True, scale=512.0)
    assert fake_trainer.lines == ["epoch:1, iter:1, avg_loss:nan, loss:inf, overflow:True, loss_scale:512"]


def test_percent_lines_give_the_share_of_the_epoch_and_the_global_step(fake_trainer):
    hook = fake_trainer.attach(StepLogHook(log_interval=2, log_format="percent"))
    fake_trainer.global_step = 4  # second epoch
    hook.before_epoch(1, 0)
    feed(hook, [0.5, 0.25, 0.125, 2.0], epoch=1)
    assert fake_trainer.lines == [
        "epoch: 2, current epoch percent: 0.500, step: 6, outputs are (0.250000, False, 1024)",
        "epoch: 2, current epoch percent: 1.000, step: 8, outputs are (2.000000, False, 1024)"]


def test_epoch_line(fake_trainer):
    hook = fake_trainer.attach(StepLogHook())
    hook.after_epoch(0, {"mean_loss": 1.5, "components": {"hm": [1.0, 2.0], "wh": [0.25]}, "elapsed": 2.0,
                         "steps": 4, "imgs_per_sec": 12.5, "lr": 0.001})
    assert fake_trainer.lines == ["epoch:1, avg_loss:1.500000, hm:1.500000, wh:0.250000, time:2.00s, "
                                  "per_step:500.0ms, imgs/sec:12.50, lr:0.001"]


def test_other_ranks_log_nothing(fake_trainer):
    fake_trainer.rank = 1
    hook = fake_trainer.attach(StepLogHook(log_interval=1))
    hook.before_epoch(0, 0)
    feed(hook, [1.0, 2.0])
    hook.after_epoch(0, {"mean_loss": 1.5, "components": {}, "elapsed": 1.0, "steps": 2, "imgs_per_sec": 1.0,
                         "lr": 0.1})
    assert fake_trainer.lines == []


def test_an_interval_does_not_run_across_epochs(fake_trainer):
    hook = fake_trainer.attach(StepLogHook(log_interval=3))
    hook.before_epoch(0, 0)
    feed(hook, [10.0, 10.0])  # 2 of an interval of 3: no line, and the epoch ends
    hook.before_epoch(1, 0)
    feed(hook, [1.0, 2.0, 3.0], epoch=1)
    assert fake_trainer.lines == ["epoch:2, iter:3, avg_loss:2.000000, loss:3.000000, overflow:False, "
                                  "loss_scale:1024"]


def test_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match=r"log_format must be one of \('iter', 'percent'\), got 'json'"):
        StepLogHook(log_format="json")
