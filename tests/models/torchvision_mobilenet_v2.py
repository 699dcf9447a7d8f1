"""torchvision's mobilenet_v2 state dict, written here from its definition (features.0 conv-BN-ReLU6, 17 inverted
residual blocks, features.18 1x1 conv to 1280, classifier.1 Linear 1280->1000): its keys and shapes, and random
states in plausible ranges (tests of the MobileNetV2 converter and of training from a converted backbone)."""
import numpy as np


# (t, c, n, s) of MobileNetV2 (Sandler et al. 2018, Table 2); torchvision uses the same table.
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
            (6, 320, 1, 1))


def bn(prefix, channels):
    return [(f"{prefix}.weight", (channels,)), (f"{prefix}.bias", (channels,)),
            (f"{prefix}.running_mean", (channels,)), (f"{prefix}.running_var", (channels,)),
            (f"{prefix}.num_batches_tracked", ())]


def torchvision_keys():
    """[(name, shape)] of torchvision.models.mobilenet_v2().state_dict()."""
    keys = [("features.0.0.weight", (32, 3, 3, 3))] + bn("features.0.1", 32)
    in_ch, index = 32, 1
    for t, c, n, _ in SETTINGS:
        for _ in range(n):
            hidden, p = in_ch * t, f"features.{index}.conv"
            if t == 1:
                keys += [(f"{p}.0.0.weight", (hidden, 1, 3, 3))] + bn(f"{p}.0.1", hidden)
                keys += [(f"{p}.1.weight", (c, hidden, 1, 1))] + bn(f"{p}.2", c)
            else:
                keys += [(f"{p}.0.0.weight", (hidden, in_ch, 1, 1))] + bn(f"{p}.0.1", hidden)
                keys += [(f"{p}.1.0.weight", (hidden, 1, 3, 3))] + bn(f"{p}.1.1", hidden)
                keys += [(f"{p}.2.weight", (c, hidden, 1, 1))] + bn(f"{p}.3", c)
            in_ch, index = c, index + 1
    keys += [("features.18.0.weight", (1280, 320, 1, 1))] + bn("features.18.1", 1280)
    keys += [("classifier.1.weight", (1000, 1280)), ("classifier.1.bias", (1000,))]
    return keys


def random_state(seed=0):
    """Random values in plausible ranges (so that ReLU6 is neither always 0 nor always saturated)."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, shape in torchvision_keys():
        if name.endswith("num_batches_tracked"):
            state[name] = np.array(1000, np.int64)
        elif name.endswith("running_var"):
            state[name] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        elif name.endswith(".weight") and len(shape) == 1:  # BN gamma
            state[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            state[name] = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    return state
