"""Training checkpoints: zoo-compatible names, atomic writes, keep-last-N, resume, tolerant weight loading.

* File name `{rank}-{epoch}_{step}.ckpt` (rank 0 gives the zoo's `0-{epoch}_{step}.ckpt`; `step` is the
  number of steps in the epoch, as MindSpore's ModelCheckpoint names them).
* A checkpoint holds every parameter of the network (incl. BatchNorm moving statistics) and of the
  optimizer (Adam moments, beta powers, its step counter `global_step` = lr position), plus the
  training state as `append_dict` entries prefixed `train_` (MindSpore's optimizer already owns the
  name `global_step`): `train_epoch` (completed epochs), `train_step_in_epoch`, `train_global_step`
  (trainer iterations, overflowed steps included), `train_loss_scale`, `train_loss_scale_counter`
  (dynamic scaler), a `train_format` tag and `train_model` (the task name, when the caller gives it).
* A checkpoint may present other weights than the ones being trained (`save_checkpoint(weights=...)`, e.g. the
  average of src/engine/ema.py): those are stored under the network's parameter names, so every script that
  loads weights uses them, and the training weights as `train_weights.<name>`, which `load_for_resume` puts
  back into the network (returning the presented ones for the caller to restore).
* Writes go to a hidden temporary name in the same folder, are flushed to disk and moved into place with
  `os.replace` (`src.io_utils.save_checkpoint_atomic`), so a reader never sees a half-written file under the
  final name; temporaries left by an interrupted write (SIGKILL, full disk) are removed by the next save and
  never listed as checkpoints. A write that fails is an OSError naming the checkpoint.
* `load_latest_for_resume` restores the newest checkpoint that can be read whole: a newest file that is
  truncated or unreadable (copied in part, a crash of a file system that lost the data) is skipped for the
  previous one, with a warning naming it.
* `load_weights` maps checkpoint keys onto a network, stripping at most one known wrapper prefix (generic
  ones here, model-specific ones such as the old zoo's `centerface_network.` from the caller; the zoo did this
  with `key[19:]` in three scripts), ignores optimizer/training-state entries, refuses a checkpoint whose
  `model` / `train_model` tag names another model, and reports missing, unexpected and shape-mismatched keys.
"""
import os
import re
from collections import namedtuple
from pathlib import Path

import numpy as np

from src.io_utils import files_matching, save_checkpoint_atomic

# MindSpore is imported where it is needed: train.py lists checkpoints (src/engine/run.check_inputs) before
# MindSpore loads, so that a refused output folder costs a fraction of a second.

__all__ = ["CHECKPOINT_FORMAT", "KNOWN_PREFIXES", "TRAINING_WEIGHTS", "checkpoint_name", "list_checkpoints",
           "latest_checkpoint", "save_checkpoint", "load_for_resume", "load_latest_for_resume", "check_recorded",
           "load_weights", "LoadReport", "CheckpointError", "check_reads_against_available_memory"]

CHECKPOINT_FORMAT = "objects-as-points-engine-1"
# The same format under the name it had when CenterFace was the only model: still resumable.
_EARLIER_FORMATS = ("centerface-engine-1",)
# Generic wrapper-cell prefixes seen in checkpoints (`network.` / `net.` / `model.` wrappers). Only one is
# stripped, only when the stripped key exists; callers add their model's own (`extra_prefixes`).
KNOWN_PREFIXES = ("network.", "net.", "model.", "backbone_with_loss.")
# Entries naming the model a checkpoint holds (converters write `model`, training checkpoints `train_model`).
MODEL_TAGS = ("model", "train_model")
# Optimizer and training-state entries: legitimate in a training checkpoint, never network weights.
_STATE_PREFIXES = ("moment1.", "moment2.", "moments.", "accum.", "stat.", "vhat.")
_STATE_PREFIXES += ("train_",)
_STATE_KEYS = MODEL_TAGS + ("source", "global_step", "beta1_power", "beta2_power", "learning_rate", "scale_sense",
               "current_iterator_step", "last_overflow_iterator_step", "epoch_num", "step_num")
_NAME_RE = re.compile(r"^(\d+)-(\d+)_(\d+)\.ckpt$")

LoadReport = namedtuple("LoadReport", ["loaded", "missing", "unexpected", "ignored"])


class CheckpointError(ValueError):
    """A checkpoint cannot be used as asked (missing keys, wrong shapes, not a training checkpoint).

    A ValueError, so that the root scripts report it as one line (src/model_utils/cli.py)."""


def checkpoint_name(epoch, step, rank=0):
    """`{rank}-{epoch}_{step}.ckpt`, e.g. `0-140_1610.ckpt`."""
    return f"{int(rank)}-{int(epoch)}_{int(step)}.ckpt"


def list_checkpoints(ckpt_dir, rank=0):
    """This rank's checkpoints in `ckpt_dir` (every rank's with `rank=None`) as sorted [(epoch, step, path)]
    (oldest first). Temporaries of interrupted writes never match the name."""
    return sorted((int(match.group(2)), int(match.group(3)), str(entry))
                  for entry, match in files_matching(ckpt_dir, _NAME_RE)
                  if rank is None or int(match.group(1)) == int(rank))


def latest_checkpoint(ckpt_dir, rank=0):
    """Path of the newest (highest epoch, then step) checkpoint of `rank` in `ckpt_dir`, or None."""
    found = list_checkpoints(ckpt_dir, rank)
    return found[-1][2] if found else None


def _state_parameters(network, optimizer):
    """Unique-by-name list of the network's and the optimizer's parameters, network first."""
    items, seen = [], set()
    cells = [network] if optimizer is None else [network, optimizer]
    for cell in cells:
        for param in cell.get_parameters():
            if param.name not in seen:
                seen.add(param.name)
                items.append({"name": param.name, "data": param})
    return items


TRAINING_WEIGHTS = "train_weights."  # prefix of the training weights when a checkpoint presents others


def _presenting(items, weights):
    """`items` with the network parameters named in `weights` presenting those values, and their own values added
    as `train_weights.<name>` entries."""
    unknown = sorted(set(weights) - {item["name"] for item in items})
    if unknown:
        raise ValueError(f"save_checkpoint: weights for {len(unknown)} names that are no parameter, e.g. {unknown[:3]}")
    presented = [{"name": item["name"], "data": weights.get(item["name"], item["data"])} for item in items]
    return presented + [{"name": TRAINING_WEIGHTS + item["name"], "data": item["data"]}
                        for item in items if item["name"] in weights]


def save_checkpoint(ckpt_dir, network, optimizer=None, *, epoch, step_in_epoch, global_step, loss_scaler=None,
                    keep_last=0, rank=0, extra=None, weights=None):
    """Write `{rank}-{epoch}_{step_in_epoch}.ckpt` atomically; then keep only the newest `keep_last` (0 = all).

    `extra` (dict of int/float/str/bool) is stored as `train_<key>` entries. `weights` ({network parameter name:
    Tensor}) are stored under those names instead of the parameters' values, which become `train_weights.<name>`
    (module docstring). Returns the path.
    """
    if keep_last < 0:
        raise ValueError(f"save_checkpoint: keep_last must be >= 0 (0 = keep all), got {keep_last!r}")
    folder = Path(ckpt_dir)
    final = folder / checkpoint_name(epoch, step_in_epoch, rank)
    state = {"train_format": CHECKPOINT_FORMAT, "train_epoch": int(epoch),
             "train_step_in_epoch": int(step_in_epoch), "train_global_step": int(global_step)}
    if loss_scaler is not None:
        state["train_loss_scale"] = float(loss_scaler.scale_value.asnumpy())
        counter = getattr(loss_scaler, "counter", None)
        if counter is not None:
            state["train_loss_scale_counter"] = int(counter.asnumpy())
    for key, value in (extra or {}).items():
        key = f"train_{key}"
        if key in state:
            raise ValueError(f"save_checkpoint: extra key {key!r} clashes with the training state")
        state[key] = value
    items = _state_parameters(network, optimizer)
    if weights:
        items = _presenting(items, weights)
    save_checkpoint_atomic(items, final, append_dict=state)
    if keep_last:
        for _, _, old in list_checkpoints(folder, rank)[:-keep_last]:
            os.remove(old)
    return str(final)


def check_reads_against_available_memory():
    """Make MindSpore's "checkpoint larger than memory" check compare with the memory the system can give.

    MindSpore 2.10's `load_checkpoint` refuses a .ckpt larger than `os.sysconf("SC_AVPHYS_PAGES")` pages, which is
    the kernel's MemFree: memory no one uses, not even the page cache. The kernel hands cached pages back on demand,
    so after minutes of file I/O a 24 GB machine may have 0.2 GB free and 20 GB available, and a 230 MB training
    checkpoint is refused with "exceeds current available memory" (seen in this project's CI). The check now uses
    src.engine.memory.available_gb (MemAvailable, lowered to a cgroup v2 limit), which is what "available" means; a
    file larger than that is still refused. Idempotent; a MindSpore without this check is left as it is."""
    from mindspore.train import serialization

    if getattr(serialization, "_get_available_memory", None) is None or \
            getattr(serialization._get_available_memory, "uses_mem_available", False):
        return
    from src.engine import memory

    def available_bytes():
        available = memory.available_gb()
        return None if available is None else int(available * memory.GB)

    available_bytes.uses_mem_available = True
    available_bytes.replaced = serialization._get_available_memory
    serialization._get_available_memory = available_bytes


def _read(ckpt):
    if isinstance(ckpt, dict):
        return ckpt
    import mindspore as ms

    check_reads_against_available_memory()
    path = Path(ckpt)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path}: no such file")
    try:
        return ms.load_checkpoint(str(path))
    except (RuntimeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path}: cannot be read as a MindSpore checkpoint ({err})") from err


def _is_state_key(key):
    return key in _STATE_KEYS or key.startswith(_STATE_PREFIXES)


def _scalar(value):
    return value.asnumpy().item() if hasattr(value, "asnumpy") else value


def checkpoint_model(params):
    """The model name a loaded checkpoint dict is tagged with, or None."""
    for tag in MODEL_TAGS:
        if tag in params:
            return str(_scalar(params[tag]))
    return None


def load_weights(network, ckpt, strip_prefixes=KNOWN_PREFIXES, strict=False, logger=None, extra_prefixes=(),
                 model=None):
    """Load network weights from a checkpoint file (or a loaded dict), tolerating wrapper prefixes.

    A checkpoint key matches a network parameter if equal to its name, or after removing one prefix from
    `strip_prefixes` + `extra_prefixes` (the first that yields an existing name). Optimizer/training-state
    entries are ignored. Raises CheckpointError when the checkpoint is tagged with a model other than `model`,
    on shape mismatches, and on missing/unexpected keys if `strict`.
    Returns LoadReport(loaded, missing, unexpected, ignored) (lists of names) and logs a summary.
    """
    source = ckpt if isinstance(ckpt, dict) else str(ckpt)
    params = _read(ckpt)
    tagged = checkpoint_model(params)
    if model is not None and tagged is not None and tagged != model:
        raise CheckpointError(f"checkpoint {source} holds a {tagged!r} model; this run's task is {model!r} "
                              f"(pick the matching --config_path)")
    strip_prefixes = tuple(extra_prefixes) + tuple(strip_prefixes)
    net_params = {p.name: p for p in network.get_parameters()}
    mapped, unexpected, ignored = {}, [], []
    for key, value in params.items():
        target = key if key in net_params else None
        if target is None:
            for prefix in strip_prefixes:
                if key.startswith(prefix) and key[len(prefix):] in net_params:
                    target = key[len(prefix):]
                    break
        if target is not None and target not in mapped:
            mapped[target] = value
        elif _is_state_key(key) or not hasattr(value, "shape"):
            ignored.append(key)
        else:
            unexpected.append(key)
    bad_shapes = [f"{name}: checkpoint {tuple(value.shape)} vs network {tuple(net_params[name].shape)}"
                  for name, value in mapped.items() if tuple(value.shape) != tuple(net_params[name].shape)]
    if bad_shapes:
        raise CheckpointError(f"checkpoint {source}: {len(bad_shapes)} shape mismatches: " + "; ".join(bad_shapes[:10]))
    missing = [name for name in net_params if name not in mapped]
    if strict and (missing or unexpected):
        raise CheckpointError(f"checkpoint {source}: missing {len(missing)} keys {missing[:10]}, "
                              f"unexpected {len(unexpected)} keys {unexpected[:10]}")
    from mindspore import Tensor

    for name, value in mapped.items():
        net_params[name].set_data(Tensor(value.asnumpy(), dtype=net_params[name].dtype))
    report = LoadReport(sorted(mapped), missing, unexpected, ignored)
    if logger is not None:
        logger.info("loaded %d/%d parameters from %s; missing %d %s; unexpected %d %s; ignored %d state entries",
                    len(report.loaded), len(net_params), source, len(missing), missing[:5], len(unexpected),
                    unexpected[:5], len(ignored))
    return report


def load_for_resume(ckpt_path, network, optimizer, loss_scaler=None):
    """Restore network, optimizer and loss-scaler state from a `save_checkpoint` file.

    Every network and optimizer parameter must be present with its shape, except the optimizer's
    `learning_rate` (the schedule comes from the current configuration; its position is the restored
    optimizer step counter). A network parameter stored also as `train_weights.<name>` (a checkpoint presenting
    other weights, see `save_checkpoint`) is set from that entry. Returns {"epoch", "step_in_epoch", "global_step",
    "loss_scale", "path", "recorded": every `train_<key>` scalar by key, "presented": {name: value} of the weights
    the checkpoint presents instead of the training ones (empty for most checkpoints)}.
    """
    params = _read(ckpt_path)
    if _scalar(params.get("train_format", "")) not in (CHECKPOINT_FORMAT,) + _EARLIER_FORMATS:
        raise CheckpointError(f"checkpoint {ckpt_path}: not a training checkpoint of this engine "
                              f"(no train_format={CHECKPOINT_FORMAT!r} entry); use load_weights for weights only")
    missing, bad_shapes = [], []
    for item in _state_parameters(network, optimizer):
        name, param = item["name"], item["data"]
        if name == "learning_rate" or name.endswith(".learning_rate"):
            continue
        for key in (name, TRAINING_WEIGHTS + name):
            if key not in params:
                missing += [key] if key == name else []
            elif tuple(params[key].shape) != tuple(param.shape):
                bad_shapes.append(f"{key}: checkpoint {tuple(params[key].shape)} vs model {tuple(param.shape)}")
    counters = [f"train_{key}" for key in ("epoch", "step_in_epoch", "global_step")]
    missing += [key for key in counters if key not in params]
    if missing or bad_shapes:
        raise CheckpointError(f"checkpoint {ckpt_path}: cannot resume, missing {len(missing)} keys {missing[:10]}, "
                              f"{len(bad_shapes)} shape mismatches {bad_shapes[:10]} (different model or optimizer?)")
    # Everything is checked before anything is set: a checkpoint that fails leaves the model untouched.
    from mindspore import Tensor

    presented = {}
    for item in _state_parameters(network, optimizer):
        name, param = item["name"], item["data"]
        if name in params and not (name == "learning_rate" or name.endswith(".learning_rate")):
            if TRAINING_WEIGHTS + name in params:
                presented[name] = params[name].asnumpy()
                name = TRAINING_WEIGHTS + name
            param.set_data(Tensor(params[name].asnumpy(), dtype=param.dtype))
    state = {key[len("train_"):]: int(_scalar(params[key])) for key in counters}
    state["path"] = str(ckpt_path)
    state["presented"] = presented
    state["recorded"] = {key[len("train_"):]: _scalar(value) for key, value in params.items()
                         if key.startswith("train_") and tuple(getattr(value, "shape", ())) == ()}
    state["loss_scale"] = None
    if loss_scaler is not None and "train_loss_scale" in params:
        state["loss_scale"] = float(_scalar(params["train_loss_scale"]))
        loss_scaler.scale_value.set_data(Tensor(np.float32(state["loss_scale"])))
        counter = getattr(loss_scaler, "counter", None)
        if counter is not None and "train_loss_scale_counter" in params:
            counter.set_data(Tensor(np.int32(_scalar(params["train_loss_scale_counter"]))))
    return state


def check_recorded(state, expected):
    """Refuse (CheckpointError) a resumed checkpoint (`load_for_resume`'s state) that recorded another value for a
    key of `expected` ({key: value} the run stores as `train_<key>`, e.g. {"freeze_bn": True}): the run would
    silently continue with other settings than the ones it was trained with. Keys it did not record pass."""
    for key, want in expected.items():
        if key not in state["recorded"]:
            continue
        got = state["recorded"][key]
        same = (np.isclose(float(got), want, rtol=1e-6, atol=0) if isinstance(want, float)  # floats stored as float32
                else type(want)(got) == want)
        if not same:
            raise CheckpointError(f"checkpoint {state['path']} was written with {key} {got}; this run has {want} "
                                  f"(resume with the settings of the run that wrote it)")


def load_latest_for_resume(ckpt_dir, network, optimizer, loss_scaler=None, rank=0, logger=None):
    """`load_for_resume` of the newest checkpoint in `ckpt_dir` that can be used, or None when there is none.

    A newer checkpoint that cannot be read whole (truncated: MindSpore cannot parse it, or entries are missing)
    is skipped with a warning naming it and why, and the previous one is tried: training then continues from
    there and rewrites the skipped epochs. Nothing is modified by a checkpoint that fails. When none of them
    can be used, the newest one's error is raised (CheckpointError, one line), naming how many were tried.
    Temporaries of interrupted writes are never candidates (see `list_checkpoints`).
    """
    found = list_checkpoints(ckpt_dir, rank)
    errors = []
    for _, _, path in reversed(found):
        try:
            state = load_for_resume(path, network, optimizer, loss_scaler)
        except CheckpointError as err:
            errors.append(err)
            if logger is not None:
                logger.warning("resume: skipping %s, it cannot be used (%s); trying the previous checkpoint",
                               path, err)
            continue
        if errors and logger is not None:
            logger.warning("resume: fell back to %s: the %d newer checkpoint(s) could not be used (see above)",
                           path, len(errors))
        state["skipped"] = [str(err) for err in errors]
        return state
    if errors:
        raise CheckpointError(f"{errors[0]} (and {len(errors) - 1} older checkpoint(s) in {ckpt_dir} could not "
                              f"be used either)" if len(errors) > 1 else str(errors[0]))
    return None
