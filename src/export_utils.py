"""Export a network to MINDIR / ONNX / AIR, with the ONNX fixed up for onnxruntime and the official contract.

MindSpore 2.10 writes every ConvTranspose with `output_shape=[N, C, H, W]`; ONNX wants only the spatial
dims and onnxruntime refuses the file ("Attribute output_shape has incorrect size", DESIGN.md §1), so the
attribute is rewritten to `[H, W]`. With `official_names`, the input becomes `input.1` and the outputs
`537..540`, the names tools built around the official centerface.onnx look up.
"""
import os
from pathlib import Path

import numpy as np

from src.onnx_utils import OFFICIAL_INPUT, OFFICIAL_OUTPUTS

EXTENSIONS = {"MINDIR": ".mindir", "ONNX": ".onnx", "AIR": ".air"}


def fix_onnx(path, official_names=False):
    """Rewrite ConvTranspose output_shape to [H, W] and optionally rename input/outputs; in place, atomic."""
    import onnx

    from src.io_utils import atomic_write_bytes

    model = onnx.load(str(path))
    for node in model.graph.node:
        if node.op_type != "ConvTranspose":
            continue
        for attr in node.attribute:
            if attr.name == "output_shape" and len(attr.ints) == 4:
                spatial = list(attr.ints[2:])
                del attr.ints[:]
                attr.ints.extend(spatial)
    if official_names:
        renames = {model.graph.input[0].name: OFFICIAL_INPUT}
        renames.update({o.name: new for o, new in zip(model.graph.output, OFFICIAL_OUTPUTS)})
        for value in list(model.graph.input) + list(model.graph.output):
            value.name = renames.get(value.name, value.name)
        for node in model.graph.node:
            for i, name in enumerate(node.input):
                node.input[i] = renames.get(name, name)
            for i, name in enumerate(node.output):
                node.output[i] = renames.get(name, name)
    onnx.checker.check_model(model)
    atomic_write_bytes(path, model.SerializeToString())


def export_network(network, file_name, file_format, input_shape, device_target="CPU", official_names=True,
                   fold_bn=True):
    """Export `network` for an input of `input_shape` (N, 3, H, W); returns the written path.

    With `fold_bn` (default) BatchNorm is folded into the convolutions first (in place: the network is for
    inference afterwards), giving the graph of the official BN-merged model.
    """
    import mindspore as ms

    from src.models.fold_bn import fold_batchnorm

    file_format = file_format.upper()
    if file_format not in EXTENSIONS:
        raise ValueError(f"file_format: expected one of {sorted(EXTENSIONS)}, got {file_format!r}")
    if file_format == "AIR" and device_target != "Ascend":
        raise ValueError("file_format AIR can only be exported on an Ascend device (--device_target Ascend); "
                         "use MINDIR or ONNX here")
    n, c, h, w = input_shape
    if c != 3 or h % 32 or w % 32 or n < 1:
        raise ValueError(f"input shape {tuple(input_shape)}: expected (N>=1, 3, H, W) with H and W multiples of 32")
    network.set_train(False)
    if fold_bn:
        fold_batchnorm(network)
    out = Path(f"{file_name}{EXTENSIONS[file_format]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    # Export under a temporary name, then move: a crash never leaves a truncated model behind.
    tmp_stem = out.parent / f".{out.stem}.{os.getpid()}.part"
    dummy = ms.Tensor(np.zeros(input_shape, np.float32))
    ms.export(network, dummy, file_name=str(tmp_stem), file_format=file_format)
    tmp = Path(f"{tmp_stem}{EXTENSIONS[file_format]}")
    try:
        if file_format == "ONNX":
            fix_onnx(tmp, official_names)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out
