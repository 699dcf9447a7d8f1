"""Checkpoints of a training run (rank 0): when to save, what goes in, how many are kept, and resume.

Names are MindSpore ModelCheckpoint's, `0-{epoch}_{step in that epoch}.ckpt`: every `ckpt_interval` epochs at the
epoch's end (and at the last epoch's), and every `save_checkpoint_steps` global steps (0 = off) wherever that
falls; the newest `keep_checkpoint_max` are kept (0 = all); files are written atomically (engine.checkpoint).
`extra` entries are stored as `train_<key>`, and a resumed checkpoint that recorded another value for one of them
is refused. With `ema` (a `src.engine.ema.WeightAverage`) a checkpoint holds the averages as the network's
weights and the training weights for resume.
"""
from pathlib import Path

from src.engine.checkpoint import check_recorded, load_latest_for_resume, save_checkpoint
from src.engine.ema import resume_average
from src.engine.hooks.base import HookBase


def describe_position(global_step, steps_per_epoch):
    """Where a run stands after `global_step` steps: "epoch E done", or "epoch E: S of N steps done" inside one."""
    done, inside = divmod(global_step, steps_per_epoch)
    return f"epoch {done} done" if not inside else f"epoch {done + 1}: {inside} of {steps_per_epoch} steps done"


class CheckpointHook(HookBase):
    """Saves checkpoints into `ckpt_dir` and restores the newest one on resume; see the module docstring."""

    def __init__(self, ckpt_dir, *, ckpt_interval=1, save_checkpoint_steps=0, keep_checkpoint_max=0, extra=None,
                 ema=None):
        self.ckpt_dir = Path(ckpt_dir)
        self.ckpt_interval = ckpt_interval
        self.save_checkpoint_steps = save_checkpoint_steps
        self.keep_checkpoint_max = keep_checkpoint_max
        self.extra = dict(extra or {})
        self.ema = ema
        self.saved = []

    def due(self, global_step, step_in_epoch, epoch):
        """Whether a checkpoint is written after `global_step` (`step_in_epoch` of 0-based `epoch` done)."""
        if self.save_checkpoint_steps and global_step % self.save_checkpoint_steps == 0:
            return True
        return step_in_epoch == self.trainer.steps_per_epoch and (
            (epoch + 1) % self.ckpt_interval == 0 or epoch + 1 == self.trainer.epochs)

    needs_outputs = due

    def before_train(self, summary):
        summary["checkpoints"] = self.saved

    def after_sync(self, epoch, step_in_epoch):
        if self.due(self.trainer.global_step, step_in_epoch, epoch):
            self.save(epoch, step_in_epoch)

    def save(self, epoch, step_in_epoch):
        """Rank 0: the checkpoint of the current state, `0-{epoch + 1}_{step_in_epoch}.ckpt`; then every hook's
        `after_checkpoint`."""
        trainer = self.trainer
        if trainer.rank != 0:
            return
        path = save_checkpoint(self.ckpt_dir, trainer.network, trainer.optimizer, epoch=epoch + 1,
                               step_in_epoch=step_in_epoch, global_step=trainer.global_step,
                               loss_scaler=trainer.loss_scaler, keep_last=self.keep_checkpoint_max, rank=0,
                               extra={**self.extra, **(self.ema.checkpoint_entries() if self.ema else {})},
                               weights=self.ema.averages() if self.ema else None)
        self.saved.append(path)
        trainer.logger.info("saved checkpoint %s", path)
        for hook in trainer.hooks:
            hook.after_checkpoint(path)

    def resume(self):
        # The newest checkpoint that reads whole; a truncated newer one is skipped with a warning.
        trainer = self.trainer
        state = load_latest_for_resume(self.ckpt_dir, trainer.network, trainer.optimizer, trainer.loss_scaler,
                                       logger=trainer.logger)
        if state is None:
            trainer.logger.info("resume: no checkpoint in %s, starting from scratch", self.ckpt_dir)
            return None
        check_recorded(state, self.extra)
        resume_average(self.ema, state)
        trainer.global_step = int(state["global_step"])
        trainer.logger.info("resume: %s -> %s, global step %d, optimizer step %d, loss scale %s", state["path"],
                            describe_position(trainer.global_step, trainer.steps_per_epoch), trainer.global_step,
                            int(trainer.optimizer.global_step.asnumpy().reshape(-1)[0]), state["loss_scale"])
        return int(state["epoch"])
