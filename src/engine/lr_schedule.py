"""Per-step learning-rate lists (one float per optimizer step) for MindSpore's dynamic learning rate.

MindSpore optimizers accept a list of learning rates and index it with their own `global_step`
counter, so a schedule here is simply a list of length `epochs * steps_per_epoch`:

* `multistep_lr`: `base_lr * gamma ** (number of milestones m with epoch >= m)`, milestones in epochs
  (the zoo's CenterFace schedule: milestones 90, 120, gamma 0.1).
* `cosine_lr`: per-step cosine annealing from `base_lr` (step 0) towards `eta_min` (reached one step
  after the last step): `eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T)) / 2`.
* `linear_warmup`: multiplies the first `warmup_steps` entries of any schedule by a factor rising
  linearly from `start_factor` to 1: step t < W gets `start_factor + (1 - start_factor) * (t + 1) / W`
  (so step W-1 already runs at the full rate and step 0 is not wasted at lr 0).
* `build_lr_schedule`: the three combined from explicit arguments (what a config file provides).
"""
import math

__all__ = ["multistep_lr", "cosine_lr", "linear_warmup", "build_lr_schedule"]


def _check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"lr schedule: {name} must be a positive int, got {value!r}")


def multistep_lr(base_lr, steps_per_epoch, epochs, milestones, gamma=0.1):
    """Step decay: the lr is multiplied by `gamma` at the start of every epoch listed in `milestones`."""
    _check_positive_int("steps_per_epoch", steps_per_epoch)
    _check_positive_int("epochs", epochs)
    milestones = sorted(milestones)
    if any((not isinstance(m, int)) or isinstance(m, bool) or m <= 0 for m in milestones):
        raise ValueError(f"lr schedule: milestones must be positive epoch numbers (ints), got {milestones!r}")
    lrs = []
    for step in range(steps_per_epoch * epochs):
        epoch = step // steps_per_epoch
        passed = sum(1 for m in milestones if epoch >= m)
        lrs.append(float(base_lr) * float(gamma) ** passed)
    return lrs


def cosine_lr(base_lr, steps_per_epoch, epochs, eta_min=0.0):
    """Per-step cosine annealing from `base_lr` to `eta_min` over `epochs * steps_per_epoch` steps."""
    _check_positive_int("steps_per_epoch", steps_per_epoch)
    _check_positive_int("epochs", epochs)
    total = steps_per_epoch * epochs
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
                      warmup_epochs=0, warmup_steps=None, warmup_start_factor=0.0):
    """Per-step lr list for `name` in {"multistep", "cosine", "constant"} with optional linear warm-up.

    The warm-up length is `warmup_steps` if given, else `round(warmup_epochs * steps_per_epoch)`.
    """
    if name == "multistep":
        lrs = multistep_lr(base_lr, steps_per_epoch, epochs, milestones, gamma)
    elif name == "cosine":
        lrs = cosine_lr(base_lr, steps_per_epoch, epochs, eta_min)
    elif name == "constant":
        _check_positive_int("steps_per_epoch", steps_per_epoch)
        _check_positive_int("epochs", epochs)
        lrs = [float(base_lr)] * (steps_per_epoch * epochs)
    else:
        raise ValueError(f"lr schedule: lr_scheduler must be 'multistep', 'cosine' or 'constant', got {name!r}")
    if warmup_steps is None:
        if warmup_epochs < 0:
            raise ValueError(f"lr schedule: warmup_epochs must be >= 0, got {warmup_epochs!r}")
        warmup_steps = int(round(warmup_epochs * steps_per_epoch))
    return linear_warmup(lrs, warmup_steps, warmup_start_factor)
