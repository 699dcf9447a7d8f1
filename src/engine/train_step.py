"""Functional MindSpore 2.x train step: value_and_grad + loss scaling + overflow-gated update.

`TrainStep(network_with_loss, optimizer, loss_scaler)` is called with one batch `(images, *targets)`
and returns `(loss, overflow, loss_scale, components)`:

* the network-with-loss Cell returns either a scalar loss or a tuple `(total, *components)`; only the
  total is differentiated, the components (e.g. CenterFace's hm/wh/off/lm terms) are passed through
  for logging;
* gradients of `loss * scale` are all-reduced with `nn.DistributedGradReducer` when the parallel
  mode is data/hybrid parallel, unscaled, checked with `mindspore.amp.all_finite` together with the
  loss (a non-finite loss can have finite gradients), the flag is all-reduced over the ranks so all
  agree, and the optimizer runs *only* if everything is finite. An overflowing
  step therefore leaves the weights and the whole optimizer state (moments, beta powers, its step
  counter and so its lr position) untouched and reports `overflow=True` (the zoo computed the flag
  but never used it, docs/design.md "The old zoo's CenterFace recipe"). BatchNorm moving statistics are updated by the
  forward pass and are not rolled back (as in other frameworks);
* the loss scaler (`build_loss_scaler`) is static, dynamic (halve on overflow, double after
  `scale_window` clean steps) or none (scale 1, overflow gating kept);
* `jit=True` compiles the step with `mindspore.jit` (in GRAPH_MODE the step is compiled anyway).
"""
import mindspore as ms
from mindspore import amp, nn, ops
from mindspore.communication import get_group_size

__all__ = ["AMP_LEVELS", "LOSS_SCALE_MODES", "NetworkWithLoss", "build_loss_scaler", "apply_mixed_precision",
           "is_data_parallel", "build_grad_reducer", "TrainStep"]

AMP_LEVELS = ("O0", "O1", "O2", "O3")
LOSS_SCALE_MODES = ("static", "dynamic", "none")


class NetworkWithLoss(nn.Cell):
    """`(images, *targets) -> loss_fn(*network(images), *targets)`.

    Built with `auto_prefix=False`, so parameter names (and thus checkpoint keys) are the bare
    network's names, loadable into the network alone without prefix surgery.
    """

    def __init__(self, network, loss_fn):
        super().__init__(auto_prefix=False)
        self.network = network
        self.loss_fn = loss_fn

    def construct(self, images, *targets):
        outputs = self.network(images)
        if not isinstance(outputs, (tuple, list)):
            outputs = (outputs,)
        return self.loss_fn(*outputs, *targets)


def build_loss_scaler(mode="static", scale_value=1024.0, scale_factor=2, scale_window=1000):
    """`mindspore.amp` loss scaler: "static" (fixed `scale_value`, the zoo used 1024), "dynamic" or "none"."""
    if mode == "static":
        return amp.StaticLossScaler(float(scale_value))
    if mode == "dynamic":
        return amp.DynamicLossScaler(float(scale_value), int(scale_factor), int(scale_window))
    if mode == "none":
        return amp.StaticLossScaler(1.0)
    raise ValueError(f"train step: loss_scale_mode must be one of {LOSS_SCALE_MODES}, got {mode!r}")


def apply_mixed_precision(network, amp_level="O0", dtype=ms.float16):
    """`mindspore.amp.auto_mixed_precision(network, amp_level)` with argument checking; O0 = no change.

    Weights stay float32 (casts are inserted), so an optimizer built before this call remains valid.
    auto_mixed_precision re-prefixes parameter names (measured in 2.10: `conv.weight` became
    `network.conv.weight` under NetworkWithLoss); the original names are put back so checkpoint keys
    and the optimizer's moment names do not depend on amp_level.
    """
    if amp_level not in AMP_LEVELS:
        raise ValueError(f"train step: amp_level must be one of {AMP_LEVELS}, got {amp_level!r}")
    if amp_level == "O0":
        return network
    names = [(param, param.name) for param in network.get_parameters()]
    wrapped = amp.auto_mixed_precision(network, amp_level, dtype=dtype)
    for param, name in names:
        if param.name != name:
            param.name = name
    return wrapped


def is_data_parallel():
    """True when the auto-parallel context is data or hybrid parallel (gradients must be all-reduced)."""
    mode = ms.get_auto_parallel_context("parallel_mode")
    return mode in (ms.ParallelMode.DATA_PARALLEL, ms.ParallelMode.HYBRID_PARALLEL)


def build_grad_reducer(parameters):
    """`nn.DistributedGradReducer` in data/hybrid parallel mode (mean if `gradients_mean`), else None."""
    if not is_data_parallel():
        return None
    mean = ms.get_auto_parallel_context("gradients_mean")
    return nn.DistributedGradReducer(parameters, mean, get_group_size())


class TrainStep:
    """One optimisation step on a batch; see the module docstring for the semantics.

    Args:
        network_with_loss: Cell mapping `(images, *targets)` to a loss or `(loss, *components)`.
        optimizer: a MindSpore optimizer over the trainable parameters, built with loss_scale=1.
        loss_scaler: a `mindspore.amp` LossScaler (see `build_loss_scaler`).
        amp_level: "O0".."O3", applied to `network_with_loss` via `apply_mixed_precision`.
        max_grad_norm: clip the (unscaled) gradients to this global norm; None or 0 = no clipping.
        jit: wrap the step in `mindspore.jit`.
        grad_reducer: "auto" (by parallel mode), None (never), or a callable on the gradient tuple.
    """

    def __init__(self, network_with_loss, optimizer, loss_scaler, amp_level="O0", max_grad_norm=None,
                 jit=True, grad_reducer="auto"):
        if getattr(optimizer, "loss_scale", 1.0) != 1.0:
            raise ValueError(f"train step: the optimizer was built with loss_scale={optimizer.loss_scale}; "
                             "build it with loss_scale=1.0, the train step unscales the gradients itself")
        self.amp_level = amp_level
        self.network = apply_mixed_precision(network_with_loss, amp_level)
        self.optimizer = optimizer
        self.loss_scaler = loss_scaler
        if max_grad_norm is not None and max_grad_norm < 0:
            raise ValueError(f"train step: max_grad_norm must be >= 0 (0 or None = no clipping), got {max_grad_norm!r}")
        self.max_grad_norm = float(max_grad_norm) if max_grad_norm else None
        if grad_reducer == "auto":
            grad_reducer = build_grad_reducer(optimizer.parameters)
        self.grad_reducer = grad_reducer
        self.flag_reducer = ops.AllReduce(op=ops.ReduceOp.SUM) if is_data_parallel() else None
        self.grad_fn = ops.value_and_grad(self._forward, None, optimizer.parameters, has_aux=True)
        self._step = ms.jit(self._step_impl) if jit else self._step_impl
        self._checked = False

    def _forward(self, *inputs):
        out = self.network(*inputs)
        if isinstance(out, (tuple, list)):
            loss = out[0]
            return (self.loss_scaler.scale(loss), loss) + tuple(out[1:])
        return self.loss_scaler.scale(out), out

    def _step_impl(self, *inputs):
        outs, grads = self.grad_fn(*inputs)
        loss = outs[1]
        if self.grad_reducer is not None:
            grads = self.grad_reducer(grads)
        grads = self.loss_scaler.unscale(grads)
        # A non-finite loss can come with finite gradients (e.g. the square of a huge target): skip it too.
        finite = ops.logical_and(amp.all_finite(grads), ops.isfinite(loss))
        if self.flag_reducer is not None:
            # Ranks must agree, else their weights diverge: update only if the step is finite everywhere.
            # (A sum of "not finite" flags: AllReduce supports only sum on CPU.)
            finite = self.flag_reducer(ops.logical_not(finite).astype(ms.float32)) < 0.5
        if finite:
            if self.max_grad_norm is not None:
                grads = ops.clip_by_global_norm(grads, self.max_grad_norm)
            loss = ops.depend(loss, self.optimizer(grads))
        self.loss_scaler.adjust(finite)
        return loss, ops.logical_not(finite), self.loss_scaler.scale_value.value(), outs[2:]

    def __call__(self, *inputs):
        """Run one step on Tensors; returns (loss, overflow, loss_scale, components) as Tensors."""
        if self._checked:
            return self._step(*inputs)
        try:
            result = self._step(*inputs)
        except (RuntimeError, TypeError, ValueError) as err:
            if self.amp_level == "O0":
                raise
            raise RuntimeError(f"train step: mixed precision amp_level={self.amp_level} failed on device "
                               f"{ms.get_context('device_target')} (float16 kernels may be missing there; "
                               f"use amp_level O0): {err}") from err
        self._checked = True
        return result
