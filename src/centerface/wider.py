"""CenterFace's evaluation set: the WIDER FACE validation images, WIDER result files, the WIDER evaluator.

* Images: the list (and order) of the ground-truth ``wider_face_val.mat``, read from
  ``<data_dir>/<event>/<stem>.jpg`` (:func:`list_wider_images`).
* Results (:func:`write_results`): ``<out>/<event>/<stem>.txt`` in the WIDER format (stem, the true count,
  ``x y w h score`` sorted by score) and ``<out>/<event>/<stem>.json`` with boxes, scores and the 5 landmarks.
* Evaluation: ``dependency/evaluate`` (the official MATLAB algorithm).
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import numpy as np

from dependency.evaluate.ground_truth import VAL_FILE, load_ground_truth
from src.centerface.decode import detections_to_json
from src.evaluation.eval_set import EvalImage
from src.inference.detections import Detections
from src.io_utils import atomic_write_bytes, write_json_atomic
from src.model_utils.config import ConfigError

__all__ = ["resolve_gt_dir", "list_wider_images", "wider_text", "write_results", "WiderEvalSet"]

WIDER_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def resolve_gt_dir(ground_truth_path) -> Path:
    """The folder of the WIDER .mat files, given that folder or one of the .mat files in it."""
    path = Path(ground_truth_path)
    if path.is_file() and path.suffix == ".mat":
        return path.parent
    if path.is_dir():
        return path
    raise FileNotFoundError(f"ground truth {path}: no such folder or .mat file; expected the folder holding "
                            f"{VAL_FILE} (or that file)")


def list_wider_images(data_dir, ground_truth_path) -> List[EvalImage]:
    """Every image of the ground truth, in its order, located under ``<data_dir>/<event>/``; `info` holds its
    event and stem, `key` the stem (unique in WIDER FACE: the event number is part of every stem).

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
        candidates = [data_dir / event / f"{stem}{suffix}" for suffix in WIDER_SUFFIXES]
        path = next((c for c in candidates if c.is_file()), candidates[0])
        found += path.is_file()
        images.append(EvalImage(stem, path, {"event": event, "stem": stem}))
    if images and not found:
        raise FileNotFoundError(f"data_dir {data_dir}: none of the {len(images)} ground-truth images found "
                                f"(e.g. {images[0].path}); expected <data_dir>/<event>/<name>.jpg")
    return images


def wider_text(stem: str, dets: Detections) -> str:
    """WIDER prediction file: stem, the number of boxes, then ``x y w h score`` by score, descending."""
    order = np.argsort(-dets.scores, kind="stable")
    boxes = dets.boxes[order].astype(np.float64)
    lines = [stem, str(len(order))]
    lines += [f"{x1:.3f} {y1:.3f} {x2 - x1:.3f} {y2 - y1:.3f} {score:.6f}"
              for (x1, y1, x2, y2), score in zip(boxes, dets.scores[order].astype(np.float64))]
    return "\n".join(lines) + "\n"


def write_results(out_dir, image: EvalImage, dets: Detections, image_hw: Tuple[int, int]) -> Path:
    """Write ``<out_dir>/<event>/<stem>.txt`` (WIDER format) and ``.json`` (with landmarks); returns the .txt."""
    event, stem = image.info["event"], image.info["stem"]
    folder = Path(out_dir) / event
    txt = folder / f"{stem}.txt"
    atomic_write_bytes(txt, wider_text(stem, dets).encode("utf-8"))
    record = detections_to_json(dets, f"{event}/{image.path.name}")
    record.update({"event": event, "stem": stem, "height": int(image_hw[0]), "width": int(image_hw[1])})
    write_json_atomic(folder / f"{stem}.json", record)
    return txt


class _WiderWriter:
    def __init__(self, out_dir):
        self.out_dir = Path(out_dir)

    def add(self, image: EvalImage, dets: Detections, image_hw, pixels=None) -> None:
        write_results(self.out_dir, image, dets, image_hw)

    def close(self) -> None:
        """Every image was written as it came."""


class WiderEvalSet:
    """The WIDER FACE validation set of a config: `data_dir` images, `ground_truth_path` .mat files."""

    def __init__(self, data_dir, ground_truth_path, iou=0.5, json_path="", plot_path=""):
        self.gt_dir = resolve_gt_dir(ground_truth_path) if ground_truth_path else None
        self.data_dir = data_dir
        self.iou = float(iou)
        self.json_path, self.plot_path = json_path, plot_path
        self._images = None

    @property
    def can_evaluate(self) -> bool:
        return self.gt_dir is not None

    @property
    def images(self) -> List[EvalImage]:
        if self._images is None:
            self._images = list_wider_images(self.data_dir, self.gt_dir)
        return self._images

    def writer(self, out_dir) -> _WiderWriter:
        return _WiderWriter(out_dir)

    def evaluate(self, out_dir):
        """Easy/Medium/Hard AP of the result files in `out_dir`: the three zoo lines on stdout, counts on stderr;
        APs, counts and PR curves also to `json_path` (default <out_dir>/eval.json) and `plot_path`."""
        import sys
        import time

        from dependency.evaluate.eval import evaluate, format_aps, plot_pr_curves, save_json

        if self.gt_dir is None:
            raise ConfigError("--ground_truth_path is required to evaluate (the folder of wider_face_val.mat and "
                              "wider_{easy,medium,hard}_val.mat)")
        start = time.perf_counter()
        result = evaluate(out_dir, self.gt_dir, iou_thresh=self.iou, progress=sys.stderr.isatty())
        missing, total = result["num_missing_files"], result["num_images"]
        if total and missing == total:
            raise ValueError(f"result folder {out_dir}: none of the {total} prediction files of the ground truth "
                             f"(<event>/<name>.txt) found; expected a result folder of test.py")
        if missing:
            print(f"WARNING: {missing} of {total} images have no prediction file in {out_dir}: they count as "
                  f"images without detections", file=sys.stderr)
        print(format_aps(result), flush=True)
        json_path = self.json_path or Path(out_dir) / "eval.json"
        save_json(result, json_path)
        if self.plot_path:
            plot_pr_curves(result, self.plot_path)
        print(f"evaluated {result['num_predictions']} predictions on {result['num_images']} images "
              f"({result['num_missing_files']} files missing) at IoU {self.iou} in {time.perf_counter() - start:.2f} "
              f"s; wrote {json_path}" + (f" and {self.plot_path}" if self.plot_path else ""), file=sys.stderr)
        return result
