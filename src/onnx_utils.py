"""onnxruntime helpers for the official model and our exported ONNX files."""
from pathlib import Path


def make_dynamic(model):
    """Rewrite the batch and spatial dims of the first input (and of all outputs) to symbolic ones; returns `model`.

    The official CenterFace file declares a fixed 10x3x32x32 input and MindSpore's export the export size;
    onnxruntime would refuse any other input. Input dims become (N, C, H, W), output dims (N, C, h, w).
    """
    for value, names in ((model.graph.input[:1], ("N", None, "H", "W")),
                         (model.graph.output, ("N", None, "h", "w"))):
        for v in value:
            for dim, name in zip(v.type.tensor_type.shape.dim, names):
                if name is not None:
                    dim.ClearField("dim_value")
                    dim.dim_param = name
    return model


def ort_session(onnx_path, num_threads=None, dynamic=True, spinning=True):
    """An onnxruntime CPU session; `num_threads` pins intra-op threads (benchmarks compare like with like);
    `spinning=False` makes idle intra-op threads sleep instead of spin (faster on a CPU shared with other work)."""
    import onnx
    import onnxruntime as ort

    if not Path(onnx_path).is_file():
        raise FileNotFoundError(f"ONNX model {onnx_path}: no such file")
    model = onnx.load(str(onnx_path))
    if dynamic:
        model = make_dynamic(model)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # the official file carries unused BN initializers that trigger warnings
    if num_threads:
        opts.intra_op_num_threads = num_threads
        opts.inter_op_num_threads = 1
    if not spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
