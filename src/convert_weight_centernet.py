"""Convert original CenterNet pose checkpoints (PyTorch) to checkpoints of `src.models.dla_seg.DLASeg`.

    python src/convert_weight_centernet.py --pth multi_pose_dla_3x.pth --output_path centernet_pose.ckpt
    python src/convert_weight_centernet.py --pth dla34-ba72cf86.pth --output_path dla34_backbone.ckpt
    python src/convert_weight_centernet.py --npz state_dict.npz --output_path out.ckpt [--enable_dcn False]

Input (docs/centernet.md "Network"): the original `{'epoch', 'state_dict', ['optimizer']}` file or a bare state dict; a
`module.` prefix (DataParallel) is stripped, `base.fc.*` (the unused ImageNet classifier) and BatchNorm
`num_batches_tracked` are ignored. `--npz` reads the same keys from a numpy .npz, so torch is only needed to
read a .pth (it is imported inside the .pth reader only).

Two kinds of source are recognised from their keys:
* a full pose model (keys `base.*`, `dla_up.*`, `ida_up.*` and the 6 heads) -> every parameter of DLASeg with the pose heads;
* the ImageNet DLA-34 (`dla34-ba72cf86.pth`: `base_layer.*`, `level0..5.*`, `fc.*`, no `base.` prefix) -> a
  backbone-only checkpoint with keys `base.*`, to initialise training.

Mapping: names are kept, BatchNorm weight/bias/running_mean/running_var become gamma/beta/moving_mean/
moving_variance. DCN offset convs (`conv.conv_offset_mask.*`) are copied unchanged: our ModulatedDeformConv2d
keeps DCNv2's channel order and rearranges the offsets for MindSpore at run time (src/models/dcn.py). A missing,
unexpected or mis-shaped key stops the conversion with a one-line ValueError naming it. The checkpoint carries
the string entries `model` = "centernet_pose", `content` = "full" or "backbone" and `enable_dcn` = "True" or
"False", so scripts of the other model can refuse it.
"""
import argparse
import functools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from src.model_utils.cli import run  # noqa: E402

MODEL_TAG = "centernet_pose"
# MindSpore BatchNorm parameter name -> PyTorch state-dict name.
BN_FIELDS = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
IGNORED_SUFFIXES = (".num_batches_tracked",)
IGNORED_PREFIXES = ("base.fc.",)  # the ImageNet classifier inside the pose checkpoints, unused by DLASeg
BACKBONE_MARKER = "base_layer.0.weight"  # first conv of DLA-34, without the `base.` prefix in dla34-*.pth


def parse_bool(text):
    """'True'/'False' (any case, also 1/0, yes/no) -> bool; anything else is a ValueError naming the value."""
    value = str(text).strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ValueError(f"--enable_dcn {text!r}: expected True or False")


def _read_pth(path):
    """A .pth file -> {key: numpy array}; unwraps {'state_dict': ...}. torch is imported here only."""
    try:
        import torch
    except ImportError:
        raise ValueError(f"--pth {path}: reading a .pth needs torch (pip install torch), "
                         "or save the state dict with numpy.savez and pass --npz") from None
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types (UnpicklingError, RuntimeError, ...) for a bad file
        raise ValueError(f"--pth {path}: cannot be read by torch.load ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''})") from None
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(f"--pth {path}: holds a {type(obj).__name__}, expected a state dict or "
                         "{'epoch', 'state_dict', ...}")
    state = {}
    for key, value in obj.items():
        if not hasattr(value, "detach"):
            raise ValueError(f"--pth {path}: entry {key!r} is a {type(value).__name__}, expected a tensor")
        state[str(key)] = value.detach().cpu().numpy()
    return state


def _read_npz(path):
    with np.load(str(path), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def read_state_dict(path, kind):
    """Read a state dict from a .pth (`kind` 'pth') or .npz (`kind` 'npz') file as {key: numpy array}."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--{kind} {path}: no such file")
    return _read_pth(path) if kind == "pth" else _read_npz(path)


def torch_name(ours):
    """Our parameter name -> the original state-dict key (BatchNorm fields renamed, the rest unchanged)."""
    module, _, field = ours.rpartition(".")
    return f"{module}.{BN_FIELDS[field]}" if field in BN_FIELDS else ours


def normalise_keys(state):
    """Strip a `module.` prefix (DataParallel), drop ignored keys; returns (state, content, ignored keys).

    content is 'full' for a pose checkpoint (keys under `base.`) or 'backbone' for the ImageNet DLA-34
    (no `base.` prefix: it is added, and its classifier `fc.*` is ignored).
    """
    # The original load_model strips `module.` key by key; so do we.
    stripped = {(key[len("module."):] if key.startswith("module.") else key): value for key, value in state.items()}
    if len(stripped) != len(state):
        twice = sorted(k for k in state if k.startswith("module.") and k[len("module."):] in state)
        raise ValueError(f"state dict holds both {twice[0]!r} and {twice[0][len('module.'):]!r}: ambiguous")
    state = stripped
    if any(key.startswith("base.") for key in state):
        content = "full"
    elif BACKBONE_MARKER in state:
        content = "backbone"  # its classifier becomes base.fc.*, ignored like in the pose checkpoints
        state = {f"base.{key}": value for key, value in state.items()}
    else:
        first = sorted(state)[:3]
        raise ValueError(f"state dict with keys {first}...: neither a CenterNet DLA-34 model (keys 'base.*') nor the "
                         f"ImageNet DLA-34 ('{BACKBONE_MARKER}')")
    ignored = sorted(key for key in state if key.endswith(IGNORED_SUFFIXES) or key.startswith(IGNORED_PREFIXES))
    ignored_set = set(ignored)
    kept = {key: value for key, value in state.items() if key not in ignored_set}
    return kept, content, ignored


def expected_parameters(content, enable_dcn=True):
    """{our parameter name: shape} that a conversion must produce ('full' network or 'backbone' only)."""
    return dict(_expected_parameters(content, bool(enable_dcn)))


@functools.lru_cache(maxsize=4)
def _expected_parameters(content, enable_dcn):
    # Building the 20 M-parameter network takes ~1-2 s; cached for repeated conversions in one process.
    from src.models.dla import DLA34
    from src.models.dla_seg import DLASeg
    from src.tasks import get_task

    if content == "backbone":
        return tuple((f"base.{name}", tuple(p.shape)) for name, p in DLA34().parameters_and_names())
    if content != "full":
        raise ValueError(f"content={content!r}: expected 'full' or 'backbone'")
    heads = get_task("centernet_pose").heads
    return tuple((name, tuple(p.shape)) for name, p in DLASeg(heads, enable_dcn=enable_dcn).parameters_and_names())


def convert_state_dict(state, expected, source="state dict"):
    """Map a normalised original state dict onto `expected` ({our name: shape}); returns {our name: float32 array}.

    Every expected name must be found with its shape and every source key must be used, else a ValueError
    naming the first offending key.
    """
    params, used = {}, set()
    for ours, shape in expected.items():
        theirs = torch_name(ours)
        if theirs not in state:
            raise ValueError(f"{source}: missing key {theirs!r} (for {ours}, shape {shape})")
        value = np.asarray(state[theirs])
        if tuple(value.shape) != tuple(shape):
            raise ValueError(f"{source}: key {theirs!r} has shape {tuple(value.shape)}, expected {tuple(shape)}")
        params[ours] = value.astype(np.float32)
        used.add(theirs)
    unexpected = sorted(set(state) - used)
    if unexpected:
        hint = ""
        if any("conv_offset_mask" in key for key in unexpected):
            hint = " (a DCN checkpoint: convert with --enable_dcn True)"
        raise ValueError(f"{source}: unexpected key {unexpected[0]!r}{hint} ({len(unexpected)} unexpected in all)")
    return params


def main(argv=None):
    parser = argparse.ArgumentParser(description="original CenterNet pose / ImageNet DLA-34 weights -> MindSpore "
                                                 "checkpoint of the pose DLASeg")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pth", help="PyTorch checkpoint or state dict (needs torch)")
    source.add_argument("--npz", help="the same state-dict keys saved with numpy.savez (no torch needed)")
    parser.add_argument("--output_path", required=True, help="MindSpore checkpoint to write (.ckpt)")
    parser.add_argument("--enable_dcn", default="True",
                        help="True: the original network with DCNv2 (default); False: plain 3x3 convs, no offset convs")
    args = parser.parse_args(argv)
    enable_dcn = parse_bool(args.enable_dcn)
    kind = "pth" if args.pth else "npz"
    path = args.pth or args.npz
    if not str(args.output_path).endswith(".ckpt"):
        raise ValueError(f"--output_path {args.output_path}: must end in .ckpt")

    state, content, ignored = normalise_keys(read_state_dict(path, kind))

    import mindspore as ms

    from src.io_utils import save_checkpoint_atomic

    params = convert_state_dict(state, expected_parameters(content, enable_dcn), source=str(path))
    save_checkpoint_atomic([{"name": name, "data": ms.Tensor(value)} for name, value in params.items()],
                           args.output_path, append_dict={"model": MODEL_TAG, "content": content,
                                                       "enable_dcn": str(enable_dcn)})
    trainable = sum(v.size for k, v in params.items() if "moving_" not in k)
    print(f"wrote {args.output_path}: {content} ({'DCN' if enable_dcn else 'no DCN'}), {len(params)} tensors, "
          f"{trainable} parameters; ignored {len(ignored)} keys "
          f"({', '.join(sorted({key.rsplit('.', 1)[-1] for key in ignored}))})")
    return 0


if __name__ == "__main__":
    run(main)
