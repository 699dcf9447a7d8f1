"""Export a network to MINDIR / ONNX / AIR; the ONNX is made size-independent and given the official contract.

ONNX goes through `mindspore.onnx.export`, the API MindSpore 2.10's warning names ("mindspore.export(
file_format='ONNX') will be deleted, please use mindspore.onnx.export()"). It names the input and outputs itself
(`input_names`, `output_names`), writes the file with normal permissions (the deprecated path made the file
read-only and chmod-ed the destination folder to 0700) and, like the old path, writes opset 11.

What MindSpore still writes and what `make_size_independent` changes (docs/design.md "Export"):
- every ConvTranspose carries `output_shape=[N, C, H, W]` of the export size and `auto_pad='VALID'`. The 4-element
  form is refused by onnxruntime; cut to `[H, W]` it loads but pins the size (a 640x640 export fails at 480x640:
  "Attempting to broadcast an axis by a dimension other than 1. 40 by 80") and OpenCV DNN 4.10 cannot parse it.
  The official centerface.onnx has no `output_shape` and explicit `pads=[0, 0, 0, 0]` (opset 9; k2 s2 gives
  exactly 2x), so the attribute is dropped, padding made explicit, and `output_padding` set only where the export
  size needs it (not for CenterFace): each deconvolution then takes its size from its input.
- `dynamic_axes` would only free the input; the graph outputs keep the export size. Both are rewritten to
  symbolic (N, C, H, W) / (N, C, h, w) dims in one place (`src.onnx_utils.make_dynamic`).
- a graph holding shape constants (Reshape, Resize, ...) would still compute at the export size whatever its
  declared dims say; such graphs are refused rather than exported with a false dynamic-size claim.
"""
import errno
import os
import tempfile
from pathlib import Path

import numpy as np

from dependency.atomic import WRITES, make_folder, reraise_naming
from src.onnx_utils import make_dynamic

EXTENSIONS = {"MINDIR": ".mindir", "ONNX": ".onnx", "AIR": ".air"}
# Operators whose outputs are sized by constants baked in at export time (shape tensors, scales, repeats).
SHAPE_BAKING_OPS = frozenset({"Reshape", "Expand", "Tile", "Resize", "Upsample", "ConstantOfShape", "Slice"})


def _attribute(node, name):
    return next((a for a in node.attribute if a.name == name), None)


def _remove_attribute(node, name):
    attr = _attribute(node, name)
    if attr is not None:
        node.attribute.remove(attr)


def _spatial_dims(value_info):
    return [d.dim_value for d in value_info.type.tensor_type.shape.dim][2:]


def _free_deconvolutions(model):
    """Drop ConvTranspose `output_shape`/`auto_pad` in favour of explicit `pads` (+ `output_padding` if needed).

    The model must still have the fixed export-size input: the sizes MindSpore recorded are compared with what
    the rewritten node computes at that size, and the difference (if any) becomes `output_padding`.
    """
    import onnx
    from onnx import helper

    recorded = {}
    for node in model.graph.node:
        if node.op_type != "ConvTranspose":
            continue
        rank = len(_attribute(node, "kernel_shape").ints)
        auto_pad = _attribute(node, "auto_pad")
        mode = auto_pad.s.decode() if auto_pad is not None else "NOTSET"
        if mode not in ("NOTSET", "VALID"):
            raise ValueError(f"ConvTranspose {node.name!r}: auto_pad {mode!r} is not supported; expected NOTSET or "
                             "VALID (explicit pads keep the layer size-independent)")
        output_shape = _attribute(node, "output_shape")
        if output_shape is not None:
            recorded[node.output[0]] = (node, list(output_shape.ints[-rank:]))
        _remove_attribute(node, "output_shape")
        _remove_attribute(node, "auto_pad")
        if _attribute(node, "pads") is None:  # VALID and the NOTSET default both mean no padding
            node.attribute.append(helper.make_attribute("pads", [0] * (2 * rank)))
    if not recorded:
        return model
    # Infer on a copy whose recorded shapes are cleared: they hold the sizes being checked.
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.value_info[:]
    for output in probe.graph.output:
        output.type.tensor_type.ClearField("shape")
    inferred = onnx.shape_inference.infer_shapes(probe, strict_mode=True)
    computed = {v.name: _spatial_dims(v) for v in inferred.graph.value_info}
    computed.update({v.name: _spatial_dims(v) for v in inferred.graph.output})
    for name, (node, wanted) in recorded.items():
        extra = [w - c for w, c in zip(wanted, computed[name])]
        strides = list(_attribute(node, "strides").ints) if _attribute(node, "strides") else [1] * len(wanted)
        if any(e < 0 or e >= s for e, s in zip(extra, strides)):
            raise ValueError(f"ConvTranspose {node.name!r}: output_shape {wanted} cannot be reached from the computed "
                             f"{computed[name]} with 0 <= output_padding < stride {strides}")
        if any(extra):
            _remove_attribute(node, "output_padding")
            node.attribute.append(helper.make_attribute("output_padding", extra))
    return model


def make_size_independent(model):
    """Rewrite a fixed-size ONNX ModelProto from MindSpore so it runs at any input size and batch; returns it.

    Raises ValueError if the graph holds operators sized by export-time constants (`SHAPE_BAKING_OPS`).
    """
    baked = sorted({n.op_type for n in model.graph.node} & SHAPE_BAKING_OPS)
    if baked:
        raise ValueError(f"ONNX graph holds {', '.join(baked)}: their shape constants come from the export size, so "
                         "the model cannot be made size-independent")
    model = _free_deconvolutions(model)
    del model.graph.value_info[:]  # shapes inferred at the export size would contradict the symbolic dims
    return make_dynamic(model)


def _export_onnx(network, dummy, out, names=None, dynamic=True):
    """mindspore.onnx.export into a private temporary folder, then the size-independent rewrite, written atomically.

    The temporary folder also keeps `out` away from MindSpore's file-name check (letters, digits and `@_-.:/\\`
    only): an output path with a space or a non-ASCII letter still works.
    """
    import mindspore as ms
    import onnx

    from src.io_utils import atomic_write_bytes

    wanted = ([names[0]], list(names[1])) if names is not None else None
    with tempfile.TemporaryDirectory(prefix="onnx_export_") as tmp:
        raw = Path(tmp) / "raw.onnx"
        ms.onnx.export(network, dummy, file_name=str(raw),
                       **({"input_names": wanted[0], "output_names": wanted[1]} if wanted else {}))
        if not raw.is_file():  # mindspore.onnx.export logs write errors instead of raising them
            raise OSError(errno.EIO, "mindspore.onnx.export could not write its temporary file there (disk full or "
                          "not writable? its log line above says why; TMPDIR picks another folder)",
                          tempfile.gettempdir())
        model = onnx.load(str(raw))
    if wanted:
        got = ([i.name for i in model.graph.input], [o.name for o in model.graph.output])
        if got != wanted:
            raise RuntimeError(f"mindspore.onnx.export named inputs/outputs {got}; expected {wanted}")
    # dynamic=False keeps the export size (OpenCV DNN 4.10 cannot infer the shapes of some graphs with symbolic
    # dims, e.g. CenterNet pose's IDAUp sums); the deconvolutions are freed either way.
    model = make_size_independent(model) if dynamic else _free_deconvolutions(model)
    onnx.checker.check_model(model, full_check=True)  # full_check also runs strict shape inference
    atomic_write_bytes(out, model.SerializeToString())


def _refuse_deformable_convs(network):
    """ValueError naming the first deformable conv of `network` (any task's): MindSpore 2.10 does not export its
    DeformableOffsets op to ONNX, and ONNX opset 11 / onnxruntime have no deformable convolution."""
    from src.models.dcn import ModulatedDeformConv2d

    layers = [name for name, cell in network.cells_and_names() if isinstance(cell, ModulatedDeformConv2d)]
    if layers:
        raise ValueError(f"ONNX cannot hold the {len(layers)} deformable convs of this network (first: {layers[0]}): "
                         "MindSpore does not export DeformableOffsets and ONNX has no deformable conv; export "
                         "MINDIR, or the network built with enable_dcn False (plain 3x3 convs)")


def export_network(network, file_name, file_format, input_shape, device_target="CPU", names=None,
                   fold_bn=True, dynamic=True):
    """Export `network` for an input of `input_shape` (N, 3, H, W); returns the written path.

    With `fold_bn` (default) BatchNorm is folded into the convolutions first (in place: the network is for
    inference afterwards), giving the graph of the official BN-merged model. MINDIR and AIR keep the given shape;
    ONNX runs at any batch and any H, W multiple of 32 (`input_shape` only traces the graph; `dynamic=False` keeps
    it at `input_shape`). `names`: (input name, output names) of the ONNX graph (the task's `input_name` and
    `output_names`), or None for MindSpore's own.
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
    if file_format == "ONNX":
        _refuse_deformable_convs(network)
    network.set_train(False)
    if fold_bn:
        fold_batchnorm(network)
    out = Path(f"{file_name}{EXTENSIONS[file_format]}")
    make_folder(out.parent)
    dummy = ms.Tensor(np.zeros(input_shape, np.float32))
    if file_format == "ONNX":
        _export_onnx(network, dummy, out, names, dynamic)
        return out
    # Export under a temporary name, then move: a crash never leaves a truncated model behind.
    tmp_stem = out.parent / f".{out.stem}.{os.getpid()}.part"
    tmp = Path(f"{tmp_stem}{EXTENSIONS[file_format]}")
    with WRITES:
        try:
            ms.export(network, dummy, file_name=str(tmp_stem), file_format=file_format)
            os.replace(tmp, out)
        except OSError as err:  # name the model file, not the temporary (full disk, read-only folder)
            reraise_naming(err, out)
        finally:
            if tmp.exists():
                tmp.unlink()
    return out
