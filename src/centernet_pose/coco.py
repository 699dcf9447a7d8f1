"""CenterNet pose's evaluation set: COCO images, the COCO results json, COCO keypoint (OKS) and box AP.

run_mode "val": the images of `<data_dir>/annotations/person_keypoints_val2017.json` under `<data_dir>/val2017/`;
results to `<out>/val_pred_eval.json` (COCO results format, all K persons of every image, rounded as the
original) and pycocotools' keypoint then bbox tables (dependency/coco). run_mode "test": the test-dev images
of `<data_dir>/annotations/image_info_test-dev2017.json` under `<data_dir>/test2017/`, results only
(`test_pred_eval.json`, for the evaluation server). With `visual_image`, every image is also drawn to
`<out>/visual/<name>.jpg`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List

from src.evaluation.eval_set import EvalImage
from src.model_utils.config import ConfigError

__all__ = ["CocoEvalSet", "annotation_file", "image_folder"]

_RUN_MODES = {"val": ("person_keypoints_val2017.json", "val2017"),
              "test": ("image_info_test-dev2017.json", "test2017")}


def annotation_file(data_dir, run_mode) -> Path:
    return Path(data_dir) / "annotations" / _RUN_MODES[run_mode][0]


def image_folder(data_dir, run_mode) -> Path:
    return Path(data_dir) / _RUN_MODES[run_mode][1]


def results_name(run_mode) -> str:
    return f"{run_mode}_pred_eval.json"


class _CocoWriter:
    def __init__(self, out_dir, run_mode, schema, visual):
        self.out_dir, self.run_mode, self.schema, self.visual = Path(out_dir), run_mode, schema, visual
        self.detections = {}

    def add(self, image: EvalImage, dets, image_hw, pixels=None) -> None:
        self.detections[int(image.info["image_id"])] = dets
        if self.visual and pixels is not None:
            from src.inference.draw import draw_detections, save_image

            save_image(self.out_dir / "visual" / f"{image.key}.jpg", draw_detections(pixels, dets, self.schema))

    def close(self) -> None:
        from dependency.coco.keypoints_eval import write_results

        from src.io_utils import write_json_atomic

        write_results(self.detections, self.out_dir / results_name(self.run_mode))
        # the images that were run (with or without persons): only they are scored
        write_json_atomic(self.out_dir / "image_ids.json", sorted(self.detections))


class CocoEvalSet:
    """COCO val (or test-dev) person keypoints of a config: `data_dir`, `run_mode`, `visual_image`."""

    def __init__(self, data_dir, run_mode="val", schema=None, visual=False):
        if run_mode not in _RUN_MODES:
            raise ConfigError(f"--run_mode {run_mode}: expected one of {', '.join(_RUN_MODES)}")
        self.data_dir, self.run_mode, self.schema, self.visual = data_dir, run_mode, schema, bool(visual)
        self.annotations = annotation_file(data_dir, run_mode) if data_dir else None
        self._images = None
        self._checked = False

    @property
    def can_evaluate(self) -> bool:
        return self.run_mode == "val" and self.annotations is not None and self.annotations.is_file()

    @property
    def images(self) -> List[EvalImage]:
        """Every image of the annotation file, in its order (missing files are reported when read; none found
        at all is an error: a wrong data_dir)."""
        if self._images is not None:
            return self._images
        if self.annotations is None or not self.annotations.is_file():
            raise FileNotFoundError(f"--data_dir {self.data_dir}: no {self.annotations}; expected the COCO layout "
                                    f"annotations/{_RUN_MODES[self.run_mode][0]} + {_RUN_MODES[self.run_mode][1]}/")
        try:
            data = json.loads(self.annotations.read_text(encoding="utf-8"))
            entries = [(int(i["id"]), str(i["file_name"])) for i in data["images"]]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{self.annotations}: not a COCO annotation file ({type(err).__name__}: {err})") from None
        folder = image_folder(self.data_dir, self.run_mode)
        if self.can_evaluate:  # before any image runs, not after the whole run (pycocotools reads it only then)
            self.check_annotations()
        images = [EvalImage(Path(name).stem, folder / name, {"image_id": image_id, "file_name": name})
                  for image_id, name in entries]
        if images and not any(image.path.is_file() for image in images[:1000]):
            raise FileNotFoundError(f"--data_dir {self.data_dir}: none of the images of {self.annotations.name} "
                                    f"found under {folder} (e.g. {images[0].path})")
        self._images = images
        return images

    def check_annotations(self) -> None:
        """The ground truth as the evaluator needs it, checked once (ValueError naming the file, the entry and the
        problem): the person category with the 17 COCO joints, every person annotation with a box and 51 keypoint
        values (the training reader's checks, src/data/coco_keypoints.py)."""
        if self._checked:
            return
        from src.data.coco_keypoints import load_person_keypoints

        load_person_keypoints(self.annotations, image_folder(self.data_dir, self.run_mode), drop_empty=False,
                              check_images=False)
        self._checked = True

    def writer(self, out_dir) -> _CocoWriter:
        return _CocoWriter(out_dir, self.run_mode, self.schema, self.visual)

    def evaluate(self, out_dir):
        """COCO keypoint and box stats of `<out_dir>/<run_mode>_pred_eval.json` on the images it was run on
        (those of its test_info.json, else every image of the annotations); prints pycocotools' tables."""
        from dependency.coco.keypoints_eval import evaluate

        if not self.can_evaluate:
            raise ConfigError(f"run_mode {self.run_mode}: no ground truth to evaluate against (COCO val needs "
                              f"{annotation_file(self.data_dir or '<data_dir>', 'val')}); the results are in "
                              f"{Path(out_dir) / results_name(self.run_mode)}")
        results = Path(out_dir) / results_name(self.run_mode)
        if not results.is_file():
            raise FileNotFoundError(f"result folder {out_dir}: no {results.name} (run test.py or eval.py first)")
        self.check_annotations()
        run_ids = self._run_image_ids(out_dir)
        print(f"COCO person keypoints, {len(run_ids) if run_ids else 'all'} images of {self.annotations.name}",
              flush=True)
        return evaluate(self.annotations, results, image_ids=run_ids)

    @staticmethod
    def _run_image_ids(out_dir):
        ids_file = Path(out_dir) / "image_ids.json"
        if ids_file.is_file():
            return json.loads(ids_file.read_text())
        return None
