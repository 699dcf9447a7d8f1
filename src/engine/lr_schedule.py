"""Per-step learning-rate lists (one float per optimizer step) for MindSpore's dynamic learning rate.

MindSpore optimizers accept a list of learning rates and index it with their own `global_step`
counter, so a schedule here is simply a list of length `epochs * steps_per_epoch`:

* `multistep_lr`: `base_lr * gamma ** (number of milestones m with epoch >= m)`, milestones in epochs
  (the zoo's CenterFace schedule: milestones 90, 120, gamma 0.1; the old CenterNet zoo's MultiDecay is the
  same with `gamma = 1 / factor`: lr / 10 at its `multi_epochs` 270 and 300).
* `poly_lr`: polynomial decay from `base_lr` to `end_lr` over all T steps, step t getting
  `(base_lr - end_lr) * (1 - t / T) ** power + end_lr` (the old CenterNet zoo's PolyDecay: MindSpore's
  PolynomialDecayLR with decay_steps = the total step count, end_learning_rate 5e-7, power 5).
* `cosine_lr`: per-step cosine annealing from `base_lr` (step 0) towards `eta_min` (reached one step
  after the last step): `eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T)) / 2`.
* `linear_warmup`: multiplies the first `warmup_steps` entries of any schedule by a factor rising
  linearly from `start_factor` to 1: step t < W gets `start_factor + (1 - start_factor) * (t + 1) / W`
  (so step W-1 already runs at the full rate and step 0 is not wasted at lr 0).
* `build_lr_schedule`: the above combined from explicit arguments (what a config file provides); the warm-up
  lasts `round(warmup_epochs * steps_per_epoch) + warmup_steps` steps.

Warm-up compared with the old CenterNet zoo (its `warmup_steps`, 2000 there): the zoo replaced the first W
steps by MindSpore's WarmUpLR, `base_lr * t / W`, so its step 0 ran at lr 0 and, with PolyDecay, its lr jumped
down from base_lr to the decayed value at step W. Ours ramps to the scheduled value itself, `(t + 1) / W` of
it: the same length and slope, no step at lr 0 and no jump.
"""
import math

__all__ = ["LR_SCHEDULERS", "multistep_lr", "poly_lr", "cosine_lr", "linear_warmup", "build_lr_schedule"]

LR_SCHEDULERS = ("multistep", "cosine", "constant", "poly")


def _check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"lr schedule: {name} must be a positive int, got {value!r}")


def _total_steps(steps_per_epoch, epochs):
    _check_positive_int("steps_per_epoch", steps_per_epoch)
    _check_positive_int("epochs", epochs)
    return steps_per_epoch * epochs


def multistep_lr(base_lr, steps_per_epoch, epochs, milestones, gamma=0.1):
    """Step decay: the lr is multiplied by `gamma` at the start of every epoch listed in `milestones`."""
    total = _total_steps(steps_per_epoch, epochs)
    milestones = sorted(milestones)
    if any((not isinstance(m, int)) or isinstance(m, bool) or m <= 0 for m in milestones):
        raise ValueError(f"lr schedule: milestones must be positive epoch numbers (ints), got {milestones!r}")
    lrs = []
    for step in range(total):
        epoch = step // steps_per_epoch
        passed = sum(1 for m in milestones if epoch >= m)
        lrs.append(float(base_lr) * float(gamma) ** passed)
    return lrs


def poly_lr(base_lr, steps_per_epoch, epochs, end_lr=0.0, power=1.0):
    """Polynomial decay `(base_lr - end_lr) * (1 - t / T) ** power + end_lr` over the T steps of the run."""
    total = _total_steps(steps_per_epoch, epochs)
    if power <= 0:
        raise ValueError(f"lr schedule: poly power must be > 0, got {power!r}")
    if end_lr < 0:
        raise ValueError(f"lr schedule: end_lr must be >= 0, got {end_lr!r}")
    span = float(base_lr) - float(end_lr)
    return [span * (1.0 - t / total) ** float(power) + float(end_lr) for t in range(total)]


def cosine_lr(base_lr, steps_per_epoch, epochs, eta_min=0.0):
    """Per-step cosine annealing from `base_lr` to `eta_min` over `epochs * steps_per_epoch` steps."""
    total = _total_steps(steps_per_epoch, epochs)
    return [float(eta_min) + (float(base_lr) - float(eta_min)) * (1.0 + math.cos(math.pi * t / total)) / 2.0
            for t in range(total)]


def linear_warmup(lrs, warmup_steps, start_factor=0.0):
    """Scale the first `warmup_steps` entries of `lrs` by a linear ramp from `start_factor` to 1."""
    if not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(f"lr schedule: warmup_steps must be an int >= 0, got {warmup_steps!r}")
    if not 0.0 <= start_factor <= 1.0:
        raise ValueError(f"lr schedule: warmup start_factor must be in [0, 1], got {start_factor!r}")
    if warmup_steps > len(lrs):
        raise ValueError(f"lr schedule: warmup_steps={warmup_steps} exceeds the schedule length {len(lrs)}")
    out = list(lrs)
    for t in range(warmup_steps):
        out[t] = lrs[t] * (start_factor + (1.0 - start_factor) * (t + 1) / warmup_steps)
    return out


def build_lr_schedule(name, base_lr, steps_per_epoch, epochs, milestones=(), gamma=0.1, eta_min=0.0,
                      end_lr=0.0, power=1.0, warmup_epochs=0, warmup_steps=0, warmup_start_factor=0.0):
    """Per-step lr list for `name` in LR_SCHEDULERS with an optional linear warm-up.

    The warm-up lasts `round(warmup_epochs * steps_per_epoch) + warmup_steps` steps (the two add up: CenterFace
    counts its warm-up in epochs, the old CenterNet zoo in steps).
    """
    if name == "multistep":
        lrs = multistep_lr(base_lr, steps_per_epoch, epochs, milestones, gamma)
    elif name == "poly":
        lrs = poly_lr(base_lr, steps_per_epoch, epochs, end_lr, power)
    elif name == "cosine":
        lrs = cosine_lr(base_lr, steps_per_epoch, epochs, eta_min)
    elif name == "constant":
        lrs = [float(base_lr)] * _total_steps(steps_per_epoch, epochs)
    else:
        raise ValueError(f"lr schedule: lr_scheduler must be one of {', '.join(LR_SCHEDULERS)}, got {name!r}")
    if warmup_epochs < 0:
        raise ValueError(f"lr schedule: warmup_epochs must be >= 0, got {warmup_epochs!r}")
    warmup_steps = 0 if warmup_steps is None else warmup_steps
    if not isinstance(warmup_steps, int) or isinstance(warmup_steps, bool) or warmup_steps < 0:
        raise ValueError(f"lr schedule: warmup_steps must be an int >= 0, got {warmup_steps!r}")
    total_warmup = int(round(warmup_epochs * steps_per_epoch)) + warmup_steps
    if total_warmup > len(lrs):
        raise ValueError(f"lr schedule: the warm-up ({total_warmup} steps = warmup_epochs {warmup_epochs} x "
                         f"{steps_per_epoch} steps/epoch + warmup_steps {warmup_steps}) is longer than the run "
                         f"({len(lrs)} steps)")
    return linear_warmup(lrs, total_warmup, warmup_start_factor)
