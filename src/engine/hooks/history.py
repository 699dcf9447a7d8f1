"""The loss history files of rank 0: `loss_history.json`/`.csv` (one row per step, rewritten at every
checkpoint and epoch end, truncated to the resumed step on resume) and `loss_curve.png` drawn at the end.

The rows themselves are the loop's `trainer.history` ({global_step, epoch, iter, loss, overflow, loss_scale:
lists, components: {name: list}}; a non-finite loss or component is None); this hook writes and reloads them.
"""
import csv
import io
import json

import numpy as np

from src.engine.hooks.base import HookBase
from src.io_utils import atomic_write_bytes

HISTORY_JSON = "loss_history.json"
HISTORY_CSV = "loss_history.csv"
LOSS_CURVE_PNG = "loss_curve.png"
COLUMNS = ("global_step", "epoch", "iter", "loss", "overflow", "loss_scale")


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


def write_history(history, out_dir):
    """`history` as `out_dir`/loss_history.json and .csv (atomically)."""
    atomic_write_bytes(out_dir / HISTORY_JSON, json.dumps(history).encode("utf-8"))
    names = list(history["components"])
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([*COLUMNS, *names])
    for i in range(len(history["global_step"])):
        writer.writerow([history["global_step"][i], history["epoch"][i], history["iter"][i], history["loss"][i],
                         int(history["overflow"][i]), history["loss_scale"][i],
                         *[history["components"][n][i] for n in names]])
    atomic_write_bytes(out_dir / HISTORY_CSV, text.getvalue().encode("utf-8"))


def read_history(path, last_step):
    """The rows of the history file `path` up to global step `last_step`."""
    with open(path, encoding="utf-8") as handle:
        saved = json.load(handle)
    keep = [i for i, step in enumerate(saved["global_step"]) if step <= last_step]
    history = {key: [saved[key][i] for i in keep] for key in COLUMNS}
    history["components"] = {name: [values[i] for i in keep] for name, values in saved.get("components", {}).items()}
    return history


class HistoryHook(HookBase):
    """Writes `trainer.history` to `trainer.output_dir` (rank 0); see the module docstring."""

    def _write(self):
        if self.trainer.rank == 0:
            write_history(self.trainer.history, self.trainer.output_dir)

    def after_resume(self):
        path = self.trainer.output_dir / HISTORY_JSON
        if self.trainer.rank != 0 or not path.is_file():
            return
        self.trainer.history = read_history(path, self.trainer.global_step)

    def after_checkpoint(self, path):
        self._write()

    def after_epoch(self, epoch, stats):
        self._write()

    def before_abort(self):
        self._write()

    def after_train(self, summary):
        trainer = self.trainer
        if trainer.rank == 0 and trainer.history["global_step"]:
            curve = trainer.output_dir / LOSS_CURVE_PNG
            plot_loss_curve(trainer.history, curve)
            summary["loss_curve"] = str(curve)
            summary["history"] = str(trainer.output_dir / HISTORY_JSON)
