"""The training log lines of rank 0, in the old model zoos' forms.

Every `log_interval` steps one line, in the form `log_format` picks: "iter" (the old CenterFace zoo's)
`epoch:E, iter:I, avg_loss:X, loss:Y, overflow:B, loss_scale:S` (avg over those steps), or "percent" (the old
CenterNet zoo's) `epoch: E, current epoch percent: P, step: S, outputs are (loss, overflow, loss_scale)` (P =
share of the epoch done, S = global step). Both then log an epoch line with the mean loss and components, time,
imgs/sec and lr. Epochs are 1-based in every line (the old CenterNet zoo printed the 0-based epoch as `0.0`).
"""
import math

import numpy as np

from src.engine.hooks.base import HookBase

LOG_FORMATS = ("iter", "percent")


class StepLogHook(HookBase):
    """Logs the step lines every `log_interval` steps and the epoch line, on rank 0; see the module docstring."""

    def __init__(self, log_interval=100, log_format="iter"):
        if log_format not in LOG_FORMATS:
            raise ValueError(f"Trainer: log_format must be one of {LOG_FORMATS}, got {log_format!r}")
        self.log_interval = log_interval
        self.log_format = log_format
        self._interval = []

    def before_epoch(self, epoch, skip):
        self._interval = []

    def after_step(self, epoch, step_in_epoch, loss, overflow, scale, components):
        trainer = self.trainer
        if math.isfinite(loss):
            self._interval.append(loss)
        if step_in_epoch % self.log_interval or trainer.rank != 0:
            return
        if self.log_format == "percent":
            trainer.logger.info("epoch: %d, current epoch percent: %.3f, step: %d, outputs are (%.6f, %s, %g)",
                                epoch + 1, step_in_epoch / trainer.steps_per_epoch, trainer.global_step, loss,
                                overflow, scale)
        else:
            avg = float(np.mean(self._interval)) if self._interval else float("nan")
            trainer.logger.info("epoch:%d, iter:%d, avg_loss:%.6f, loss:%.6f, overflow:%s, loss_scale:%g",
                                epoch + 1, step_in_epoch, avg, loss, overflow, scale)
        self._interval = []

    def after_epoch(self, epoch, stats):
        if self.trainer.rank != 0:
            return
        parts = "".join(f", {name}:{np.mean(values):.6f}" for name, values in stats["components"].items())
        self.trainer.logger.info("epoch:%d, avg_loss:%.6f%s, time:%.2fs, per_step:%.1fms, imgs/sec:%.2f, lr:%.6g",
                                 epoch + 1, stats["mean_loss"], parts, stats["elapsed"],
                                 1000.0 * stats["elapsed"] / stats["steps"], stats["imgs_per_sec"], stats["lr"])
