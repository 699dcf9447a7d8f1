"""Reading what a training run left behind: state digests recomputed from a checkpoint (as src/engine/run.py
documents them, written out again here) and the digests its log lines report (train.py and the launch scripts'
tests)."""
import hashlib
import re

import numpy as np


def digest(named_arrays):
    """The digest documented in src/engine/run.digest_arrays, written out again from its description."""
    sha = hashlib.sha256()
    for name in sorted(named_arrays):
        array = np.ascontiguousarray(named_arrays[name])
        sha.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        sha.update(array.tobytes())
    return sha.hexdigest()


def checkpoint_digests(path):
    """{weights, optimizer, moving_stats} digests of a training checkpoint, grouped by key name."""
    import mindspore as ms

    groups = {"weights": {}, "optimizer": {}, "moving_stats": {}}
    for name, param in ms.load_checkpoint(str(path)).items():
        if name.startswith("train_"):
            continue
        if name.startswith(("moment1.", "moment2.")) or name in ("global_step", "beta1_power", "beta2_power",
                                                                  "learning_rate"):
            group = "optimizer"
        elif name.endswith((".moving_mean", ".moving_variance")):
            group = "moving_stats"
        else:
            group = "weights"
        groups[group][name] = param.asnumpy()
    return {key: digest(values) for key, values in groups.items()}


def logged_state(text, when):
    """The digests of the '<when> state' line(s) of a log, as a list of dicts."""
    pattern = rf"{when} state rank (\d+)/(\d+): weights sha256 (\w+), optimizer sha256 (\w+), " \
              r"moving_stats sha256 (\w+)"
    return [{"rank": int(m[0]), "weights": m[2], "optimizer": m[3], "moving_stats": m[4]}
            for m in re.findall(pattern, text)]


def state_lines(log, when):
    """(rank, digests) of the one '<when> state' line of a worker's log."""
    found = logged_state(log, when)
    assert len(found) == 1, log[-3000:]
    return found[0]["rank"], {key: found[0][key] for key in ("weights", "optimizer", "moving_stats")}
