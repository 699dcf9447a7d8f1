"""Image in, faces out: pre-process, run a CenterFace network (Cell, GraphCell or onnxruntime), decode."""
import numpy as np

from src.inference.decode import decode
from src.inference.preprocess import make_input


class FaceDetector:
    """Runs one image at a time through `forward`, a callable mapping an NCHW float32 array to the four
    head arrays (heatmap, scale, offset, landmarks) as numpy."""

    def __init__(self, forward, input_size=None, score_thresh=0.5, top_k=200, nms="hard", nms_iou=0.3):
        self.forward = forward
        self.input_size = tuple(input_size) if input_size else None
        self.decode_kwargs = {"score_thresh": score_thresh, "top_k": top_k, "nms": nms, "nms_iou": nms_iou}

    def __call__(self, image_rgb, scale=1.0):
        chw, meta = make_input(image_rgb, input_size=self.input_size, scale=scale)
        heads = self.forward(chw[None])
        return decode(*(h[0] for h in heads), meta=meta, **self.decode_kwargs)


def mindspore_forward(network):
    """Wrap a MindSpore Cell (inference mode) as a numpy -> numpy forward function."""
    import mindspore as ms

    network.set_train(False)

    def forward(batch):
        return tuple(o.asnumpy() for o in network(ms.Tensor(np.ascontiguousarray(batch, dtype=np.float32))))
    return forward


def onnx_forward(session):
    """Wrap an onnxruntime session (single input, four outputs) as a numpy -> numpy forward function."""
    input_name = session.get_inputs()[0].name

    def forward(batch):
        return tuple(session.run(None, {input_name: np.ascontiguousarray(batch, dtype=np.float32)}))
    return forward
