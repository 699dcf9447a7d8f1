"""The seam between a model and the shared machinery: what a task provides.

The machinery (config, device set-up, `src/engine/` training, `src/inference/` test-time passes and the
build-load-fold-kernels sequence, `src/evaluation/` checkpoint sweeps and the offline 310 chain, export)
knows nothing of faces or people. It asks a `Task` for:

=====================  ===========================================================================================
network                `build_network(cfg)` (training form, with BatchNorm); `heads`: the network's outputs in
                       order as (name, channels); `output_stride`; `backbone_prefix` (parameter names an ImageNet
                       backbone checkpoint fills); `checkpoint_prefixes` (wrapper prefixes of older checkpoints);
                       `onnx_names(cfg)` (graph names of an ONNX export)
training data           `check_train_inputs(cfg)` (before MindSpore loads); `training_source(cfg, logger)`: a random-
                       access source (`len`, `source[i]` -> tuple of arrays named `column_names`, `set_epoch`,
                       `seed`) that `src/data/dataset.py` batches and shards
loss                   `build_loss(cfg)`: a Cell `(*network outputs, *targets) -> (total, *components)`;
                       `loss_components`: the component names logged per epoch
inference              `make_input(image_rgb, one_pass, options)` -> (CHW float32, InputMeta); `decode(heads, meta,
                       options)` -> Detections in original pixels (no NMS); `merge(passes' detections, options)`
                       -> the image's result (NMS, best K); `flip_in_batch`: the flip test runs in one batch and
                       merges the maps (CenterNet) instead of merging flipped detections (CenterFace)
results                `keypoints` (KeypointSchema); `to_json(dets, image_name)`: predict.py's record;
                       `draw(image, dets)`
evaluation             `eval_set(cfg)`: the images of a test run, a result writer and the evaluator
options                `inference_options(cfg, purpose)`: InferenceOptions of predict.py ("predict") or of
                       test.py / eval.py / the offline chain ("test")
=====================  ===========================================================================================

`run_pass` and `detect` are generic and rarely overridden. A task object is bound to the resolved config of the
run (`self.cfg`, from `src.tasks.get_task(cfg)`); methods that take `cfg` use the one they are given.
"""
from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np

__all__ = ["Task"]


class Task:
    """Base class of a model's task; subclasses fill the attributes and the methods marked abstract."""

    name: str = ""
    keypoints = None  # KeypointSchema
    heads: Tuple[Tuple[str, int], ...] = ()
    output_stride: int = 4
    backbone_prefix: str = "backbone."
    checkpoint_prefixes: Tuple[str, ...] = ()
    loss_components: Tuple[str, ...] = ()
    flip_in_batch: bool = False

    def __init__(self, cfg=None):
        self.cfg = cfg

    @property
    def bound_cfg(self):
        """The config this task is bound to (an error for an unbound task)."""
        if self.cfg is None:
            raise RuntimeError(f"task {self.name}: bind it to a config first (src.tasks.get_task(cfg))")
        return self.cfg

    # ------------------------------------------------------------------ network
    def build_network(self, cfg):
        """The network in training form (BatchNorm unfolded), weights initialised, for `cfg`."""
        raise NotImplementedError

    def onnx_names(self, cfg):
        """(input name, output names) an exported ONNX graph gets, or None to keep MindSpore's."""
        return None

    def check_export(self, cfg, file_format):
        """Raise a one-line error when this configuration cannot be exported to `file_format`."""

    # ------------------------------------------------------------------ training
    def check_train_inputs(self, cfg) -> None:
        """Check the training paths and sizes of `cfg` before anything heavy starts (raise one-line errors)."""
        raise NotImplementedError

    def training_source(self, cfg, logger):
        """The random-access training source (see the module docstring)."""
        raise NotImplementedError

    def build_loss(self, cfg):
        """The loss Cell; returns (total, *components) with `loss_components` names."""
        raise NotImplementedError

    # ------------------------------------------------------------------ inference
    def inference_options(self, cfg, purpose: str):
        """InferenceOptions for "predict" or "test" from the config keys of this task."""
        raise NotImplementedError

    def make_input(self, image: np.ndarray, one_pass, options):
        """(3, H, W) float32 network input of an RGB uint8 image for one pass, and its InputMeta."""
        raise NotImplementedError

    def decode(self, heads: Sequence[np.ndarray], meta, options):
        """Detections (original-image pixels, no NMS) of one image's head outputs (each (C, h, w))."""
        raise NotImplementedError

    def run_pass(self, forward, image: np.ndarray, one_pass, options):
        """One pass over an image: input, network, decode, mapped back to the original unflipped image.

        Default (flip as a separate pass): a flipped pass runs on the mirrored image and its detections are
        mirrored back. Tasks with `flip_in_batch` override this to run [image, mirrored] as one batch.
        """
        from src.inference.detections import flip_detections

        source = np.ascontiguousarray(image[:, ::-1]) if one_pass.flip else image
        chw, meta = self.make_input(source, one_pass, options)
        heads = forward(chw[None])
        dets = self.decode([h[0] for h in heads], meta, options)
        return flip_detections(dets, image.shape[1], self.keypoints) if one_pass.flip else dets

    def merge(self, detections, options):
        """One image's detections of all its passes (original pixels) -> the result: the options' NMS, best
        first, at most `options.top_k` (a model with another rule overrides this; the offline chain uses it too)."""
        from src.inference.passes import merge_passes

        return merge_passes(detections, options)

    def detect(self, forward, image: np.ndarray, options, passes=None):
        """Detections of one RGB image: every test-time pass through `forward` (NCHW float32 -> head arrays),
        merged by `merge`."""
        from src.inference.passes import plan_passes

        passes = passes or plan_passes(options, self.flip_in_batch)
        return self.merge([self.run_pass(forward, image, p, options) for p in passes], options)

    # ------------------------------------------------------------------ results
    def to_json(self, dets, image_name: str) -> Dict[str, object]:
        """predict.py's JSON record of one image."""
        raise NotImplementedError

    def draw(self, image: np.ndarray, dets) -> np.ndarray:
        """A copy of the RGB image with the detections drawn."""
        from src.inference.draw import draw_detections

        return draw_detections(image, dets, self.keypoints)

    # ------------------------------------------------------------------ evaluation
    def eval_set(self, cfg, need_images=True):
        """The evaluation images, result writer and evaluator of `cfg` (see src/evaluation/eval_set.py);
        `need_images=False` when only existing results are evaluated."""
        raise NotImplementedError

    def __repr__(self):
        return f"<task {self.name}>"
