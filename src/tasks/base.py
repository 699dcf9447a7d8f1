"""The seam between a model and the shared machinery: what a task is and what it provides.

A task is one model with its data and evaluation, built from the resolved config of a run
(`src.tasks.get_task(cfg)`). Its constructor computes, once, everything the machinery needs to know about the
model's outputs, and every consumer reads them from there (network construction, loss, decode, flip merge,
export, the offline chain):

=====================  ===========================================================================================
``heads``              the network's outputs in order, ((name, channels), ...), from `head_list()`
``head_names``         their names
``keypoints``          the KeypointSchema of the points an object carries (`keypoint_schema()`; none: 0 points)
``output_stride``      input pixels per output cell (the config key `output_stride`)
``input_name``         names of the exported graph's input and outputs (`graph_names()`; ONNX; default "input"
``output_names``       and the head names)
=====================  ===========================================================================================

The machinery (config, device set-up, `src/engine/` training, `src/inference/` test-time passes,
`src/evaluation/` checkpoint sweeps and the offline chain, export) knows nothing of faces or people. It calls:

=====================  ===========================================================================================
network                `build_network()` (training form, with BatchNorm); `backbone_prefix` (the prefixes of the
                       parameter names an ImageNet backbone checkpoint fills); `checkpoint_prefixes` (wrapper prefixes of older
                       checkpoints); `check_export(file_format)`
training               `check_train_inputs()` (before MindSpore loads); `training_source(logger)`: a random-access
                       source (`len`, `source[i]` -> tuple of arrays, `set_epoch`, `seed`) that
                       `src/data/dataset.py` batches and shards; `build_loss()`: a Cell `(*network outputs,
                       *targets) -> (total, *components)`; `loss_components`: the component names logged;
                       `training_memory()`: the measured memory line of a training run on CPU
                       (src/engine/memory.py; optional)
inference              `inference_options(purpose)` ("predict": predict.py; "test": test.py, eval.py, the offline
                       chain); `detect(forward, image, options)` runs every test-time pass (`run_pass`) and
                       `merge`s them (the one NMS over all passes); `decode(outputs, meta, options)` turns one
                       image's raw outputs into Detections (the offline chain calls it on the runner's files,
                       then `merge`)
results                `to_json(dets, image_name)`: predict.py's record; `draw(image, dets)`
evaluation             `eval_set(need_images)`: the images of a test run, a result writer and the evaluator;
                       `headline_aps(metrics)`: the APs its metrics are judged by, in one form for every model
data                   `synthetic_dataset(folder, ...)`: a small generated data set of the model's kind (exact
                       ground truth) and the config values pointing a run at it (smoke runs, the contract test
                       tests/tasks/test_contract.py)
=====================  ===========================================================================================

What a model writes (the rest is generic and rarely overridden):

* facts: `name`, `head_list()`, `check_config()`, and `keypoint_schema()` / `graph_names()` when not the defaults (no points;
  "input" and the head names);
* `build_network`, `check_train_inputs`, `training_source`, `build_loss`, `eval_set`, `headline_aps`,
  `synthetic_dataset`, `to_json` (and `training_memory` once measured);
* inference: `pass_options(purpose)` (input size, test scales and what else differs from the shared inference
  keys), `make_input(image, one_pass, options)` (the model's input normalisation and placement),
  `decode_maps(maps, meta, options)`; `head_maps(outputs)` when its raw outputs need a transform before
  decoding (a sigmoid); with `flip_in_batch`, `merge_flip(outputs)`: the flip test then feeds [image, mirrored
  image] as one batch and merges the maps (CenterNet), instead of mirroring the flipped pass's detections
  back (CenterFace).

A config contradiction the task finds (options that cannot coexist: `check_config()`; a keypoint schema that
does not fit) is a ConfigError raised by the constructor, i.e. right after the config is parsed. docs/adding_a_model.md walks
through adding a model.
"""
from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np

from src.model_utils.config import ConfigError

__all__ = ["Task"]

DEFAULT_INPUT_NAME = "input"


class Task:
    """Base class of a model's task, built from the resolved config (`self.cfg`)."""

    name: str = ""
    backbone_prefix: Tuple[str, ...] = ("backbone.",)  # str.startswith takes the tuple
    checkpoint_prefixes: Tuple[str, ...] = ()
    loss_components: Tuple[str, ...] = ()
    flip_in_batch: bool = False
    min_keypoint_score: float = 0.0  # drawing: points scoring below are not drawn (when the model scores them)

    def __init__(self, cfg):
        self.cfg = cfg
        self.check_config()
        self.keypoints = self.keypoint_schema()
        self.heads = tuple((str(name), int(channels)) for name, channels in self.head_list())
        self.head_names = tuple(name for name, _ in self.heads)
        if not self.heads or len(set(self.head_names)) != len(self.heads) or min(c for _, c in self.heads) < 1:
            raise ConfigError(f"task {self.name}: heads {list(self.heads)}: expected uniquely named heads with at "
                              "least one channel each")
        input_name, output_names = self.graph_names()
        self.input_name, self.output_names = str(input_name), tuple(str(n) for n in output_names)
        if len(self.output_names) != len(self.heads):
            raise ConfigError(f"task {self.name}: {len(self.output_names)} graph output names for "
                              f"{len(self.heads)} heads")

    # ------------------------------------------------------------------ facts of the config
    def check_config(self) -> None:
        """Raise a one-line ConfigError for values that cannot go together (the config's checks see one key at a
        time)."""

    @property
    def output_stride(self) -> int:
        """Input pixels per output cell of every head."""
        return self.cfg.output_stride

    def head_list(self) -> Sequence[Tuple[str, int]]:
        """The network's outputs in order as (name, channels), for `self.cfg`."""
        raise NotImplementedError

    def keypoint_schema(self):
        """The KeypointSchema of the points each object carries, for `self.cfg` (default: none, boxes only)."""
        from src.data.keypoints import NO_KEYPOINTS

        return NO_KEYPOINTS

    def graph_names(self) -> Tuple[str, Sequence[str]]:
        """(input name, output names) of an exported graph: "input" and the head names unless a model has a
        published contract to keep."""
        return DEFAULT_INPUT_NAME, self.head_names

    # ------------------------------------------------------------------ network
    def build_network(self):
        """The network in training form (BatchNorm unfolded), weights initialised, outputs `self.heads`."""
        raise NotImplementedError

    def check_export(self, file_format: str) -> None:
        """Raise a one-line ConfigError when this configuration cannot be exported to `file_format`."""

    # ------------------------------------------------------------------ training
    def check_train_inputs(self) -> None:
        """Check the training paths and sizes before anything heavy starts (raise one-line errors)."""
        raise NotImplementedError

    def training_source(self, logger):
        """The random-access training source (see the module docstring)."""
        raise NotImplementedError

    def training_memory(self):
        """The `src.engine.memory.MemoryModel` of training this configuration on CPU (measured peak per batch
        pixel), or None (not estimated)."""
        return None

    def build_loss(self):
        """The loss Cell; returns (total, *components) with `loss_components` names."""
        raise NotImplementedError

    # ------------------------------------------------------------------ inference
    def inference_options(self, purpose: str):
        """InferenceOptions for "predict" or "test": the shared inference keys (flip_test, score_thresh, top_k,
        nms, nms_iou, soft_sigma, max_input_side) with the model's `pass_options(purpose)` laid over them."""
        from src.inference.passes import InferenceOptions

        cfg = self.cfg
        options = dict(flip=cfg.flip_test, score_thresh=cfg.score_thresh, top_k=cfg.top_k, nms=cfg.nms,
                       nms_iou=cfg.nms_iou, soft_sigma=cfg.soft_sigma, max_input_side=cfg.max_input_side or None)
        options.update(self.pass_options(purpose))
        return InferenceOptions(**options)

    def pass_options(self, purpose: str) -> Dict[str, object]:
        """The model's InferenceOptions fields for `purpose`: `input_size`, `fit_scale`, `scales`, and any
        shared field it sets otherwise."""
        raise NotImplementedError

    def make_input(self, image: np.ndarray, one_pass, options):
        """(3, H, W) float32 network input of an RGB uint8 image for one pass, and its InputMeta."""
        raise NotImplementedError

    def head_maps(self, outputs: Sequence[np.ndarray]):
        """The maps `decode_maps` reads, from the raw outputs of one pass of one image (each (1, C, h, w), in
        `heads` order). Default: the outputs without the batch dimension."""
        return [output[0] for output in outputs]

    def merge_flip(self, outputs: Sequence[np.ndarray]):
        """With `flip_in_batch`: the maps `decode_maps` reads, from the raw outputs of the batch [image, image
        mirrored left-right] (each (2, C, h, w))."""
        raise NotImplementedError

    def decode_maps(self, maps, meta, options):
        """Detections (original-image pixels, no NMS) of one image's maps (from `head_maps` / `merge_flip`)."""
        raise NotImplementedError

    def decode(self, outputs: Sequence[np.ndarray], meta, options):
        """Detections (original-image pixels, no NMS) of one image's raw network outputs (each (1, C, h, w))."""
        return self.decode_maps(self.head_maps(outputs), meta, options)

    def run_pass(self, forward, image: np.ndarray, one_pass, options):
        """One pass over an image: input, network, decode, mapped back to the original unflipped image.

        A flipped pass runs the mirrored image and mirrors its detections back; for `flip_in_batch` tasks it
        runs [image, mirrored image] as one batch whose maps `merge_flip` merges.
        """
        from src.inference.detections import flip_detections
        from src.inference.preprocess import flip_batch

        if one_pass.flip and self.flip_in_batch:
            chw, meta = self.make_input(image, one_pass, options)
            return self.decode_maps(self.merge_flip(forward(flip_batch(chw))), meta, options)
        source = np.ascontiguousarray(image[:, ::-1]) if one_pass.flip else image
        chw, meta = self.make_input(source, one_pass, options)
        dets = self.decode(forward(chw[None]), meta, options)
        return flip_detections(dets, image.shape[1], self.keypoints) if one_pass.flip else dets

    def merge(self, detections, options):
        """One image's detections of all its passes (original pixels) -> its result: the options' NMS over all
        passes, best first, at most `options.top_k`. A model whose original merges otherwise overrides it (CenterNet
        detection: per-class NMS, then the best K with ties kept); the offline chain merges through it too."""
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

        return draw_detections(image, dets, self.keypoints, min_keypoint_score=self.min_keypoint_score)

    # ------------------------------------------------------------------ evaluation
    def eval_set(self, need_images: bool = True):
        """The evaluation images, result writer and evaluator (see src/evaluation/eval_set.py);
        `need_images=False` when only existing results are evaluated or written."""
        raise NotImplementedError

    def headline_aps(self, metrics) -> Dict[str, float]:
        """The APs (each in [0, 1]) by which `eval_set().evaluate(out_dir)`'s `metrics` are reported and compared,
        name -> value, in the order the model's tables give them."""
        raise NotImplementedError

    # ------------------------------------------------------------------ data
    def synthetic_dataset(self, folder, num_train: int, num_val: int, image_size: int,
                          seed: int = 0) -> Dict[str, str]:
        """Write a generated data set of this model's kind into the new folder `folder`: `num_train` training
        and `num_val` evaluation images about `image_size` pixels wide, with exactly known ground truth (the
        generators of src/data/). Returns the config values (key -> command-line text) that point a run at it:
        its training source and its evaluation set."""
        raise NotImplementedError

    def __repr__(self):
        return f"<task {self.name}: {', '.join(f'{n} {c}' for n, c in self.heads)}>"
