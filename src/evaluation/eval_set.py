"""A test run over an evaluation set, for any task: images in, one result writer per checkpoint, a summary.

A task's `eval_set()` returns an object with
* `images`: a list of `EvalImage` (unique `key`, the file `path`, and whatever the writer needs in `info`);
* `writer(out_dir)`: a `ResultWriter` for one checkpoint's results: `add(image, dets, image_hw, pixels=None)` per
  image (`pixels`: the RGB image, for writers that draw) and `close()` at the end (CenterFace writes WIDER files per image, CenterNet one COCO results json);
* `evaluate(out_dir)`: the metrics of a result folder (a dict; prints the model's usual table), possible when
  `can_evaluate` (the ground truth is known).

`run_eval_set` reads every image, runs the task's test-time passes and feeds the writer; unreadable images are
logged, counted and skipped.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List

from src.data.image_io import read_image
from src.io_utils import write_json_atomic

LOG = logging.getLogger(__name__)
TEST_INFO = "test_info.json"

__all__ = ["EvalImage", "CheckpointSummary", "run_eval_set", "TEST_INFO"]


@dataclass(frozen=True)
class EvalImage:
    """One evaluation image: `key` is unique in its set (file names of the offline chain), `path` its pixels,
    `info` what the task's writer needs (WIDER event and stem, COCO image id, ...)."""
    key: str
    path: Path
    info: Dict = field(default_factory=dict, compare=False, hash=False)


@dataclass
class CheckpointSummary:
    """What one checkpoint's test produced."""
    checkpoint: str
    out_dir: str
    images: int = 0
    objects: int = 0
    seconds: float = 0.0
    failed: List[str] = field(default_factory=list)

    def line(self) -> str:
        per_image = self.seconds / max(1, self.images - len(self.failed))
        text = (f"{Path(self.checkpoint).name}: {self.images - len(self.failed)}/{self.images} images, "
                f"{self.objects} detections, {self.seconds:.1f} s ({per_image:.3f} s/img) -> {self.out_dir}")
        if self.failed:
            text += f"; {len(self.failed)} unreadable (e.g. {self.failed[0]})"
        return text


def run_eval_set(task, forward, eval_set, options, out_dir, checkpoint: str = "",
                 progress: bool = True) -> CheckpointSummary:
    """Detect objects in every image of `eval_set` with `forward` and write them with a new writer for
    `out_dir`; writes `<out_dir>/test_info.json` (summary and options)."""
    from tqdm import tqdm

    from src.inference.passes import plan_passes

    summary = CheckpointSummary(checkpoint=str(checkpoint), out_dir=str(out_dir), images=len(eval_set.images))
    passes = plan_passes(options, task.flip_in_batch)
    writer = eval_set.writer(out_dir)
    start = time.perf_counter()
    for image_info in tqdm(eval_set.images, desc=f"test {Path(checkpoint).stem}", unit="img",
                           disable=not progress):
        image = read_image(image_info.path)
        if image is None:
            LOG.error("%s: missing, truncated or not a readable image; skipped", image_info.path)
            summary.failed.append(str(image_info.path))
            continue
        dets = task.detect(forward, image, options, passes)
        writer.add(image_info, dets, image.shape[:2], pixels=image)
        summary.objects += len(dets)
    writer.close()
    summary.seconds = time.perf_counter() - start
    info = {"summary": asdict(summary), "options": asdict(options)}
    write_json_atomic(Path(out_dir) / TEST_INFO, json.loads(json.dumps(info, default=list)))
    return summary
