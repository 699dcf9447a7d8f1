"""CenterFace over the WIDER FACE validation images: the work behind test.py, one checkpoint at a time.

* Images: the list (and order) of the ground-truth ``wider_face_val.mat``, read from
  ``<data_dir>/<event>/<stem>.jpg`` (:func:`list_wider_images`).
* Checkpoints: one file, or the epochs ``start..end`` of a folder of ``0-{epoch}_{step}.ckpt`` files, as the
  old zoo's test_distribute.sh sweeps them (:func:`select_checkpoints`).
* Test-time passes (:class:`InferenceOptions`, :func:`plan_passes`): by default the old zoo's single pass, the image
  fitted into an 832x832 canvas at scale 0.999 (one input shape, so one graph compilation). Multi-scale
  multiplies the canvas (or, with no canvas, the original size) by each of ``scales``; flip adds a horizontally
  flipped copy of every pass. Every pass is decoded without NMS and mapped back to original pixels (flipped
  passes through :func:`~src.inference.decode.flip_detections`); one NMS (hard or soft) over all passes gives
  the result, so Soft-NMS decays each score once.
* Results (:func:`write_results`): ``<out>/<event>/<stem>.txt`` in the WIDER format (stem, the true count,
  ``x y w h score`` sorted by score) and ``<out>/<event>/<stem>.json`` with boxes, scores and the 5 landmarks.

The network is built once with BatchNorm folded; each checkpoint's folded weights are copied into it, so a
sweep over many checkpoints compiles the graph once per input shape, not once per checkpoint.
"""
from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from dependency.evaluate.ground_truth import VAL_FILE, load_ground_truth
from src.inference.decode import NMS_METHODS, Detections, decode, detections_to_json, flip_detections, \
    merge_detections
from src.inference.preprocess import InputMeta, make_input
from src.io_utils import atomic_write_bytes, write_json_atomic

LOG = logging.getLogger("centerface")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
CHECKPOINT_NAME = re.compile(r"^(\d+)-(\d+)_(\d+)\.ckpt$")
INPUT_MULTIPLE = 32  # network inputs must be multiples of the backbone stride
TEST_INFO = "test_info.json"

Forward = Callable[[np.ndarray], Sequence[np.ndarray]]


# ---------------------------------------------------------------- images and checkpoints

@dataclass(frozen=True)
class WiderImage:
    """One validation image: prediction file ``<out>/<event>/<stem>.txt``, pixels at ``path``."""
    event: str
    stem: str
    path: Path


def resolve_gt_dir(ground_truth_path) -> Path:
    """The folder of the WIDER .mat files, given that folder or one of the .mat files in it."""
    path = Path(ground_truth_path)
    if path.is_file() and path.suffix == ".mat":
        return path.parent
    if path.is_dir():
        return path
    raise FileNotFoundError(f"ground truth {path}: no such folder or .mat file; expected the folder holding "
                            f"{VAL_FILE} (or that file)")


def list_wider_images(data_dir, ground_truth_path) -> List[WiderImage]:
    """Every image of the ground truth, in its order, located under ``<data_dir>/<event>/``.

    An image file that does not exist is kept in the list (it is reported and counted when read); a folder
    holding none of the images is an error, as it means a wrong ``data_dir``.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data_dir {data_dir}: no such folder; expected WIDER val images laid out "
                                f"<data_dir>/<event>/<name>.jpg")
    gt = load_ground_truth(resolve_gt_dir(ground_truth_path), settings=())
    images, found = [], 0
    for event, stem in zip(gt.events, gt.stems):
        candidates = [data_dir / event / f"{stem}{suffix}" for suffix in IMAGE_SUFFIXES]
        path = next((c for c in candidates if c.is_file()), candidates[0])
        found += path.is_file()
        images.append(WiderImage(event, stem, path))
    if images and not found:
        raise FileNotFoundError(f"data_dir {data_dir}: none of the {len(images)} ground-truth images found "
                                f"(e.g. {images[0].path}); expected <data_dir>/<event>/<name>.jpg")
    return images


def select_checkpoints(ckpt_path, start: int = 0, end: int = -1) -> List[Path]:
    """``[ckpt_path]`` for a file; for a folder, its rank-0 ``0-{epoch}_{step}.ckpt`` files with
    ``start <= epoch <= end`` (``end < 0``: no upper limit), ordered by epoch then step.

    Other ranks' files are left out: data-parallel replicas hold the same weights.
    """
    path = Path(ckpt_path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"ckpt_path {path}: no such checkpoint file or folder")
    if end >= 0 and end < start:
        raise ValueError(f"epoch range start={start} > end={end}; expected start <= end (end < 0: no limit)")
    found = []
    for entry in path.iterdir():
        match = CHECKPOINT_NAME.match(entry.name)
        if match and entry.is_file():
            rank, epoch, step = (int(g) for g in match.groups())
            if rank == 0 and epoch >= start and (end < 0 or epoch <= end):
                found.append((epoch, step, entry))
    if not found:
        upper = "last" if end < 0 else end
        raise FileNotFoundError(f"ckpt_path {path}: no 0-{{epoch}}_{{step}}.ckpt file with epoch in {start}..{upper}")
    return [entry for *_, entry in sorted(found)]


def read_rgb(path) -> Optional[np.ndarray]:
    """(h, w, 3) uint8 RGB, or None when the file is missing or cannot be decoded."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


# ---------------------------------------------------------------- test-time passes

def _round_up(value: float, multiple: int = INPUT_MULTIPLE) -> int:
    return max(multiple, int(-(-round(value) // multiple) * multiple))


@dataclass(frozen=True)
class InferenceOptions:
    """How each image is tested.

    input_size: (H, W) canvas the image is fitted into (times `fit_scale`), or None for the original size.
    scales: one pass per scale, multiplying the canvas size, or the original size when `input_size` is None.
    flip: also run every pass on the horizontally flipped image.
    score_thresh, top_k: heatmap peaks kept per pass; top_k also caps the merged result.
    nms, nms_iou, soft_sigma: the one NMS over all passes (see src.inference.decode.apply_nms).
    """
    input_size: Optional[Tuple[int, int]] = (832, 832)
    fit_scale: float = 0.999
    scales: Tuple[float, ...] = (1.0,)
    flip: bool = False
    score_thresh: float = 0.02
    top_k: int = 1000
    nms: str = "hard"
    nms_iou: float = 0.3
    soft_sigma: float = 0.5

    def __post_init__(self):
        if self.input_size is not None:
            size = tuple(int(v) for v in self.input_size)
            if len(size) != 2 or min(size) < INPUT_MULTIPLE or any(v % INPUT_MULTIPLE for v in size):
                raise ValueError(f"test_input_size {list(self.input_size)}: expected [H, W], multiples of "
                                 f"{INPUT_MULTIPLE}, or [] for the original image size")
            object.__setattr__(self, "input_size", size)
        scales = tuple(float(s) for s in self.scales)
        if not scales or min(scales) <= 0 or not np.isfinite(scales).all():
            raise ValueError(f"test_scales {list(self.scales)}: expected one or more positive numbers")
        object.__setattr__(self, "scales", scales)
        if not 0 < self.fit_scale <= 1:
            raise ValueError(f"test_scale {self.fit_scale}: expected a number in (0, 1] (zoo: 0.999)")
        if self.nms not in NMS_METHODS:
            raise ValueError(f"nms {self.nms!r}: expected one of {NMS_METHODS}")
        if int(self.top_k) < 1:
            raise ValueError(f"test_top_k {self.top_k}: expected a positive integer")
        if not 0 <= self.score_thresh < 1:
            raise ValueError(f"test_score_thresh {self.score_thresh}: expected a number in [0, 1)")

    @classmethod
    def from_config(cls, cfg) -> "InferenceOptions":
        """Options from the test.py keys of default_config.yaml."""
        return cls(input_size=tuple(cfg.test_input_size) or None, fit_scale=cfg.test_scale,
                   scales=tuple(cfg.test_scales) if cfg.multi_scale else (1.0,), flip=cfg.flip_test,
                   score_thresh=cfg.test_score_thresh, top_k=cfg.test_top_k, nms=cfg.nms, nms_iou=cfg.nms_iou,
                   soft_sigma=cfg.soft_sigma)

    @property
    def shapes_vary(self) -> bool:
        """True when inputs can take more than one shape (original sizes, or several scales)."""
        return self.input_size is None or len(set(self.canvas(s) for s in self.scales)) > 1

    def canvas(self, scale: float) -> Optional[Tuple[int, int]]:
        """The canvas of the pass at `scale` (None: original size times `scale`)."""
        if self.input_size is None:
            return None
        return _round_up(self.input_size[0] * scale), _round_up(self.input_size[1] * scale)


@dataclass(frozen=True)
class InferencePass:
    """One network run: make_input(image flipped or not, input_size, scale)."""
    input_size: Optional[Tuple[int, int]]
    scale: float
    flip: bool


def plan_passes(options: InferenceOptions) -> List[InferencePass]:
    """The passes of one image, scale by scale, each followed by its flipped twin when `options.flip`."""
    passes = []
    for scale in options.scales:
        canvas = options.canvas(scale)
        image_scale = options.fit_scale if canvas is not None else scale
        for flip in ((False, True) if options.flip else (False,)):
            passes.append(InferencePass(canvas, image_scale, flip))
    return passes


def pass_input(image: np.ndarray, one_pass: InferencePass) -> Tuple[np.ndarray, InputMeta]:
    """(3, H, W) float32 input and its InputMeta; a flipped pass flips the original image first, so its meta
    maps to flipped-image pixels."""
    source = np.ascontiguousarray(image[:, ::-1]) if one_pass.flip else image
    return make_input(source, input_size=one_pass.input_size, scale=one_pass.scale)


def pass_detections(heads: Sequence[np.ndarray], meta: InputMeta, options: InferenceOptions,
                    flipped: bool = False) -> Detections:
    """One pass's head outputs decoded (no NMS) into original-image pixels of the unflipped image."""
    dets = decode(*heads, meta=meta, score_thresh=options.score_thresh, top_k=options.top_k, nms="none")
    return flip_detections(dets, meta.orig_hw[1]) if flipped else dets


def merge_passes(detections: Sequence[Detections], options: InferenceOptions) -> Detections:
    """All passes of one image after the one NMS, best first, at most `options.top_k`."""
    return merge_detections(detections, nms=options.nms, nms_iou=options.nms_iou, soft_sigma=options.soft_sigma,
                            top_k=options.top_k)


def detect(forward: Forward, image: np.ndarray, options: InferenceOptions,
           passes: Optional[Sequence[InferencePass]] = None) -> Detections:
    """Faces of one RGB image: every pass through `forward` (NCHW float32 -> 4 head arrays), merged."""
    results = []
    for one_pass in passes or plan_passes(options):
        chw, meta = pass_input(image, one_pass)
        heads = forward(chw[None])
        results.append(pass_detections([h[0] for h in heads], meta, options, one_pass.flip))
    return merge_passes(results, options)


# ---------------------------------------------------------------- result files

def wider_text(stem: str, dets: Detections) -> str:
    """WIDER prediction file: stem, the number of boxes, then ``x y w h score`` by score, descending."""
    order = np.argsort(-dets.scores, kind="stable")
    boxes = dets.boxes[order].astype(np.float64)
    lines = [stem, str(len(order))]
    lines += [f"{x1:.3f} {y1:.3f} {x2 - x1:.3f} {y2 - y1:.3f} {score:.6f}"
              for (x1, y1, x2, y2), score in zip(boxes, dets.scores[order].astype(np.float64))]
    return "\n".join(lines) + "\n"


def write_results(out_dir, image: WiderImage, dets: Detections, image_hw: Tuple[int, int]) -> Path:
    """Write ``<out_dir>/<event>/<stem>.txt`` (WIDER format) and ``.json`` (with landmarks); returns the .txt."""
    folder = Path(out_dir) / image.event
    txt = folder / f"{image.stem}.txt"
    atomic_write_bytes(txt, wider_text(image.stem, dets).encode("utf-8"))
    record = detections_to_json(dets, f"{image.event}/{image.path.name}")
    record.update({"event": image.event, "stem": image.stem, "height": int(image_hw[0]), "width": int(image_hw[1])})
    write_json_atomic(folder / f"{image.stem}.json", record)
    return txt


# ---------------------------------------------------------------- network

class CenterFaceRunner:
    """A BatchNorm-folded CenterFace in inference mode whose weights can be swapped checkpoint by checkpoint.

    `dynamic_shape` declares the input as (1, 3, None, None) so GRAPH mode compiles once for every input size
    (measured on CPU: same outputs bit for bit, same speed as static shapes).
    """

    def __init__(self, neck_width: int = 24, activation: str = "relu", dynamic_shape: bool = False,
                 cpu_kernels: bool = False):
        self.neck_width, self.activation = neck_width, activation
        self.network = None
        self.dynamic_shape = dynamic_shape
        self.cpu_kernels = cpu_kernels

    def _folded(self, ckpt_path):
        from src.engine.checkpoint import load_weights
        from src.models.centerface import CenterFace
        from src.models.fold_bn import fold_batchnorm

        network = CenterFace(self.neck_width, self.activation)
        # Tolerates wrapper prefixes (the old zoo's `centerface_network.`) and optimizer state; a missing
        # weight would silently test a half-initialised network, so it is an error.
        report = load_weights(network, ckpt_path, logger=LOG)  # CheckpointError is a ValueError: one line
        if report.missing:
            raise ValueError(f"checkpoint {ckpt_path}: {len(report.missing)} network parameters missing, e.g. "
                             f"{report.missing[:3]}; expected a CenterFace checkpoint with neck_width="
                             f"{self.neck_width}")
        fold_batchnorm(network)
        network.set_train(False)
        return network

    def load(self, ckpt_path) -> None:
        """Load `ckpt_path`: the first one builds the network, later ones only replace its weights."""
        import mindspore as ms

        folded = self._folded(ckpt_path)
        if self.network is None:
            self.network = folded
            # Same Parameters, so later checkpoints still swap in by name. The compiled kernels declare static
            # shapes, so a dynamic-shape network (original-size testing) keeps MindSpore's ops.
            if self.cpu_kernels and not self.dynamic_shape:
                from src.models.cpu_kernels import enable_cpu_kernels

                enable_cpu_kernels(self.network)
            if self.dynamic_shape:
                self.network.set_inputs(ms.Tensor(shape=[1, 3, None, None], dtype=ms.float32))
            return
        current = {p.name: p for p in self.network.get_parameters()}
        new = {p.name: p for p in folded.get_parameters()}
        if set(current) != set(new):
            raise ValueError(f"checkpoint {ckpt_path}: folded parameters differ from the first checkpoint's "
                             f"({sorted(set(current) ^ set(new))[:3]}); expected the same architecture")
        for name, param in new.items():
            current[name].set_data(param.data)

    def __call__(self, batch: np.ndarray) -> Tuple[np.ndarray, ...]:
        import mindspore as ms

        if self.network is None:
            raise RuntimeError("CenterFaceRunner: call load(ckpt_path) before running images")
        outputs = self.network(ms.Tensor(np.ascontiguousarray(batch, dtype=np.float32)))
        return tuple(o.asnumpy() for o in outputs)


# ---------------------------------------------------------------- one checkpoint over all images

@dataclass
class CheckpointSummary:
    """What one checkpoint's test produced."""
    checkpoint: str
    out_dir: str
    images: int = 0
    faces: int = 0
    seconds: float = 0.0
    failed: List[str] = field(default_factory=list)

    def line(self) -> str:
        per_image = self.seconds / max(1, self.images - len(self.failed))
        text = (f"{Path(self.checkpoint).name}: {self.images - len(self.failed)}/{self.images} images, "
                f"{self.faces} faces, {self.seconds:.1f} s ({per_image:.3f} s/img) -> {self.out_dir}")
        if self.failed:
            text += f"; {len(self.failed)} unreadable (e.g. {self.failed[0]})"
        return text


def infer_images(forward: Forward, images: Sequence[WiderImage], options: InferenceOptions, out_dir,
                checkpoint: str = "", progress: bool = True) -> CheckpointSummary:
    """Detect faces in every image and write its result files; unreadable images are logged and counted."""
    from tqdm import tqdm

    summary = CheckpointSummary(checkpoint=str(checkpoint), out_dir=str(out_dir), images=len(images))
    passes = plan_passes(options)
    start = time.perf_counter()
    for image_info in tqdm(images, desc=f"test {Path(checkpoint).stem}", unit="img", disable=not progress):
        image = read_rgb(image_info.path)
        if image is None:
            LOG.error("%s: missing or not a readable image; skipped", image_info.path)
            summary.failed.append(str(image_info.path))
            continue
        dets = detect(forward, image, options, passes)
        write_results(out_dir, image_info, dets, image.shape[:2])
        summary.faces += len(dets)
    summary.seconds = time.perf_counter() - start
    info = {"summary": asdict(summary), "options": asdict(options)}
    write_json_atomic(Path(out_dir) / TEST_INFO, json.loads(json.dumps(info, default=list)))
    return summary


def result_dir(save_dir, ckpt_path) -> Path:
    """Output folder of one checkpoint: ``<save_dir>/<checkpoint stem>``."""
    return Path(save_dir) / Path(ckpt_path).stem
