"""The training run's Trainer: the epoch loop (`src.engine.loop`) with the standard hooks (`src.engine.hooks`),
as detectron2's DefaultTrainer builds its hooks over SimpleTrainer.

    trainer = Trainer(network_with_loss, optimizer, dataset, steps_per_epoch, epochs, ckpt_dir,
                      loss_scaler=build_loss_scaler("static", 1024), keep_checkpoint_max=10)
    summary = trainer.train(resume=True)

The hooks, in calling order: checkpoints (`CheckpointHook`: `ckpt_interval`, `save_checkpoint_steps`,
`keep_checkpoint_max`, `checkpoint_extra`, `ema`; resume), log lines (`StepLogHook`: `log_interval`,
`log_format` "iter" or "percent") and the loss history files and curve (`HistoryHook`, in `output_dir`). Their
modules say what each writes; `src.engine.loop` says what the loop does (data, resume position, data sink,
the non-finite stop).
"""
from pathlib import Path

from src.engine.hooks import (HISTORY_CSV, HISTORY_JSON, LOG_FORMATS, LOSS_CURVE_PNG, CheckpointHook, HistoryHook,
                              StepLogHook, plot_loss_curve)
from src.engine.loop import EpochLoop, NonFiniteLossError

__all__ = ["Trainer", "NonFiniteLossError", "plot_loss_curve", "LOG_FORMATS", "HISTORY_JSON", "HISTORY_CSV",
           "LOSS_CURVE_PNG"]


class Trainer(EpochLoop):
    """The epoch loop with checkpoints, log lines and loss history; see the module docstring.

    Args:
        network_with_loss, optimizer, dataset, steps_per_epoch, epochs: see `EpochLoop`.
        ckpt_dir: where checkpoints are written and resumed from.
        output_dir: logs, loss history and curve (default `ckpt_dir`).
        keep_checkpoint_max: newest checkpoints kept (0 = all). ckpt_interval: epochs between saves.
        save_checkpoint_steps: also save every this many global steps (0 = only per epoch).
        checkpoint_extra: entries stored in every checkpoint as `train_<key>` (e.g. {"model": task name}); a resumed
            checkpoint that recorded another value for one of them is refused.
        ema: a `src.engine.ema.WeightAverage` of the network, updated after every update; checkpoints hold its
            averages as the network's weights (and the training weights for resume), None = no average.
        log_interval: steps between log lines. log_format: "iter" or "percent" (`src.engine.hooks.step_log`).
        Every other keyword goes to `EpochLoop`.
    """

    def __init__(self, network_with_loss, optimizer, dataset, steps_per_epoch, epochs, ckpt_dir, *,
                 output_dir=None, keep_checkpoint_max=0, ckpt_interval=1, save_checkpoint_steps=0,
                 checkpoint_extra=None, ema=None, log_interval=100, log_format="iter", max_skipped_steps=100,
                 group_size=1, sink_steps=1, **loop_options):
        for name, value in (("steps_per_epoch", steps_per_epoch), ("epochs", epochs),
                            ("log_interval", log_interval), ("ckpt_interval", ckpt_interval),
                            ("max_skipped_steps", max_skipped_steps), ("group_size", group_size),
                            ("sink_steps", sink_steps), ("save_checkpoint_steps", save_checkpoint_steps + 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                if name == "save_checkpoint_steps":
                    name, value = name + " (0 = off)", value - 1
                raise ValueError(f"Trainer: {name} must be a positive int, got {value!r}")
        hooks = [CheckpointHook(ckpt_dir, ckpt_interval=ckpt_interval, save_checkpoint_steps=save_checkpoint_steps,
                                keep_checkpoint_max=keep_checkpoint_max, extra=checkpoint_extra, ema=ema),
                 StepLogHook(log_interval, log_format), HistoryHook()]
        self.ckpt_dir = Path(ckpt_dir)
        self.ema = ema
        super().__init__(network_with_loss, optimizer, dataset, steps_per_epoch, epochs,
                         output_dir if output_dir is not None else ckpt_dir, hooks=hooks,
                         max_skipped_steps=max_skipped_steps, group_size=group_size, sink_steps=sink_steps,
                         after_update=ema, **loop_options)
