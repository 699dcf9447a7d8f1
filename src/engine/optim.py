"""Optimizer construction: weight-decay parameter groups and a name -> MindSpore optimizer factory.

Weight-decay rule (`param_groups`): a trainable parameter gets weight decay only if it has at least two
dimensions (conv / dense / transposed-conv kernels) and its name does not end with `bias`, `gamma` or
`beta`. So biases, BatchNorm/LayerNorm gamma and beta, and any other 1-D or scalar parameter (e.g.
PReLU slopes) are not decayed. The zoo's CenterFace likewise decayed neither biases nor BN (docs/design.md "The old
zoo's CenterFace recipe").

Adam's epsilon (`eps`, config key `adam_eps`): 1e-8 is MindSpore's default (and PyTorch's, which the original
CenterNet used); the old MindSpore CenterNet zoo used 1e-7. MindSpore adds it outside the bias correction,
`w -= lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)`.
"""
from mindspore import nn

__all__ = ["is_decayed", "param_groups", "build_optimizer", "OPTIMIZERS"]

OPTIMIZERS = ("adam", "sgd", "momentum")
_NO_DECAY_SUFFIXES = ("bias", "gamma", "beta")


def is_decayed(param):
    """True if `param` should receive weight decay (see the module docstring for the rule)."""
    last = param.name.rsplit(".", 1)[-1]
    return len(param.shape) >= 2 and last not in _NO_DECAY_SUFFIXES


def param_groups(network, weight_decay):
    """MindSpore group list: decayed kernels with `weight_decay`, the rest with 0.

    `order_params` keeps the optimizer's parameter order equal to `network.trainable_params()` so
    gradients, optimizer moments and checkpoints follow the network's order.
    """
    if weight_decay < 0:
        raise ValueError(f"param_groups: weight_decay must be >= 0, got {weight_decay!r}")
    params = network.trainable_params()
    if not params:
        raise ValueError(f"param_groups: {type(network).__name__} has no trainable parameters")
    decay = [p for p in params if is_decayed(p)]
    no_decay = [p for p in params if not is_decayed(p)]
    groups = []
    if decay:
        groups.append({"params": decay, "weight_decay": float(weight_decay)})
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    groups.append({"order_params": params})
    return groups


def build_optimizer(name, params, lr, weight_decay=0.0, momentum=0.9, loss_scale=1.0,
                    beta1=0.9, beta2=0.999, eps=1e-8):
    """MindSpore optimizer `name` ("adam" | "sgd" | "momentum") over `params`.

    params: a list of Parameters or a group list from `param_groups` (group weight decays win over
        `weight_decay`, which is then only the default).
    lr: a float or a per-step list (see `lr_schedule`); the optimizer indexes the list with its own
        step counter, which advances only when an update is applied.
    momentum: used by "sgd" (heavy-ball SGD, 0 = plain SGD) and "momentum".
    loss_scale: the optimizer divides gradients by it. Keep 1.0 with `engine.train_step`, which
        unscales the gradients itself (and refuses an optimizer with loss_scale != 1).
    beta1, beta2, eps: Adam's moment decays and epsilon (ignored by "sgd" and "momentum").
    """
    if isinstance(lr, (list, tuple)):
        if not lr:
            raise ValueError("build_optimizer: the learning-rate schedule is empty")
        lr = [float(v) for v in lr]
    elif isinstance(lr, (int, float)) and not isinstance(lr, bool):
        lr = float(lr)
    else:
        raise ValueError(f"build_optimizer: lr must be a float or a list of floats, got {type(lr).__name__}")
    if name == "adam" and not (isinstance(eps, (int, float)) and not isinstance(eps, bool) and eps > 0):
        raise ValueError(f"build_optimizer: Adam eps (adam_eps) must be a number > 0, got {eps!r}")
    common = {"learning_rate": lr, "weight_decay": float(weight_decay), "loss_scale": float(loss_scale)}
    if name == "adam":
        return nn.Adam(params, beta1=beta1, beta2=beta2, eps=float(eps), **common)
    if name == "sgd":
        return nn.SGD(params, momentum=float(momentum), **common)
    if name == "momentum":
        return nn.Momentum(params, momentum=float(momentum), **common)
    raise ValueError(f"build_optimizer: optimizer must be one of {OPTIMIZERS}, got {name!r}")
