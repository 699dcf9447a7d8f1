"""Test-time passes of one image (single scale, multi-scale, flip) and their merge, for every model.

`InferenceOptions` says how an image is tested; `plan_passes` lists the network runs. Multi-scale multiplies
the canvas (or, with no canvas, the original size) by each of ``scales``; flip adds a mirrored run of every
pass, or, for models that merge the flip inside one batch (CenterNet: averaged maps; `flip_in_batch`), marks
each pass as flipped. Every pass is decoded without NMS and mapped back to original pixels by the task
(`Task.run_pass`); one NMS (hard or soft) over all passes gives the result, so Soft-NMS decays each score once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from src.inference.detections import NMS_METHODS, Detections, merge_detections

__all__ = ["INPUT_MULTIPLE", "InferenceOptions", "InferencePass", "plan_passes", "merge_passes", "round_up"]

INPUT_MULTIPLE = 32  # network inputs must be multiples of the backbone stride


def round_up(value: float, multiple: int = INPUT_MULTIPLE) -> int:
    """`value` rounded to the nearest integer, then up to a multiple of `multiple` (at least one multiple)."""
    return max(multiple, int(-(-round(value) // multiple) * multiple))


@dataclass(frozen=True)
class InferenceOptions:
    """How each image is tested.

    input_size: (H, W) canvas the image is fitted into (times `fit_scale`), or None for the original size.
    scales: one pass per scale, multiplying the canvas size, or the original size when `input_size` is None.
    flip: also run every pass on the horizontally flipped image.
    score_thresh, top_k: detections kept per pass (centre score above the threshold, the best top_k); top_k
        also caps the merged result.
    nms, nms_iou, soft_sigma: the one NMS over all passes (see src.inference.detections.apply_nms).
    max_input_side: the longest network input side of a pass at the original size (input_size None); a larger
        image is scaled down to fit (src.inference.preprocess.bounded_scale). None: unbounded.
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
    max_input_side: Optional[int] = None

    def __post_init__(self):
        if self.input_size is not None:
            size = tuple(int(v) for v in self.input_size)
            if len(size) != 2 or min(size) < INPUT_MULTIPLE or any(v % INPUT_MULTIPLE for v in size):
                raise ValueError(f"input_size {list(self.input_size)}: expected [H, W], multiples of "
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
            raise ValueError(f"top_k {self.top_k}: expected a positive integer")
        if not 0 <= self.score_thresh < 1:
            raise ValueError(f"score_thresh {self.score_thresh}: expected a number in [0, 1)")
        if self.max_input_side is not None and (int(self.max_input_side) < INPUT_MULTIPLE
                                                or int(self.max_input_side) % INPUT_MULTIPLE):
            raise ValueError(f"max_input_side {self.max_input_side}: expected a multiple of {INPUT_MULTIPLE}, "
                             "or 0 for no bound")

    @property
    def shapes_vary(self) -> bool:
        """True when inputs can take more than one shape (original sizes, or several scales)."""
        return self.input_size is None or len(set(self.canvas(s) for s in self.scales)) > 1

    def canvas(self, scale: float) -> Optional[Tuple[int, int]]:
        """The canvas of the pass at `scale` (None: original size times `scale`)."""
        if self.input_size is None:
            return None
        return round_up(self.input_size[0] * scale), round_up(self.input_size[1] * scale)


@dataclass(frozen=True)
class InferencePass:
    """One network run: the image (mirrored when `flip`, or with its mirror in the batch for flip_in_batch
    tasks) at `scale`, on the canvas `input_size` (None: original size times `scale`)."""
    input_size: Optional[Tuple[int, int]]
    scale: float
    flip: bool


def plan_passes(options: InferenceOptions, flip_in_batch: bool = False) -> List[InferencePass]:
    """The passes of one image, scale by scale; with `options.flip` each pass is followed by its flipped twin,
    or (flip_in_batch) is itself marked flipped."""
    passes = []
    for scale in options.scales:
        canvas = options.canvas(scale)
        image_scale = options.fit_scale if canvas is not None else scale
        if flip_in_batch:
            passes.append(InferencePass(canvas, image_scale, options.flip))
            continue
        for flip in ((False, True) if options.flip else (False,)):
            passes.append(InferencePass(canvas, image_scale, flip))
    return passes


def merge_passes(detections: Sequence[Detections], options: InferenceOptions) -> Detections:
    """All passes of one image after the one NMS, best first, at most `options.top_k`."""
    return merge_detections(detections, nms=options.nms, nms_iou=options.nms_iou, soft_sigma=options.soft_sigma,
                            top_k=options.top_k)
