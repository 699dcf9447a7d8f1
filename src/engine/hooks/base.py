"""What a training hook is: the epoch loop (`src.engine.loop.EpochLoop`) calls every hook, in list order, at
fixed points of the run; a hook reads the loop's state (`self.trainer`: global_step, history, rank, logger,
network, optimizer, ...) and does one job there (log lines, loss history files, checkpoints), as detectron2's
and mindyolo's hooks/callbacks do. Each method is a no-op here; a hook overrides the ones it needs."""


class HookBase:
    """Base class of the training hooks; `trainer` is set when the loop registers the hook."""

    trainer = None

    def needs_outputs(self, global_step, step_in_epoch, epoch):
        """Whether the hook acts after `global_step` (`step_in_epoch` steps of 0-based `epoch` done): the loop
        then reads the step outputs there even when a data sink queues steps (`sink_steps`)."""
        return False

    def resume(self):
        """Restore the loop's state (weights, optimizer, global_step, ...) from this hook's newest record and
        return that record's 1-based epoch; None when the hook restores nothing."""
        return None

    def after_resume(self):
        """The loop was restored (by some hook's `resume`) to `trainer.global_step`."""

    def before_train(self, summary):
        """Training starts; `summary` is the dict `train()` will return."""

    def before_epoch(self, epoch, skip):
        """0-based `epoch` starts; its first `skip` steps were done before a resume."""

    def after_step(self, epoch, step_in_epoch, loss, overflow, scale, components):
        """Step `step_in_epoch` (1-based in `epoch`) is booked: host values of its loss, overflow flag, loss
        scale and {component: value}; `trainer.global_step` counts it."""

    def after_sync(self, epoch, step_in_epoch):
        """The loop has read the outputs of every step so far (`step_in_epoch` of 0-based `epoch` done)."""

    def after_checkpoint(self, path):
        """A checkpoint of the current state was written to `path`."""

    def after_epoch(self, epoch, stats):
        """0-based `epoch` is done; `stats`: mean_loss, components (means), elapsed (s), steps (run in this
        process), imgs_per_sec (all ranks, the graph-compiling first step left out), lr."""

    def before_abort(self):
        """Training stops with an error (NonFiniteLossError): keep what describes the run so far."""

    def after_train(self, summary):
        """Training is done; the hook may add entries to `summary`."""
