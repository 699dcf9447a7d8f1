"""A COCO evaluation set for the CenterNet tasks: COCO images, the COCO results json, COCO AP (the evaluator of
dependency/coco/coco_eval.py: person keypoints + boxes, or boxes of every category).

run_mode "val": the images of `<data_dir>/annotations/<prefix>_val2017.json` under `<data_dir>/val2017/`
(prefix `person_keypoints` for pose, `instances` for detection); results to `<out>/val_pred_eval.json` (COCO
results format, all K detections of every image, rounded as the original) and pycocotools' tables
(keypoints then bbox for pose, the 12-line bbox table for detection). run_mode "test": the test-dev images of
`<data_dir>/annotations/image_info_test-dev2017.json` under `<data_dir>/test2017/`, results only
(`test_pred_eval.json`, for the evaluation server). With `visual`, every image is also drawn to
`<out>/visual/<name>.jpg`. The annotation file is read and checked before any image is run (a wrong file is a
one-line error naming it, not a crash after the whole run).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, List, Optional, Sequence

from src.evaluation.eval_set import EvalImage
from src.model_utils.config import ConfigError

__all__ = ["CocoEvalSet", "RUN_MODES", "annotation_file", "image_folder", "results_name"]

RUN_MODES = ("val", "test")
TEST_DEV_ANNOTATIONS = "image_info_test-dev2017.json"


def annotation_file(data_dir, run_mode, prefix="person_keypoints") -> Path:
    name = f"{prefix}_val2017.json" if run_mode == "val" else TEST_DEV_ANNOTATIONS
    return Path(data_dir) / "annotations" / name


def image_folder(data_dir, run_mode) -> Path:
    return Path(data_dir) / ("val2017" if run_mode == "val" else "test2017")


def results_name(run_mode) -> str:
    return f"{run_mode}_pred_eval.json"


class _CocoWriter:
    def __init__(self, out_dir, run_mode, draw, visual, category_ids):
        self.out_dir, self.run_mode, self.draw, self.visual = Path(out_dir), run_mode, draw, visual
        self.category_ids = category_ids
        self.detections = {}

    def add(self, image: EvalImage, dets, image_hw, pixels=None) -> None:
        self.detections[int(image.info["image_id"])] = dets
        if self.visual and pixels is not None:
            from src.inference.draw import save_image

            save_image(self.out_dir / "visual" / f"{image.key}.jpg", self.draw(pixels, dets))

    def close(self) -> None:
        from dependency.coco.coco_eval import write_results

        from src.io_utils import write_json_atomic

        write_results(self.detections, self.out_dir / results_name(self.run_mode), category_ids=self.category_ids)
        # the images that were run (with or without detections): only they are scored
        write_json_atomic(self.out_dir / "image_ids.json", sorted(self.detections))


class CocoEvalSet:
    """COCO val (or test-dev) of a config: `data_dir`, `run_mode`, `visual`.

    prefix: annotation file prefix of the val split ("person_keypoints" or "instances"). iou_types: what COCOeval
    scores (("keypoints", "bbox") for people, ("bbox",) for boxes of many categories). draw: (RGB image,
    Detections) -> drawn image, for `visual`. category_ids: COCO category id of each contiguous class (None: one
    class, the person category 1); on val they must be the annotation file's categories.
    """

    def __init__(self, data_dir, run_mode="val", prefix="person_keypoints", iou_types=("keypoints", "bbox"),
                 draw: Optional[Callable] = None, visual=False, category_ids: Optional[Sequence[int]] = None):
        if run_mode not in RUN_MODES:
            raise ConfigError(f"--run_mode {run_mode}: expected one of {', '.join(RUN_MODES)}")
        self.data_dir, self.run_mode, self.prefix = data_dir, run_mode, prefix
        self.iou_types, self.draw, self.visual = tuple(iou_types), draw, bool(visual)
        self.category_ids = None if category_ids is None else [int(i) for i in category_ids]
        self.annotations = annotation_file(data_dir, run_mode, prefix) if data_dir else None
        self._images = None
        self._checked = False

    @property
    def what(self) -> str:
        return "COCO person keypoints" if "keypoints" in self.iou_types else "COCO boxes"

    @property
    def can_evaluate(self) -> bool:
        return self.run_mode == "val" and self.annotations is not None and self.annotations.is_file()

    def check_annotations(self) -> None:
        """The ground truth as the evaluator needs it, checked once (ValueError naming the file, the entry and the
        problem) by the training readers (src/data/coco_keypoints.py: the person category with the 17 COCO joints,
        every person with a box and 51 keypoint values; src/data/coco_instances.py: boxes of listed categories),
        and its categories compared with the model's classes."""
        if self._checked:
            return
        folder = image_folder(self.data_dir, self.run_mode)
        if "keypoints" in self.iou_types:
            from src.data.coco_keypoints import load_person_keypoints

            load_person_keypoints(self.annotations, folder, drop_empty=False, check_images=False)
        else:
            from src.data.coco_instances import load_coco_instances

            found = list(load_coco_instances(self.annotations, folder, check_images=False).categories.ids)
            if self.category_ids is not None and found != self.category_ids:
                raise ValueError(f"{self.annotations}: categories {found[:10]}{' ...' if len(found) > 10 else ''} "
                                 f"({len(found)}) are not the model's {len(self.category_ids)} classes (config "
                                 f"category_ids); evaluate with the config the model was trained with")
        self._checked = True

    @property
    def images(self) -> List[EvalImage]:
        """Every image of the annotation file, in its order (missing files are reported when read; none found
        at all is an error: a wrong data_dir)."""
        if self._images is not None:
            return self._images
        if self.annotations is None or not self.annotations.is_file():
            expected = annotation_file("x", self.run_mode, self.prefix).name
            raise FileNotFoundError(f"--data_dir {self.data_dir}: no {self.annotations}; expected the COCO layout "
                                    f"annotations/{expected} + {image_folder('x', self.run_mode).name}/")
        if self.can_evaluate:
            self.check_annotations()
        try:
            data = json.loads(self.annotations.read_text(encoding="utf-8"))
            entries = [(int(i["id"]), str(i["file_name"])) for i in data["images"]]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{self.annotations}: not a COCO annotation file ({type(err).__name__}: {err})") from None
        folder = image_folder(self.data_dir, self.run_mode)
        images = [EvalImage(Path(name).stem, folder / name, {"image_id": image_id, "file_name": name})
                  for image_id, name in entries]
        if images and not any(image.path.is_file() for image in images[:1000]):
            raise FileNotFoundError(f"--data_dir {self.data_dir}: none of the images of {self.annotations.name} "
                                    f"found under {folder} (e.g. {images[0].path})")
        self._images = images
        return images

    def writer(self, out_dir) -> _CocoWriter:
        return _CocoWriter(out_dir, self.run_mode, self.draw, self.visual, self.category_ids)

    def evaluate(self, out_dir):
        """COCO stats of `<out_dir>/<run_mode>_pred_eval.json` on the images it was run on (those of its
        image_ids.json, else every image of the annotations); prints pycocotools' tables."""
        from dependency.coco.coco_eval import evaluate

        if not self.can_evaluate:
            raise ConfigError(f"run_mode {self.run_mode}: no ground truth to evaluate against (COCO val needs "
                              f"{annotation_file(self.data_dir or '<data_dir>', 'val', self.prefix)}); the results "
                              f"are in {Path(out_dir) / results_name(self.run_mode)}")
        results = Path(out_dir) / results_name(self.run_mode)
        if not results.is_file():
            raise FileNotFoundError(f"result folder {out_dir}: no {results.name} (run test.py or eval.py first)")
        self.check_annotations()
        run_ids = self._run_image_ids(out_dir)
        print(f"{self.what}, {len(run_ids) if run_ids else 'all'} images of {self.annotations.name}", flush=True)
        return evaluate(self.annotations, results, iou_types=self.iou_types, image_ids=run_ids)

    @staticmethod
    def _run_image_ids(out_dir):
        ids_file = Path(out_dir) / "image_ids.json"
        if ids_file.is_file():
            return json.loads(ids_file.read_text())
        return None
