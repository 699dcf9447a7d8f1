"""Convert original CenterNet checkpoints (PyTorch) to checkpoints of our CenterNet networks.

    python src/convert_weight_centernet.py --pth ctdet_coco_dla_2x.pth --output_path ctdet_dla.ckpt \
        [--config_path configs/centernet_det.yaml]
    python src/convert_weight_centernet.py --pth ctdet_coco_resdcn18.pth --output_path ctdet_resdcn18.ckpt
    python src/convert_weight_centernet.py --pth multi_pose_dla_3x.pth --output_path centernet_pose.ckpt
    python src/convert_weight_centernet.py --pth dla34-ba72cf86.pth --output_path dla34_backbone.ckpt
    python src/convert_weight_centernet.py --pth resnet18-5c106cde.pth --output_path resnet18_backbone.ckpt
    python src/convert_weight_centernet.py --pth ctdet_coco_dla_2x.pth --content backbone --output_path dla34_coco.ckpt
    python src/convert_weight_centernet.py --npz state_dict.npz --output_path out.ckpt

Input (as xingyizhou/CenterNet's `model.py` saves and loads it): the original `{'epoch', 'state_dict',
['optimizer']}` file or a bare state dict; a `module.` prefix (DataParallel) is stripped, the ImageNet
classifiers (`base.fc.*` in the DLA models, `fc.*` in ImageNet files) and BatchNorm `num_batches_tracked` are
ignored. `--npz` reads the same keys from a numpy .npz, so
torch is only needed to read a .pth (it is imported inside the .pth reader only).

What the file holds is told by its keys (`describe_source`; key layouts of `pose_dla_dcn.py`, `resnet_dcn.py`):
* architecture: `base.*` (+ `dla_up.*`, `ida_up.*`) is DLA-34 (arch `dla_34`); `conv1.*`, `layer1..4.*`
  (+ `deconv_layers.*`) a ResNet whose depth the blocks per stage and their kind show (`resdcn_18`, `resdcn_101`,
  ...); `base_layer.*` without `base.` is the ImageNet DLA-34;
* content: `full` (a CenterNet model: backbone, up-sampling path, heads) or `backbone` (an ImageNet file:
  torchvision's `resnet18-5c106cde.pth`, `dla34-ba72cf86.pth`); `--content backbone` keeps only the backbone of a
  full model (e.g. to start pose training from the ctdet model's DLA-34, as the original did);
* heads, their channels and head_conv from the head keys (`<name>.0.weight`, `<name>.2.weight`); the task:
  `hps` present -> centernet_pose, else hm + wh (+ reg) -> centernet_det (`cat_spec_wh` when wh has 2 x the
  classes' channels); enable_dcn: whether `conv_offset_mask` keys are present.
`--config_path` checks that description against the network the config's task builds (task, arch, heads,
head_conv, enable_dcn; the pose task's arch is DLA-34; cat_spec_wh shows in the wh head's channels); a mismatch is
one error line naming the key. `--enable_dcn` likewise.

Mapping: names are kept, BatchNorm weight/bias/running_mean/running_var become gamma/beta/moving_mean/
moving_variance. DCN offset convs (`conv_offset_mask.*`) are copied unchanged: our ModulatedDeformConv2d keeps
DCNv2's channel order and rearranges the offsets for MindSpore at run time (src/models/dcn.py). A missing,
unexpected or mis-shaped key stops the conversion with a one-line ValueError naming it. The checkpoint carries the
string entries `content` ("full" or "backbone"), `arch` and, for a full model, `model` (its task, so scripts of
another task refuse it) and `enable_dcn`; a backbone checkpoint names no task (it initialises any task's network
of that arch).
"""
import argparse
import functools
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from src.model_utils.cli import run  # noqa: E402
from src.model_utils.config import ConfigError  # noqa: E402
from src.models.centernet_arch import parse_arch  # noqa: E402
from src.models.resnet import RESNET_SPECS  # noqa: E402

# MindSpore BatchNorm parameter name -> PyTorch state-dict name.
BN_FIELDS = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
IGNORED_SUFFIXES = (".num_batches_tracked",)
# ImageNet classifiers: inside the DLA CenterNet models (`base.fc`, unused by DLASeg) and in the ImageNet files
IGNORED_PREFIXES = {"dla": ("base.fc.",), "resdcn": ("fc.",)}
DLA_BACKBONE_MARKER = "base_layer.0.weight"  # first conv of DLA-34, without the `base.` prefix in dla34-*.pth
RESNET_MARKERS = ("conv1.weight", "layer1.0.conv1.weight")
# top-level modules that are not heads
NETWORK_PARTS = {"dla": ("base", "dla_up", "ida_up"),
                 "resdcn": ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "deconv_layers", "fc")}
BACKBONE_PARTS = {"dla": ("base",), "resdcn": ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")}
POSE_ONLY_HEADS = ("hps", "hm_hp", "hp_offset")
DET_HEADS = ("hm", "wh", "reg")
TASKS = {"pose": "centernet_pose", "det": "centernet_det"}
CONTENTS = ("auto", "full", "backbone")


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


@dataclass(frozen=True)
class Source:
    """What a normalised state dict holds: `arch` (dla_34, resdcn_18, ...), `content` ('full' | 'backbone'), and
    for a full model `task`, `heads` ((name, channels) in the file's order), `head_conv`, `enable_dcn`,
    `cat_spec_wh`."""
    arch: str
    content: str
    task: str = ""
    heads: tuple = ()
    head_conv: int = 0
    enable_dcn: bool = False
    cat_spec_wh: bool = False

    @property
    def family(self):
        return parse_arch(self.arch)[0]

    def summary(self):
        if self.content == "backbone":
            return f"{self.arch} backbone"
        heads = ", ".join(f"{name} {channels}" for name, channels in self.heads)
        return (f"{self.task} {self.arch} ({'DCN' if self.enable_dcn else 'no DCN'}; heads {heads}; "
                f"head_conv {self.head_conv})")


def strip_module_prefix(state):
    """The original load_model strips `module.` (DataParallel) key by key; so do we."""
    stripped = {(key[len("module."):] if key.startswith("module.") else key): value for key, value in state.items()}
    if len(stripped) != len(state):
        twice = sorted(k for k in state if k.startswith("module.") and k[len("module."):] in state)
        raise ValueError(f"state dict holds both {twice[0]!r} and {twice[0][len('module.'):]!r}: ambiguous")
    return stripped


def _resnet_depth(state, source):
    """The depth of the torchvision-layout ResNet whose `layer1..4.<block>.*` keys `state` holds."""
    counts = []
    for stage in range(1, 5):
        blocks = {int(m.group(1)) for key in state for m in [re.match(rf"layer{stage}\.(\d+)\.", key)] if m}
        counts.append(max(blocks) + 1 if blocks else 0)
    kind = "Bottleneck" if "layer1.0.conv3.weight" in state else "BasicBlock"
    for depth, (block, spec) in RESNET_SPECS.items():
        if block.__name__ == kind and tuple(counts) == spec:
            return depth
    raise ValueError(f"{source}: a ResNet with {kind}s {counts} per stage, which is none of ResNet-"
                     f"{', '.join(map(str, RESNET_SPECS))}")


def _heads(state, family, source):
    """((name, channels), ...) and head_conv of the head keys `<name>.0.weight` / `<name>.2.weight`."""
    names = []
    for key in state:
        name = key.split(".", 1)[0]
        if name not in NETWORK_PARTS[family] and name not in names:
            names.append(name)
    heads, widths = [], set()
    for name in names:
        first, last = state.get(f"{name}.0.weight"), state.get(f"{name}.2.weight")
        if first is None or last is None or np.ndim(first) != 4 or np.ndim(last) != 4:
            raise ValueError(f"{source}: keys {name}.* are not a CenterNet head (conv3x3 `{name}.0` + conv1x1 "
                             f"`{name}.2`; heads without head_conv are not supported)")
        heads.append((name, int(np.shape(last)[0])))
        widths.add(int(np.shape(first)[0]))
    if len(widths) > 1:
        raise ValueError(f"{source}: heads of different widths {sorted(widths)}; expected one head_conv")
    return tuple(heads), widths.pop() if widths else 0


def describe_source(state, source="state dict"):
    """The `Source` a state dict (module prefix stripped) holds, told by its keys; ValueError when it is none of
    the CenterNet models or ImageNet backbones."""
    if any(key.startswith("base.") for key in state):
        family, arch = "dla", "dla_34"
        full = any(key.startswith(("dla_up.", "ida_up.")) for key in state)
    elif all(marker in state for marker in RESNET_MARKERS):
        family, arch = "resdcn", f"resdcn_{_resnet_depth(state, source)}"
        full = any(key.startswith("deconv_layers.") for key in state)
    elif DLA_BACKBONE_MARKER in state:
        return Source("dla_34", "backbone")
    else:
        first = sorted(state)[:3]
        raise ValueError(f"{source}: keys {first}...: neither a CenterNet model (DLA-34 'base.*' or ResNet "
                         f"'conv1.*', 'layer1.*') nor an ImageNet DLA-34 or torchvision ResNet")
    if not full:
        return Source(arch, "backbone")
    heads, head_conv = _heads(state, family, source)
    names = {name for name, _ in heads}
    if "hps" in names:
        task = TASKS["pose"]
    elif {"hm", "wh"} <= names <= set(DET_HEADS):
        task = TASKS["det"]
    else:
        raise ValueError(f"{source}: heads {sorted(names)}: neither a pose model (hm, wh, hps, ...) nor a "
                         f"detection model (hm, wh[, reg])")
    channels = dict(heads)
    cat_spec_wh = task == TASKS["det"] and channels["wh"] == 2 * channels["hm"] != 2
    enable_dcn = any(".conv_offset_mask." in key for key in state)
    return Source(arch, "full", task, heads, head_conv, enable_dcn, cat_spec_wh)


def normalise_keys(state, content="auto", source="state dict"):
    """Strip `module.`, tell what the file holds, keep the keys to convert; returns (state, Source, ignored keys).

    An ImageNet DLA-34 gets the `base.` prefix; `content` 'backbone' keeps only the backbone keys of a full model.
    """
    state = strip_module_prefix(state)
    described = describe_source(state, source)
    if content == "full" and described.content != "full":
        raise ValueError(f"--content full: {source} holds only a {described.summary()}")
    if described.content == "backbone" and described.family == "dla" and DLA_BACKBONE_MARKER in state:
        state = {f"base.{key}": value for key, value in state.items()}
    if content == "backbone" and described.content == "full":
        described = Source(described.arch, "backbone")
    ignored_prefixes = IGNORED_PREFIXES[described.family]
    if described.content == "backbone":
        keep = tuple(f"{part}." for part in BACKBONE_PARTS[described.family])
        ignored = sorted(key for key in state if not key.startswith(keep) or key.startswith(ignored_prefixes)
                         or key.endswith(IGNORED_SUFFIXES))
    else:
        ignored = sorted(key for key in state if key.endswith(IGNORED_SUFFIXES) or key.startswith(ignored_prefixes))
    ignored_set = set(ignored)
    return {key: value for key, value in state.items() if key not in ignored_set}, described, ignored


def check_against_config(described, config_path, source):
    """ConfigError (one line, naming the key) when the config at `config_path` describes another network than the
    file: task, arch, heads, head_conv, enable_dcn, as the config's task computes them (src/tasks: its heads from
    num_classes / num_joints and the head options, head_conv -1 = the arch's default). A backbone is checked for its
    arch only."""
    from src.model_utils.config import parse_config
    from src.tasks import get_task

    cfg = parse_config(["--config_path", str(config_path)])
    where = f"--config_path {config_path}"

    def mismatch(key, want, have):
        raise ConfigError(f"{where}: {key} {want!r} but {source} holds {have!r} ({described.summary()})")

    if described.content == "full" and cfg.task != described.task:  # first: the rest means something per task
        mismatch("task", cfg.task, described.task)
    task = get_task(cfg)
    arch = getattr(task, "arch", None)  # CenterNet tasks; another model's config describes no CenterNet network
    if arch is None:
        mismatch("task", cfg.task, described.task or f"a {described.arch} backbone")
    if described.content == "backbone":
        if parse_arch(arch) != parse_arch(described.arch):
            mismatch("arch", arch, described.arch)
        return
    wanted = {"arch": arch, "heads": dict(task.heads), "head_conv": task.head_conv,
              "enable_dcn": bool(cfg.enable_dcn)}
    held = {"arch": described.arch, "heads": dict(described.heads), "head_conv": described.head_conv,
            "enable_dcn": described.enable_dcn}
    for key, have in held.items():
        if wanted[key] != have:
            mismatch(key, wanted[key], have)


def expected_parameters(described):
    """{our parameter name: shape} that converting `described` must produce."""
    return dict(_expected_parameters(described.arch, described.content, described.heads, described.head_conv,
                                     described.enable_dcn))


@functools.lru_cache(maxsize=4)
def _expected_parameters(arch, content, heads, head_conv, enable_dcn):
    # Building a 15-20 M-parameter network takes ~1-2 s; cached for repeated conversions in one process.
    from src.models.centernet_arch import build_centernet_network
    from src.models.dla import DLA34
    from src.models.resnet import ResNet

    family, depth = parse_arch(arch)
    if content == "backbone":
        if family == "dla":
            return tuple((f"base.{name}", tuple(p.shape)) for name, p in DLA34().parameters_and_names())
        return tuple((name, tuple(p.shape)) for name, p in ResNet(depth).parameters_and_names())
    network = build_centernet_network(arch, heads, head_conv, enable_dcn)
    return tuple((name, tuple(p.shape)) for name, p in network.parameters_and_names())


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
        raise ValueError(f"{source}: unexpected key {unexpected[0]!r} ({len(unexpected)} unexpected in all)")
    return params


def main(argv=None):
    parser = argparse.ArgumentParser(description="original CenterNet weights (ctdet / multi_pose, DLA-34 / ResNet) "
                                                 "or ImageNet DLA-34 / ResNet -> MindSpore checkpoint")
    source_group = parser.add_mutually_exclusive_group(required=True)
    source_group.add_argument("--pth", help="PyTorch checkpoint or state dict (needs torch)")
    source_group.add_argument("--npz", help="the same state-dict keys saved with numpy.savez (no torch needed)")
    parser.add_argument("--output_path", required=True, help="MindSpore checkpoint to write (.ckpt)")
    parser.add_argument("--config_path", default="",
                        help="check the file against the network of this config's task (task, arch, heads, "
                             "head_conv, enable_dcn); a mismatch is an error")
    parser.add_argument("--content", default="auto", choices=CONTENTS,
                        help="auto: told by the keys (a CenterNet model -> full, an ImageNet file -> backbone); "
                             "backbone: only the backbone of a full model")
    parser.add_argument("--enable_dcn", default=None,
                        help="True/False: check that the file has (has not) deformable convs; default: told by "
                             "the keys")
    args = parser.parse_args(argv)
    enable_dcn = None if args.enable_dcn is None else parse_bool(args.enable_dcn)
    kind = "pth" if args.pth else "npz"
    path = args.pth or args.npz
    if not str(args.output_path).endswith(".ckpt"):
        raise ValueError(f"--output_path {args.output_path}: must end in .ckpt")
    if args.config_path and not Path(args.config_path).is_file():
        raise FileNotFoundError(f"--config_path {args.config_path}: no such file")

    state, described, ignored = normalise_keys(read_state_dict(path, kind), args.content, source=str(path))
    if enable_dcn is not None and described.content == "full" and enable_dcn != described.enable_dcn:
        raise ValueError(f"--enable_dcn {enable_dcn} but {path} holds a network "
                         f"{'with' if described.enable_dcn else 'without'} deformable convs (conv_offset_mask keys); "
                         f"convert with --enable_dcn {described.enable_dcn}")
    if args.config_path:
        check_against_config(described, args.config_path, str(path))

    import mindspore as ms

    from src.io_utils import save_checkpoint_atomic

    params = convert_state_dict(state, expected_parameters(described), source=str(path))
    tags = {"content": described.content, "arch": described.arch}
    if described.content == "full":
        tags.update(model=described.task, enable_dcn=str(described.enable_dcn))
    save_checkpoint_atomic([{"name": name, "data": ms.Tensor(value)} for name, value in params.items()],
                           args.output_path, append_dict=tags)
    trainable = sum(v.size for k, v in params.items() if "moving_" not in k)
    print(f"wrote {args.output_path}: {described.summary()}, {len(params)} tensors, {trainable} parameters; "
          f"ignored {len(ignored)} keys ({', '.join(sorted({key.rsplit('.', 1)[-1] for key in ignored}))})")
    return 0


if __name__ == "__main__":
    run(main)
