"""A task's network ready for inference: build, load a checkpoint, fold BatchNorm, enable the CPU kernels.

This is the one place that sequence is written; predict.py, test.py, eval.py, export.py and the benchmarks
use it. `InferenceModel` keeps the network and swaps weights checkpoint by checkpoint, so a sweep over many
checkpoints compiles the graph once per input shape, not once per checkpoint.

    model = InferenceModel(task)               # or load_network(task, ckpt) for a Cell (export)
    model.load("0-140_1610.ckpt")
    heads = model(batch_nchw_float32)          # tuple of numpy arrays, the task's heads in order
"""
from __future__ import annotations

import logging
from typing import Optional, Tuple

import numpy as np

LOG = logging.getLogger(__name__)

__all__ = ["InferenceModel", "load_network"]


def load_network(task, ckpt_path, fold: bool = True, logger=None):
    """`task`'s network with every weight from `ckpt_path` (an error if one is missing or the file
    holds another task's model), BatchNorm folded (`fold`), in inference mode."""
    from src.engine.checkpoint import load_weights
    from src.models.fold_bn import fold_batchnorm

    network = task.build_network()
    load_weights(network, ckpt_path, strict=True, extra_prefixes=task.checkpoint_prefixes, model=task.name,
                 logger=logger)
    network.set_train(False)
    if fold:
        fold_batchnorm(network)
    return network


class InferenceModel:
    """A task's BatchNorm-folded network in inference mode whose weights can be swapped by `load`.

    dynamic_shape: declare the input as (N, 3, None, None) so GRAPH mode compiles once for every input size
        (for inputs of many sizes: original-size testing and predict.py). Measured on CPU for CenterFace: the same
        outputs bit for bit as one static graph per size, with or without the kernels.
    cpu_kernels: use the project's compiled CPU kernels (src/models/kernels/; on CPU only, and only when the
        library builds: otherwise one log line and MindSpore's ops). None = the task config's `cpu_kernels`.
        With dynamic_shape they need every kernel to infer its shapes in C++ (`supports_dynamic_shape`); a
        network holding one that cannot keeps MindSpore's ops, said in the log.
    """

    def __init__(self, task, dynamic_shape: bool = False, cpu_kernels: Optional[bool] = None):
        self.task = task
        self.dynamic_shape = bool(dynamic_shape)
        self.cpu_kernels = bool(task.cfg.cpu_kernels if cpu_kernels is None else cpu_kernels)
        self.network = None
        self.kernel_counts = {}

    def _enable_kernels(self, ckpt_path):
        """The kernels in `self.network` (counts in `kernel_counts`), or the network rebuilt without them when its
        kernels cannot take the dynamic shapes asked for."""
        from src.models.kernels import enable_cpu_kernels
        from src.models.kernels.library import supports_dynamic_shape

        self.kernel_counts = enable_cpu_kernels(self.network)
        if not any(self.kernel_counts.values()):
            return
        if self.dynamic_shape and not supports_dynamic_shape(self.network):
            LOG.warning("compiled CPU kernels off for inputs of varying size: a kernel of %s infers its shapes in "
                        "Python only (static shapes); using MindSpore's ops", self.task.name)
            self.network = load_network(self.task, ckpt_path, logger=LOG)
            self.kernel_counts = {}
            return
        LOG.info("compiled CPU kernels: %s", ", ".join(f"{n} {name}" for name, n in self.kernel_counts.items()))

    def load(self, ckpt_path) -> None:
        """Load `ckpt_path`: the first one builds the network, later ones only replace its weights."""
        import mindspore as ms

        folded = load_network(self.task, ckpt_path, logger=LOG)
        if self.network is None:
            self.network = folded
            # Same Parameters and names, so later checkpoints still swap in by name.
            if self.cpu_kernels:
                self._enable_kernels(ckpt_path)
            if self.dynamic_shape:
                self.network.set_inputs(ms.Tensor(shape=[None, 3, None, None], dtype=ms.float32))
            return
        current = {p.name: p for p in self.network.get_parameters()}
        new = {p.name: p for p in folded.get_parameters()}
        if set(current) != set(new):
            raise ValueError(f"checkpoint {ckpt_path}: folded parameters differ from the first checkpoint's "
                             f"({sorted(set(current) ^ set(new))[:3]}); expected the same architecture")
        for name, param in new.items():
            current[name].set_data(param.data)

    def __call__(self, batch: np.ndarray) -> Tuple[np.ndarray, ...]:
        import mindspore as ms

        if self.network is None:
            raise RuntimeError("InferenceModel: call load(ckpt_path) before running images")
        outputs = self.network(ms.Tensor(np.ascontiguousarray(batch, dtype=np.float32)))
        if not isinstance(outputs, (tuple, list)):
            outputs = (outputs,)
        return tuple(o.asnumpy() for o in outputs)
