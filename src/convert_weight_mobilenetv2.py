"""Convert a torchvision-format MobileNetV2 state dict (ImageNet weights) to a backbone checkpoint.

    python src/convert_weight_mobilenetv2.py --pth mobilenet_v2-b0353104.pth --output_path backbone.ckpt

Also accepts `--npz` (the state dict saved with numpy.savez) so that no torch is needed. torch is imported
only to read a .pth. The output holds `backbone.*` parameters of `src.centerface.network.CenterFace`; train.py
loads it with `--pretrained_backbone`. `features.18` (the 1280-channel conv) and the classifier are unused.

torchvision normalises its input ((x/255 - mean) / std, RGB), CenterFace feeds raw 0..255 RGB. By default
the normalisation is folded into the first conv (weights / (255 std)) and the constant it subtracts into the
first BN's running mean, so the converted backbone computes what the ImageNet model computed, except on the
1-pixel zero-padded border (padding raw 0 is not padding normalised 0). `--no_fold_norm` keeps weights as is.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float64)  # torchvision's ImageNet statistics (RGB)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float64)
BN_FIELDS = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
NUM_BLOCKS = 17  # features.1 .. features.17 are inverted residual blocks


def _module_map():
    """torchvision module prefix -> (our conv prefix, kind) for conv weights and their BNs."""
    mapping = {"features.0.0": "backbone.features.0.conv", "features.0.1": "backbone.features.0.bn",
               "features.1.conv.0.0": "backbone.features.1.depthwise.conv",
               "features.1.conv.0.1": "backbone.features.1.depthwise.bn",
               "features.1.conv.1": "backbone.features.1.project.conv",
               "features.1.conv.2": "backbone.features.1.project.bn"}
    for i in range(2, NUM_BLOCKS + 1):
        ours = f"backbone.features.{i}"
        mapping.update({f"features.{i}.conv.0.0": f"{ours}.expand.conv", f"features.{i}.conv.0.1": f"{ours}.expand.bn",
                        f"features.{i}.conv.1.0": f"{ours}.depthwise.conv",
                        f"features.{i}.conv.1.1": f"{ours}.depthwise.bn",
                        f"features.{i}.conv.2": f"{ours}.project.conv", f"features.{i}.conv.3": f"{ours}.project.bn"})
    return mapping


def convert_state_dict(state, fold_norm=True):
    """{torchvision key: array} -> ({our key: float32 array}, [ignored torchvision keys])."""
    state = {k: np.asarray(v) for k, v in state.items()}
    mapping = _module_map()
    params, used = {}, set()
    for theirs, ours in mapping.items():
        if ours.endswith(".conv"):
            key = f"{theirs}.weight"
            if key not in state:
                raise KeyError(f"state dict has no {key!r}: not a torchvision mobilenet_v2 state dict?")
            params[f"{ours}.weight"] = state[key].astype(np.float32)
            used.add(key)
        else:
            for field, our_field in BN_FIELDS.items():
                key = f"{theirs}.{field}"
                if key not in state:
                    raise KeyError(f"state dict has no {key!r}: not a torchvision mobilenet_v2 state dict?")
                params[f"{ours}.{our_field}"] = state[key].astype(np.float32)
                used.add(key)
            used.add(f"{theirs}.num_batches_tracked")
    if fold_norm:
        w = params["backbone.features.0.conv.weight"].astype(np.float64)  # (32, 3, 3, 3)
        params["backbone.features.0.conv.weight"] = (w / (255.0 * IMAGENET_STD[None, :, None, None])).astype(np.float32)
        # conv(norm(x)) = conv'(x) - sum W * mean/std: the constant moves into the BN's running mean.
        shift = (w * (IMAGENET_MEAN / IMAGENET_STD)[None, :, None, None]).sum(axis=(1, 2, 3))
        params["backbone.features.0.bn.moving_mean"] = (
            params["backbone.features.0.bn.moving_mean"] + shift).astype(np.float32)
    ignored = sorted(set(state) - used)
    return params, ignored


def _read_state(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".npz":
        with np.load(path) as data:
            return dict(data)
    try:
        import torch
    except ImportError:
        raise RuntimeError(f"{path}: reading a .pth needs torch (pip install torch), "
                           "or save the state dict with numpy.savez and pass --npz") from None
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    return {k: v.numpy() for k, v in state.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description="torchvision mobilenet_v2 state dict -> backbone checkpoint")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--pth", help="torchvision .pth state dict (needs torch)")
    src.add_argument("--npz", help="the same state dict saved with numpy.savez")
    parser.add_argument("--output_path", required=True)
    parser.add_argument("--no_fold_norm", action="store_true", help="do not fold ImageNet mean/std into conv 0")
    args = parser.parse_args(argv)

    import mindspore as ms

    from src.io_utils import save_checkpoint_atomic
    from src.models.mobilenet_v2 import MobileNetV2Backbone

    params, ignored = convert_state_dict(_read_state(args.pth or args.npz), fold_norm=not args.no_fold_norm)
    expected = {f"backbone.{n}": tuple(p.shape) for n, p in MobileNetV2Backbone().parameters_and_names()}
    for name, shape in expected.items():
        if name not in params or params[name].shape != shape:
            raise ValueError(f"{name}: converted {params[name].shape if name in params else 'nothing'}, "
                             f"backbone expects {shape}")
    save_checkpoint_atomic([{"name": k, "data": ms.Tensor(v)} for k, v in params.items()], args.output_path)
    print(f"wrote {args.output_path}: {len(params)} tensors; ignored {len(ignored)} keys "
          f"({', '.join(sorted({k.rsplit('.', 2)[0] for k in ignored})[:4])})")


if __name__ == "__main__":
    main()
