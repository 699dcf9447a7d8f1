"""Learning-rate schedules vs hand-computed values (exact formulas; rtol 1e-12 only for float rounding), and the
old CenterNet zoo's PolyDecay vs MindSpore's own PolynomialDecayLR."""
import math

import numpy as np
import pytest

from src.engine.lr_schedule import build_lr_schedule, cosine_lr, linear_warmup, multistep_lr, poly_lr


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


# ---------------------------------------------------------------- the old CenterNet zoo's schedules

def test_poly_hand_values():
    # T = 4 steps: (1 - t/4)^2 = 1, 9/16, 1/4, 1/16; with end_lr 0.1 the span is 0.9.
    np.testing.assert_allclose(poly_lr(1.0, steps_per_epoch=2, epochs=2, end_lr=0.0, power=2.0),
                               [1.0, 0.5625, 0.25, 0.0625], rtol=1e-12)
    np.testing.assert_allclose(poly_lr(1.0, 2, 2, end_lr=0.1, power=1.0),
                               [1.0, 0.775, 0.55, 0.325], rtol=1e-12)
    assert build_lr_schedule("poly", 1.0, 2, 2, end_lr=0.1, power=1.0) == poly_lr(1.0, 2, 2, 0.1, 1.0)


def test_poly_equals_mindspores_polynomial_decay_as_the_zoo_built_it():
    """The zoo's PolyDecay was nn.PolynomialDecayLR(lr, end_lr, decay_steps=total steps, power) (+ warm-up): an
    independent implementation, evaluated at chosen steps of the zoo's run (350 epochs x 250 steps). MindSpore
    computes in float32: rtol 1e-5."""
    from mindspore import Tensor, nn

    steps_per_epoch, epochs = 250, 350
    ours = poly_lr(1.2e-4, steps_per_epoch, epochs, end_lr=5e-7, power=5.0)
    theirs = nn.PolynomialDecayLR(1.2e-4, 5e-7, steps_per_epoch * epochs, 5.0)
    for step in (0, 1, 1999, 2000, 43750, 87000, 87499):
        expected = float(theirs(Tensor(np.array(step, np.int32))).asnumpy())
        assert ours[step] == pytest.approx(expected, rel=1e-5), step
    assert ours[43750] == pytest.approx((1.2e-4 - 5e-7) / 32 + 5e-7, rel=1e-12)  # half-way: (1/2)^5


def test_multidecay_is_multistep_with_gamma_one_over_factor():
    # The zoo's MultiDecay: lr / factor ** #(milestones m with m * steps_per_epoch <= step), factor 10.
    lrs = multistep_lr(1.2e-4, steps_per_epoch=250, epochs=350, milestones=[270, 300], gamma=0.1)
    for step in (0, 270 * 250 - 1, 270 * 250, 300 * 250 - 1, 300 * 250, 350 * 250 - 1):
        passed = sum(1 for m in (270, 300) if m * 250 <= step)
        assert lrs[step] == pytest.approx(1.2e-4 / 10 ** passed, rel=1e-12), step
    assert (lrs[270 * 250 - 1], lrs[270 * 250], lrs[300 * 250]) == pytest.approx((1.2e-4, 1.2e-5, 1.2e-6))


def test_warmup_steps_and_epochs_add_up():
    got = build_lr_schedule("constant", 1.0, 4, 2, warmup_epochs=0.5, warmup_steps=2)  # 2 + 2 = 4 steps
    np.testing.assert_allclose(got, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0], rtol=1e-12)
    assert build_lr_schedule("constant", 1.0, 4, 2, warmup_steps=None) == [1.0] * 8


def test_zoo_warmup_on_poly_ramps_to_the_decayed_value():
    """2000 warm-up steps (the zoo's) over PolyDecay: step t < 2000 runs (t + 1) / 2000 of the scheduled lr, step
    1999 and later exactly the schedule (the zoo used lr * t / 2000 then jumped to the decayed value)."""
    steps_per_epoch, epochs = 250, 350
    plain = poly_lr(1.2e-4, steps_per_epoch, epochs, 5e-7, 5.0)
    warm = build_lr_schedule("poly", 1.2e-4, steps_per_epoch, epochs, end_lr=5e-7, power=5.0, warmup_steps=2000)
    total = steps_per_epoch * epochs

    def scheduled(t):
        return (1.2e-4 - 5e-7) * (1 - t / total) ** 5 + 5e-7
    assert warm[0] == pytest.approx(scheduled(0) / 2000, rel=1e-12)
    assert warm[999] == pytest.approx(scheduled(999) * 0.5, rel=1e-12)
    assert warm[1999] == pytest.approx(scheduled(1999), rel=1e-12)
    assert warm[2000:] == plain[2000:]


@pytest.mark.parametrize("call, message", [
    (lambda: poly_lr(0.1, 2, 2, power=0.0), "power must be > 0"),
    (lambda: poly_lr(0.1, 2, 2, end_lr=-1.0), "end_lr"),
    (lambda: build_lr_schedule("poly", 0.1, 2, 2, warmup_steps=3, warmup_epochs=1), r"warm-up \(5 steps"),
    (lambda: build_lr_schedule("constant", 0.1, 2, 2, warmup_steps=-1), "warmup_steps"),
    (lambda: build_lr_schedule("constant", 0.1, 2, 2, warmup_steps=True), "warmup_steps"),
    (lambda: build_lr_schedule("constant", 0.1, 2, 2, warmup_epochs=-0.5), "warmup_epochs"),
])
def test_bad_poly_and_warmup_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
