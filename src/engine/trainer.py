"""Model-agnostic epoch loop: train step, zoo-style logging, checkpoints, exact resume, loss history, data sink.

    trainer = Trainer(network_with_loss, optimizer, dataset, steps_per_epoch, epochs, ckpt_dir,
                      loss_scaler=build_loss_scaler("static", 1024), keep_checkpoint_max=10)
    summary = trainer.train(resume=True)

* `dataset` is a batched `mindspore.dataset` (a fresh one-epoch tuple iterator is created per epoch)
  or any re-iterable of tuples `(images, *targets)` of numpy arrays or Tensors. Each epoch must
  yield at least `steps_per_epoch` batches; extra batches are not used.
* Before each epoch the dataset is told the epoch: `on_epoch_begin(epoch)` if given, else
  `dataset.set_epoch(epoch)` if it has one (epochs are 0-based here, 1-based in logs and names).
  A dataset whose content depends only on (seed, epoch) makes a resumed run identical to a straight one.
* Every `log_interval` steps rank 0 logs one line in the form `log_format` picks: "iter" (the old CenterFace
  zoo's) `epoch:E, iter:I, avg_loss:X, loss:Y, overflow:B, loss_scale:S` (avg over those steps), or "percent"
  (the old CenterNet zoo's) `epoch: E, current epoch percent: P, step: S, outputs are (loss, overflow,
  loss_scale)` (P = share of the epoch done, S = global step). Both then log an epoch line with the mean loss
  and components, time, imgs/sec (all ranks; the run's first, graph-compiling step is left out and logged on
  its own) and lr. Epochs are 1-based in every line (the old CenterNet zoo printed the 0-based epoch as
  `0.0`). A tqdm bar is shown only when stdout is a TTY.
* Checkpoints (rank 0, engine.checkpoint) are named as MindSpore's ModelCheckpoint names them,
  `0-{epoch}_{step in that epoch}.ckpt`: every `ckpt_interval` epochs at the epoch's end, and every
  `save_checkpoint_steps` global steps (0 = off) wherever that falls, e.g. `0-3_500.ckpt`; the newest
  `keep_checkpoint_max` are kept (0 = all). `train(resume=True)` restores the newest one: weights, global step,
  optimizer state (incl. lr position) and loss scale. From a checkpoint written inside an epoch it continues
  with the rest of that epoch: the steps already done are skipped without reading their data when
  `rest_of_epoch` is given (callable(epoch, steps_done) -> the remaining batches), else their batches are read
  and dropped. With data whose content depends only on (seed, epoch, index) the result equals a straight run
  bit for bit.
* Rank 0 keeps `loss_history.json`/`.csv` (one row per step, rewritten at every checkpoint and epoch end,
  truncated to the resumed step on resume) and draws `loss_curve.png` at the end.
* Data sink (`data_sink`, e.g. `mindspore.data_sink` on Ascend/GPU): batches come from the device queue instead
  of host iterators, and the host reads the step outputs only every `sink_steps` steps (and at checkpoints and
  epoch ends), so steps are queued back to back. The factory is called once, `data_sink(step, dataset)`, and
  must return a callable running one train step on the next batch. A resumed partial epoch runs without sink.
* `max_skipped_steps` consecutive steps without an update (non-finite loss or overflowing gradients)
  stop training with `NonFiniteLossError`.
"""
import csv
import io
import itertools
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

import mindspore as ms
from mindspore import Tensor

from src.engine.checkpoint import load_latest_for_resume, save_checkpoint
from src.engine.logger import get_logger
from src.engine.train_step import TrainStep, build_loss_scaler
from src.io_utils import atomic_write_bytes

__all__ = ["Trainer", "NonFiniteLossError", "plot_loss_curve", "LOG_FORMATS"]

LOG_FORMATS = ("iter", "percent")
HISTORY_JSON = "loss_history.json"
HISTORY_CSV = "loss_history.csv"
LOSS_CURVE_PNG = "loss_curve.png"


class NonFiniteLossError(RuntimeError):
    """Training made no update for too many consecutive steps."""


def _to_tensor(value):
    if isinstance(value, Tensor):
        return value
    return Tensor(np.asarray(value))


def _lr_values(optimizer):
    """The optimizer's learning rate as a flat array: 1 value (fixed) or the per-step schedule.

    MindSpore keeps a fixed lr as a Parameter and a list as a Cell (`_IteratorLearningRate`) holding a
    `learning_rate` Parameter; with per-group lrs the first group's is returned.
    """
    lr = optimizer.learning_rate
    if isinstance(lr, (list, tuple)) or type(lr).__name__ in ("CellList", "ParameterTuple"):
        lr = lr[0]
    if not isinstance(lr, ms.Parameter) and hasattr(lr, "learning_rate"):
        lr = lr.learning_rate
    return lr.asnumpy().reshape(-1)


def _progress(global_step, steps_per_epoch):
    """Where a run stands after `global_step` steps: "epoch E done", or "epoch E: S of N steps done" inside one."""
    done, inside = divmod(global_step, steps_per_epoch)
    return f"epoch {done} done" if not inside else f"epoch {done + 1}: {inside} of {steps_per_epoch} steps done"


def _lr_at(optimizer):
    """Learning rate used by the optimizer's most recent update (the first one if none yet)."""
    lr = _lr_values(optimizer)
    if lr.size == 1:
        return float(lr[0])
    step = int(optimizer.global_step.asnumpy().reshape(-1)[0])
    return float(lr[min(max(step - 1, 0), lr.size - 1)])


def plot_loss_curve(history, path, title="training loss"):
    """Per-step loss (finite values) and per-epoch mean vs global step, written atomically as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.asarray(history["global_step"], np.float64)
    loss = np.asarray(history["loss"], np.float64)
    epochs = np.asarray(history["epoch"], np.int64)
    finite = np.isfinite(loss)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    ax.plot(steps[finite], loss[finite], lw=0.6, alpha=0.5, label="step loss")
    if finite.any():
        ends, means = [], []
        for epoch in np.unique(epochs):
            sel = (epochs == epoch) & finite
            if sel.any():
                ends.append(steps[epochs == epoch].max())
                means.append(loss[sel].mean())
        ax.plot(ends, means, "o-", lw=1.5, label="epoch mean")
        if loss[finite].min() > 0 and loss[finite].max() / loss[finite].min() > 50:
            ax.set_yscale("log")
    ax.set_xlabel("global step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


class Trainer:
    """Epoch loop around `TrainStep`; see the module docstring.

    Args:
        network_with_loss: Cell `(images, *targets) -> loss` or `(loss, *components)`.
        optimizer: MindSpore optimizer (loss_scale 1) whose lr list covers `epochs * steps_per_epoch`.
        dataset, steps_per_epoch, epochs, ckpt_dir: see the module docstring.
        loss_scaler: `mindspore.amp` loss scaler; default `build_loss_scaler("none")`.
        amp_level, max_grad_norm (0/None = off), jit: passed to `TrainStep`.
        output_dir: logs, loss history and curve (default `ckpt_dir`).
        rank, group_size: this process's rank and the number of data-parallel ranks.
        keep_checkpoint_max: newest checkpoints kept (0 = all). ckpt_interval: epochs between saves.
        log_interval: steps between log lines. logger: a logging.Logger (default `get_logger`).
        on_epoch_begin: callable(epoch) run before each epoch (0-based).
        component_names: names of the loss components for logs/history, e.g. ("hm", "wh", "off", "lm").
        max_skipped_steps: consecutive skipped updates that abort training.
        progress: show a tqdm bar; None = only when stdout is a TTY (rank 0).
        checkpoint_extra: entries stored in every checkpoint as `train_<key>` (e.g. {"model": task name}).
        save_checkpoint_steps: also save every this many global steps (0 = only per epoch).
        log_format: "iter" or "percent": the form of the `log_interval` lines (module docstring).
        rest_of_epoch: callable(epoch, steps_done) -> re-iterable or mindspore dataset of the batches after
            the first `steps_done` of `epoch` (resuming inside an epoch without reading the skipped data).
        data_sink: callable(train_step, dataset) -> callable running one step from the device queue; None =
            batches from host iterators. sink_steps: steps between host reads of the outputs with a data sink.
    """

    def __init__(self, network_with_loss, optimizer, dataset, steps_per_epoch, epochs, ckpt_dir, *,
                 loss_scaler=None, amp_level="O0", max_grad_norm=None, jit=True, output_dir=None, rank=0,
                 group_size=1, keep_checkpoint_max=0, ckpt_interval=1, log_interval=100, logger=None,
                 on_epoch_begin=None, component_names=None, max_skipped_steps=100, progress=None,
                 checkpoint_extra=None, save_checkpoint_steps=0, log_format="iter", rest_of_epoch=None,
                 data_sink=None, sink_steps=1):
        for name, value in (("steps_per_epoch", steps_per_epoch), ("epochs", epochs),
                            ("log_interval", log_interval), ("ckpt_interval", ckpt_interval),
                            ("max_skipped_steps", max_skipped_steps), ("group_size", group_size),
                            ("sink_steps", sink_steps), ("save_checkpoint_steps", save_checkpoint_steps + 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                if name == "save_checkpoint_steps":
                    name, value = name + " (0 = off)", value - 1
                raise ValueError(f"Trainer: {name} must be a positive int, got {value!r}")
        if log_format not in LOG_FORMATS:
            raise ValueError(f"Trainer: log_format must be one of {LOG_FORMATS}, got {log_format!r}")
        self.network = network_with_loss
        self.optimizer = optimizer
        self.dataset = dataset
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.ckpt_dir = Path(ckpt_dir)
        self.output_dir = Path(output_dir) if output_dir is not None else self.ckpt_dir
        self.rank = int(rank)
        self.group_size = group_size
        self.keep_checkpoint_max = keep_checkpoint_max
        self.ckpt_interval = ckpt_interval
        self.log_interval = log_interval
        self.logger = logger if logger is not None else get_logger(self.output_dir, self.rank)
        self.on_epoch_begin = on_epoch_begin
        self.component_names = tuple(component_names) if component_names else None
        self.max_skipped_steps = max_skipped_steps
        self.progress = progress
        self.checkpoint_extra = dict(checkpoint_extra or {})
        self.save_checkpoint_steps = save_checkpoint_steps
        self.log_format = log_format
        self.rest_of_epoch = rest_of_epoch
        self.data_sink = data_sink
        self.sink_steps = sink_steps if data_sink is not None else 1
        self._sink = None
        self.loss_scaler = loss_scaler if loss_scaler is not None else build_loss_scaler("none")
        self.step = TrainStep(network_with_loss, optimizer, self.loss_scaler, amp_level=amp_level,
                              max_grad_norm=max_grad_norm, jit=jit)
        self.global_step = 0
        self._first_step_done = False
        self._saved = []
        self.history = {"global_step": [], "epoch": [], "iter": [], "loss": [], "overflow": [],
                        "loss_scale": [], "components": {}}

    # ----------------------------------------------------------------------------------- helpers
    def _check_lr_length(self, start_epoch, skip=0):
        length = _lr_values(self.optimizer).size
        if length == 1:
            return
        position = int(self.optimizer.global_step.asnumpy().reshape(-1)[0])
        needed = position + (self.epochs - start_epoch) * self.steps_per_epoch - skip
        if needed > length:
            raise ValueError(f"Trainer: the lr schedule has {length} steps but training from epoch {start_epoch} "
                             f"to {self.epochs} at lr position {position} needs {needed}; build the schedule "
                             f"for epochs={self.epochs}, steps_per_epoch={self.steps_per_epoch}")

    def _begin_epoch(self, epoch):
        if self.on_epoch_begin is not None:
            self.on_epoch_begin(epoch)
        elif hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    @staticmethod
    def _iterate(batches):
        if hasattr(batches, "create_tuple_iterator"):
            return batches.create_tuple_iterator(num_epochs=1, output_numpy=False)
        return iter(batches)

    def _epoch_batches(self, epoch, skip=0):
        """Iterator over the batches of `epoch` after the first `skip` (see `rest_of_epoch`)."""
        self._begin_epoch(epoch)
        if skip and self.rest_of_epoch is not None:
            return self._iterate(self.rest_of_epoch(epoch, skip))
        batches = self._iterate(self.dataset)
        dropped = sum(1 for _ in itertools.islice(batches, skip))
        if dropped < skip:
            raise ValueError(f"Trainer: the dataset yielded {dropped} batches in epoch {epoch + 1}, expected "
                             f"steps_per_epoch={self.steps_per_epoch}")
        return batches

    def _step_results(self, epoch, skip):
        """(step outputs, images in the batch) for each remaining step of `epoch`, from host batches or from the
        data sink. Outputs are Tensors, read by the caller when it syncs."""
        if self.data_sink is not None and not skip:
            self._begin_epoch(epoch)  # the sink's iterator runs on by itself; this logs/positions only
            if self._sink is None:
                self._sink = self.data_sink(self.step, self.dataset)
                self._sink_images = int(self.dataset.get_batch_size())
            for _ in range(self.steps_per_epoch):
                yield self._sink(), self._sink_images
            return
        for batch in self._epoch_batches(epoch, skip):
            if not isinstance(batch, (tuple, list)):
                batch = (batch,)
            tensors = [_to_tensor(item) for item in batch]
            yield self.step(*tensors), (int(tensors[0].shape[0]) if tensors[0].ndim else 1)

    def _checkpoint_due(self, global_step, step_in_epoch, epoch):
        """Whether a checkpoint is written after `global_step` (`step_in_epoch` of 0-based `epoch` done)."""
        if self.save_checkpoint_steps and global_step % self.save_checkpoint_steps == 0:
            return True
        return step_in_epoch == self.steps_per_epoch and (
            (epoch + 1) % self.ckpt_interval == 0 or epoch + 1 == self.epochs)

    def _save(self, epoch, step_in_epoch):
        """Rank 0: the checkpoint of the current state, `0-{epoch + 1}_{step_in_epoch}.ckpt`, and the history."""
        if self.rank != 0:
            return
        path = save_checkpoint(self.ckpt_dir, self.network, self.optimizer, epoch=epoch + 1,
                               step_in_epoch=step_in_epoch, global_step=self.global_step,
                               loss_scaler=self.loss_scaler, keep_last=self.keep_checkpoint_max, rank=0,
                               extra=self.checkpoint_extra)
        self._saved.append(path)
        self.logger.info("saved checkpoint %s", path)
        self._write_history()

    def _use_progress(self):
        if self.rank != 0:
            return False
        return sys.stdout.isatty() if self.progress is None else bool(self.progress)

    def _resume(self):
        # The newest checkpoint that reads whole; a truncated newer one is skipped with a warning.
        state = load_latest_for_resume(self.ckpt_dir, self.network, self.optimizer, self.loss_scaler,
                                       logger=self.logger)
        if state is None:
            self.logger.info("resume: no checkpoint in %s, starting from scratch", self.ckpt_dir)
            return 0
        path = state["path"]
        self.global_step = int(state["global_step"])
        self.logger.info("resume: %s -> %s, global step %d, optimizer step %d, loss scale %s", path,
                         _progress(self.global_step, self.steps_per_epoch), self.global_step,
                         int(self.optimizer.global_step.asnumpy().reshape(-1)[0]), state["loss_scale"])
        self._load_history()
        return int(state["epoch"])

    def _load_history(self):
        path = self.output_dir / HISTORY_JSON
        if self.rank != 0 or not path.is_file():
            return
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
        keep = [i for i, step in enumerate(saved["global_step"]) if step <= self.global_step]
        for key in ("global_step", "epoch", "iter", "loss", "overflow", "loss_scale"):
            self.history[key] = [saved[key][i] for i in keep]
        self.history["components"] = {name: [values[i] for i in keep]
                                      for name, values in saved.get("components", {}).items()}

    def _history_of_epoch(self, epoch):
        """(finite losses, {component: finite values}) of the history's steps of 0-based `epoch`."""
        h = self.history
        rows = [i for i, e in enumerate(h["epoch"]) if e == epoch + 1]
        losses = [h["loss"][i] for i in rows if h["loss"][i] is not None]
        components = {name: [values[i] for i in rows if values[i] is not None]
                      for name, values in h["components"].items()}
        return losses, {name: values for name, values in components.items() if values}

    def _record(self, epoch, it, loss, overflow, scale, components):
        h = self.history
        h["global_step"].append(self.global_step)
        h["epoch"].append(epoch + 1)
        h["iter"].append(it + 1)
        h["loss"].append(loss if math.isfinite(loss) else None)
        h["overflow"].append(bool(overflow))
        h["loss_scale"].append(scale)
        for name, value in components.items():
            h["components"].setdefault(name, []).append(value if math.isfinite(value) else None)

    def _write_history(self):
        if self.rank != 0:
            return
        h = self.history
        atomic_write_bytes(self.output_dir / HISTORY_JSON, json.dumps(h).encode("utf-8"))
        names = list(h["components"])
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["global_step", "epoch", "iter", "loss", "overflow", "loss_scale", *names])
        for i in range(len(h["global_step"])):
            writer.writerow([h["global_step"][i], h["epoch"][i], h["iter"][i], h["loss"][i], int(h["overflow"][i]),
                             h["loss_scale"][i], *[h["components"][n][i] for n in names]])
        atomic_write_bytes(self.output_dir / HISTORY_CSV, text.getvalue().encode("utf-8"))

    def _components(self, values):
        names = self.component_names or tuple(f"c{i}" for i in range(len(values)))
        if len(names) != len(values):
            raise ValueError(f"Trainer: component_names has {len(names)} names but the loss returned "
                             f"{len(values)} components")
        return {name: float(v.asnumpy()) for name, v in zip(names, values)}

    # ----------------------------------------------------------------------------------- main loop
    def train(self, start_epoch=0, resume=False):
        """Train epochs `start_epoch`..`epochs-1` (0-based; `resume=True` takes the start from the newest
        checkpoint in `ckpt_dir`). Returns a summary dict (epochs run, final/last losses, time, paths)."""
        skip = 0
        if resume:
            resumed_epoch = self._resume()
            # The trainer's step count places the run: a checkpoint written inside an epoch is named after
            # that (1-based) epoch, one written at its end after the epoch it completed.
            start_epoch, skip = divmod(self.global_step, self.steps_per_epoch)
            if resumed_epoch != start_epoch + (1 if skip else 0):
                raise ValueError(f"Trainer: the resumed checkpoint was written at global step {self.global_step} in "
                                 f"epoch {resumed_epoch}, which does not fit steps_per_epoch={self.steps_per_epoch}: "
                                 "resume with the batch size and device count of the run that wrote it")
            if skip:
                self.logger.info("resume: inside epoch %d, its first %d of %d steps are done and skipped",
                                 start_epoch + 1, skip, self.steps_per_epoch)
        elif start_epoch:
            # Weights loaded by the caller: put the lr schedule where a straight run would be.
            self.optimizer.global_step.set_data(Tensor(np.array([start_epoch * self.steps_per_epoch], np.int32)))
            self.global_step = start_epoch * self.steps_per_epoch
        if not 0 <= start_epoch <= self.epochs:
            raise ValueError(f"Trainer: start_epoch {start_epoch} outside [0, epochs={self.epochs}]")
        self._check_lr_length(start_epoch, skip)
        self.network.set_train(True)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        summary = {"start_epoch": start_epoch, "epochs": self.epochs, "checkpoints": self._saved, "epoch_loss": []}
        if skip:
            summary["skipped_steps"] = skip
        t_start = time.time()
        for epoch in range(start_epoch, self.epochs):
            epoch_loss = self._train_epoch(epoch, skip if epoch == start_epoch else 0)
            summary["epoch_loss"].append(epoch_loss)
            self._write_history()
        summary["train_time_s"] = time.time() - t_start
        summary["global_step"] = self.global_step
        if self.rank == 0 and self.history["global_step"]:
            curve = self.output_dir / LOSS_CURVE_PNG
            plot_loss_curve(self.history, curve)
            summary["loss_curve"] = str(curve)
            summary["history"] = str(self.output_dir / HISTORY_JSON)
        self.logger.info("training done: epochs %d..%d, %d steps in total, %.1f s, last epoch mean loss %s",
                         start_epoch + 1, self.epochs, self.global_step, summary["train_time_s"],
                         summary["epoch_loss"][-1] if summary["epoch_loss"] else None)
        return summary

    def _train_epoch(self, epoch, skip=0):
        from tqdm import tqdm

        bar = tqdm(total=self.steps_per_epoch, initial=skip, desc=f"epoch {epoch + 1}/{self.epochs}", leave=False,
                   disable=not self._use_progress(), file=sys.stdout)
        self._interval, self._epoch_losses, self._epoch_components = [], [], {}
        if skip:  # the epoch's mean covers the steps done before the resume too (from the loss history)
            self._epoch_losses, self._epoch_components = self._history_of_epoch(epoch)
        self._skipped = 0
        images, compile_time, compile_images = 0, 0.0, 0
        done = skip
        pending = []
        t_epoch = time.time()
        for outputs, batch_images in self._step_results(epoch, skip):
            pending.append(outputs)
            images += batch_images
            position, step = done + len(pending), self.global_step + len(pending)
            sync = len(pending) >= self.sink_steps or self._checkpoint_due(step, position, epoch)
            if not sync and position < self.steps_per_epoch:
                continue
            if not self._first_step_done:
                # The first step (or sink chunk) compiles the graph: keep it out of the throughput figure.
                pending[-1][0].asnumpy()  # waits for the chunk's last step
                self._first_step_done = True
                compile_time, compile_images = time.time() - t_epoch, batch_images * len(pending)
                self.logger.info("first train step: %.1f s (includes graph compilation)", compile_time)
            for loss, overflow, scale, components in pending:
                self._after_step(epoch, done, loss, overflow, scale, components, bar)
                done += 1
            pending = []
            if done < self.steps_per_epoch and self._checkpoint_due(self.global_step, done, epoch):
                self._save(epoch, done)
            if done == self.steps_per_epoch:
                break
        bar.close()
        if done < self.steps_per_epoch:
            raise ValueError(f"Trainer: the dataset yielded {done} batches in epoch {epoch + 1}, expected "
                             f"steps_per_epoch={self.steps_per_epoch} (a one-shot generator cannot be re-iterated; "
                             "pass a list, a re-iterable object or a mindspore dataset)")
        if self._checkpoint_due(self.global_step, done, epoch):
            self._save(epoch, done)
        elapsed = time.time() - t_epoch
        steady_images, steady_time = images - compile_images, elapsed - compile_time
        if steady_images <= 0 or steady_time <= 0:
            steady_images, steady_time = images, elapsed
        losses = self._epoch_losses
        mean_loss = float(np.mean(losses)) if losses else float("nan")
        parts = "".join(f", {name}:{np.mean(values):.6f}" for name, values in self._epoch_components.items())
        if self.rank == 0:
            self.logger.info("epoch:%d, avg_loss:%.6f%s, time:%.2fs, per_step:%.1fms, imgs/sec:%.2f, lr:%.6g",
                             epoch + 1, mean_loss, parts, elapsed, 1000.0 * elapsed / (done - skip),
                             steady_images * self.group_size / steady_time, _lr_at(self.optimizer))
        return mean_loss

    def _after_step(self, epoch, done, loss, overflow, scale, components, bar):
        """Book-keeping of the step `done` (0-based in `epoch`) from its output Tensors: history, the
        non-finite stop, the log line."""
        loss, overflow, scale = float(loss.asnumpy()), bool(overflow.asnumpy()), float(scale.asnumpy())
        components = self._components(components)
        self.global_step += 1
        self._record(epoch, done, loss, overflow, scale, components)
        self._skipped = self._skipped + 1 if (overflow or not math.isfinite(loss)) else 0
        if self._skipped >= self.max_skipped_steps:
            bar.close()
            self._write_history()
            reason = "the loss is non-finite" if not math.isfinite(loss) else "the gradients overflow"
            raise NonFiniteLossError(
                f"Trainer: no update for {self._skipped} consecutive steps (epoch {epoch + 1}, iter {done + 1}, "
                f"global step {self.global_step}): {reason}, loss {loss}, loss_scale {scale}; "
                "lower the lr, check the data/targets, or use loss_scale_mode dynamic")
        if math.isfinite(loss):
            self._interval.append(loss)
            self._epoch_losses.append(loss)
            for name, value in components.items():
                self._epoch_components.setdefault(name, []).append(value)
        bar.update(1)
        done += 1
        if done % self.log_interval == 0 and self.rank == 0:
            if self.log_format == "percent":
                self.logger.info("epoch: %d, current epoch percent: %.3f, step: %d, outputs are (%.6f, %s, %g)",
                                 epoch + 1, done / self.steps_per_epoch, self.global_step, loss, overflow, scale)
            else:
                avg = float(np.mean(self._interval)) if self._interval else float("nan")
                self.logger.info("epoch:%d, iter:%d, avg_loss:%.6f, loss:%.6f, overflow:%s, loss_scale:%g",
                                 epoch + 1, done, avg, loss, overflow, scale)
            self._interval = []
