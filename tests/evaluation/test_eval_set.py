"""Tests for src/evaluation/eval_set.py: run_eval_set feeds every readable image's detections to the writer at the
image's size, skips and counts unreadable ones, closes the writer once and records the run in test_info.json.

The network is a stand-in `forward` giving CenterFace's heads with one face peak per image (the task's real
decode turns it into one face), and the eval set a recording one: the function under test is the loop between
them."""
import json

import cv2
import numpy as np
import pytest

from src.evaluation.eval_set import TEST_INFO, CheckpointSummary, EvalImage, run_eval_set
from src.tasks import get_task


def one_face_forward(batch):
    """CenterFace's four heads for an NCHW batch: heatmap 0.01 except 0.9 at cell (2, 3); zero regressions."""
    n, _, height, width = batch.shape
    heatmap = np.full((n, 1, height // 4, width // 4), 0.01, np.float32)
    heatmap[:, 0, 2, 3] = 0.9
    zeros = [np.zeros((n, c, height // 4, width // 4), np.float32) for c in (2, 2, 10)]
    return (heatmap, *zeros)


class RecordingEvalSet:
    def __init__(self, images):
        self.images, self.added, self.closed = images, [], 0

    def writer(self, out_dir):
        eval_set = self

        class Writer:
            def add(self, image, dets, image_hw, pixels=None):
                eval_set.added.append((image.key, len(dets), float(dets.scores[0]), image_hw, pixels.shape))

            def close(self):
                eval_set.closed += 1

        return Writer()


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((60, 90, 3), 128, np.uint8))
    cv2.imwrite(str(folder / "b.png"), np.full((70, 40, 3), 64, np.uint8))
    (folder / "broken.jpg").write_bytes(b"not an image")
    return [EvalImage("a", folder / "a.png"), EvalImage("broken", folder / "broken.jpg"),
            EvalImage("b", folder / "b.png")]


def test_every_readable_image_reaches_the_writer_and_the_run_is_recorded(images, tmp_path, caplog):
    task = get_task("centerface")
    options = task.inference_options("predict")
    eval_set = RecordingEvalSet(images)
    out = tmp_path / "out"
    summary = run_eval_set(task, one_face_forward, eval_set, options, out, checkpoint="x/0-3_5.ckpt",
                           progress=False)
    assert eval_set.added == [("a", 1, pytest.approx(0.9), (60, 90), (60, 90, 3)),
                              ("b", 1, pytest.approx(0.9), (70, 40), (70, 40, 3))]
    assert eval_set.closed == 1
    assert (summary.images, summary.objects, summary.failed) == (3, 2, [str(images[1].path)])
    assert "broken.jpg: missing, truncated or not a readable image; skipped" in caplog.text
    info = json.loads((out / TEST_INFO).read_text())
    assert info["summary"]["objects"] == 2 and info["summary"]["checkpoint"] == "x/0-3_5.ckpt"
    assert info["options"]["score_thresh"] == options.score_thresh and info["options"]["flip"] == options.flip


def test_summary_line():
    summary = CheckpointSummary("run/ckpt/0-3_5.ckpt", "out/0-3_5", images=4, objects=7, seconds=6.0,
                                failed=["a.jpg"])
    # 3 images read in 6 s: 2 s per image
    assert summary.line() == ("0-3_5.ckpt: 3/4 images, 7 detections, 6.0 s (2.000 s/img) -> out/0-3_5; "
                              "1 unreadable (e.g. a.jpg)")
    assert CheckpointSummary("c.ckpt", "o", images=0).line().startswith("c.ckpt: 0/0 images, 0 detections")
