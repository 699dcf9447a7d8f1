"""Exponential moving average (EMA) of the weights during training (config key `ema_decay`), saved as the checkpoint.

With decay d > 0, after every update the optimizer makes (a step skipped for overflow updates nothing), every
float parameter p of the network (trainable weights and BatchNorm moving statistics) has its average a moved:

    a <- d a + (1 - d) p,        a = the initial weights before the first update.

The average is what the checkpoints hold under the network's parameter names, so test.py, predict.py, eval.py
and export.py use the averaged weights unchanged; the training weights the optimizer works on are kept beside
them as `train_weights.<name>` (`src/engine/checkpoint.py`), with `train_ema_decay` and `train_ema_updates`,
so that `--resume True` continues both exactly. Averaging the weights of the last ~1/(1 - d) updates removes
most of the step-to-step jitter of the final weights (Polyak averaging; the EMA variant as in TensorFlow's
ExponentialMovingAverage and the YOLO detectors): 1/(1 - d) of a tenth to a third of the run's updates is the
usual choice. The average starts at the initial weights, which matters for a run whose length is not many times
1/(1 - d): a fine-tuning keeps a share d^n of its start after n updates.
"""
import numpy as np

import mindspore as ms
from mindspore import Parameter, ParameterTuple, Tensor, nn, ops

from src.engine.checkpoint import CheckpointError

__all__ = ["WeightAverage", "averaged_parameters", "resume_average"]

_FLOATS = (ms.float16, ms.float32, ms.float64, ms.bfloat16)


def averaged_parameters(network):
    """The parameters an EMA averages: every floating-point parameter of `network` (in its order)."""
    return [param for param in network.get_parameters() if param.dtype in _FLOATS]


class WeightAverage(nn.Cell):
    """EMA of `network`'s float parameters with decay `decay` (0 < decay < 1); see the module docstring.

    Calling the cell (no arguments, inside the train step right after the optimizer's update) moves every
    average once and returns the number of updates so far. `averages()` gives {parameter name: average}.
    """

    def __init__(self, network, decay):
        super().__init__(auto_prefix=False)
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 < decay < 1.0:
            raise ValueError(f"WeightAverage: decay must be a number in (0, 1), got {decay!r}")
        self.decay = float(decay)
        params = averaged_parameters(network)
        if not params:
            raise ValueError(f"WeightAverage: {type(network).__name__} has no float parameters to average")
        self.names = tuple(param.name for param in params)
        self.weights = ParameterTuple(params)
        self.average = ParameterTuple(Parameter(Tensor(param.asnumpy().copy(), param.dtype), name=f"ema.{param.name}",
                                                requires_grad=False) for param in params)
        self.updates = Parameter(Tensor(np.array(0, np.int32)), name="ema.updates", requires_grad=False)
        self.keep = Tensor(np.float32(self.decay))
        self.take = Tensor(np.float32(1.0 - self.decay))

    def construct(self):
        for average, weight in zip(self.average, self.weights):
            ops.assign(average, average * self.keep.astype(average.dtype) + weight * self.take.astype(average.dtype))
        ops.assign_add(self.updates, Tensor(1, ms.int32))
        return self.updates.value()

    def averages(self):
        """{parameter name: its average (Tensor)}."""
        return {name: average.value() for name, average in zip(self.names, self.average)}

    def num_updates(self):
        return int(self.updates.asnumpy())

    def checkpoint_entries(self):
        """Scalars the checkpoint stores (as `train_<key>`) next to the averaged weights."""
        return {"ema_decay": self.decay, "ema_updates": self.num_updates()}

    def restore(self, averages, recorded, source):
        """Set the averages and the update count from a resumed checkpoint `source`: `averages` {name: value} are
        the weights it presents (its network entries), `recorded` its `train_*` scalars (without the prefix).
        Raises CheckpointError when the checkpoint was not written by an EMA of this decay and these parameters."""
        decay = recorded.get("ema_decay")
        if decay is None or not averages:
            raise CheckpointError(f"checkpoint {source} holds no weight average: resume it with --ema_decay 0 (the "
                                  f"setting it was trained with), or start a new run")
        if not np.isclose(float(decay), self.decay, rtol=1e-6, atol=0):  # stored as float32
            raise CheckpointError(f"checkpoint {source} was trained with --ema_decay {float(decay):.6g}; resume with "
                                  f"the same value (this run has {self.decay})")
        missing = [name for name in self.names if name not in averages]
        if missing:
            raise CheckpointError(f"checkpoint {source}: no average for {len(missing)} parameters, e.g. {missing[:3]}")
        for name, average in zip(self.names, self.average):
            average.set_data(Tensor(np.asarray(averages[name]), average.dtype))
        self.updates.set_data(Tensor(np.array(int(recorded.get("ema_updates", 0)), np.int32)))


def resume_average(ema, state):
    """After `load_for_resume` (its `state`): restore `ema`'s averages, or refuse (CheckpointError) a checkpoint
    holding averaged weights when this run has no average (`ema` None), since they would be lost."""
    if ema is not None:
        ema.restore(state["presented"], state["recorded"], state["path"])
    elif state["presented"]:
        decay = state["recorded"].get("ema_decay")
        setting = f" (trained with --ema_decay {float(decay):.6g})" if decay is not None else ""
        raise CheckpointError(f"checkpoint {state['path']} holds averaged weights{setting}; resume with the same "
                              f"--ema_decay (without it the average would be lost)")
