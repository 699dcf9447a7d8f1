"""Learning-rate schedules vs hand-computed values (exact formulas; rtol 1e-12 only for float rounding)."""
import math

import numpy as np
import pytest

from src.engine.lr_schedule import build_lr_schedule, cosine_lr, linear_warmup, multistep_lr


def test_multistep_hand_values():
    got = multistep_lr(0.1, steps_per_epoch=2, epochs=4, milestones=[3, 1], gamma=0.1)
    np.testing.assert_allclose(got, [0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.001, 0.001], rtol=1e-12)


def test_multistep_zoo_schedule_boundaries():
    lrs = multistep_lr(5e-4, steps_per_epoch=3, epochs=140, milestones=[90, 120], gamma=0.1)
    assert len(lrs) == 420
    assert lrs[89 * 3 + 2] == 5e-4 and lrs[90 * 3] == pytest.approx(5e-5, rel=1e-12)
    assert lrs[119 * 3 + 2] == pytest.approx(5e-5, rel=1e-12) and lrs[120 * 3] == pytest.approx(5e-6, rel=1e-12)


def test_cosine_hand_values():
    got = cosine_lr(1.0, steps_per_epoch=1, epochs=4, eta_min=0.0)
    np.testing.assert_allclose(got, [1.0, (1 + math.sqrt(0.5)) / 2, 0.5, (1 - math.sqrt(0.5)) / 2], rtol=1e-12)
    got = cosine_lr(0.3, steps_per_epoch=2, epochs=1, eta_min=0.1)
    np.testing.assert_allclose(got, [0.3, 0.2], rtol=1e-12)


def test_linear_warmup_hand_values():
    np.testing.assert_allclose(linear_warmup([1.0] * 5, 3), [1 / 3, 2 / 3, 1.0, 1.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(linear_warmup([2.0, 2.0, 2.0], 2, start_factor=0.5), [1.5, 2.0, 2.0], rtol=1e-12)
    assert linear_warmup([0.1, 0.2], 0) == [0.1, 0.2]


def test_build_composes_warmup_with_either_schedule():
    multi = build_lr_schedule("multistep", 0.1, 4, 2, milestones=[1], gamma=0.5, warmup_epochs=0.5)
    np.testing.assert_allclose(multi, [0.05, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05], rtol=1e-12)
    cos = build_lr_schedule("cosine", 1.0, 2, 2, eta_min=0.0, warmup_steps=2)
    np.testing.assert_allclose(cos, [0.5, (1 + math.sqrt(0.5)) / 2, 0.5, (1 - math.sqrt(0.5)) / 2], rtol=1e-12)
    assert build_lr_schedule("constant", 0.01, 3, 2) == [0.01] * 6


@pytest.mark.parametrize("call, message", [
    (lambda: build_lr_schedule("step", 0.1, 2, 2), "lr_scheduler"),
    (lambda: multistep_lr(0.1, 0, 2, [1]), "steps_per_epoch"),
    (lambda: multistep_lr(0.1, 2, 2, ["90"]), "milestones"),
    (lambda: linear_warmup([0.1] * 3, 4), "warmup_steps"),
    (lambda: linear_warmup([0.1] * 3, 1, start_factor=2.0), "start_factor"),
])
def test_bad_arguments_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
