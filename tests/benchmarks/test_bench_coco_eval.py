"""Tests for benchmarks/bench_coco_eval.py: the synthetic set is valid COCO person keypoints that follows the
mini set, and the one command runs both backends on a tiny size and reports agreeing numbers.

Timings are not asserted (a unit test cannot own the machine); the smoke run checks the command end to end.
"""
import json

import numpy as np
import pytest

from benchmarks.bench_coco_eval import MINI_ANNOTATIONS, main, synthesise
from dependency.coco.coco_eval import load_annotations, load_results, results_from_detections


@pytest.fixture(scope="module")
def mini():
    return json.loads(MINI_ANNOTATIONS.read_text())


def test_synthetic_set_follows_the_mini_statistics(mini):
    ground_truth, detections = synthesise(mini, 40, 6, np.random.default_rng(4))
    dataset, _ = load_annotations(ground_truth)  # a valid person-keypoints file
    images = {image["id"]: image for image in dataset["images"]}
    assert sorted(images) == list(range(1, 41)) == sorted(detections)
    persons_per_image = np.bincount([a["image_id"] for a in dataset["annotations"]], minlength=41)[1:]
    mini_counts = {sum(a["image_id"] == image["id"] for a in mini["annotations"]) for image in mini["images"]}
    assert set(persons_per_image) <= mini_counts and len(set(persons_per_image)) > 1
    mini_patterns = {tuple(np.array(a["keypoints"][2::3]) > 0) for a in mini["annotations"]}
    for ann in dataset["annotations"]:
        image = images[ann["image_id"]]
        x, y, w, h = ann["bbox"]
        assert -1e-9 <= x and x + w <= image["width"] + 1e-9 and -1e-9 <= y and y + h <= image["height"] + 1e-9
        labelled = np.array(ann["keypoints"][2::3]) > 0
        assert tuple(labelled) in mini_patterns and ann["num_keypoints"] == labelled.sum()
        # the box and the segment area were scaled by the same factor as in the mini person it came from
        assert any(np.isclose(ann["area"] / (w * h), m["area"] / (m["bbox"][2] * m["bbox"][3]))
                   for m in mini["annotations"])
    assert any(a["num_keypoints"] == 0 for a in dataset["annotations"])  # the joint-less persons come along
    assert all(len(scores) <= 6 for _, scores, _ in detections.values())
    results = results_from_detections(detections)
    load_results(results, set(images))  # valid results
    again = synthesise(mini, 40, 6, np.random.default_rng(4))
    assert again[0] == ground_truth and results_from_detections(again[1]) == results


def test_one_command_smoke_run(capsys):
    summary = main(["--images", "10", "--runs", "1"])
    out = capsys.readouterr().out
    assert set(summary["seconds"]) == {"pycocotools", "faster_coco_eval"}
    assert all(seconds > 0 for seconds in summary["seconds"].values())
    assert summary["max_abs_diff"] <= 1e-12
    assert 0.0 < summary["stats"]["keypoints"]["AP"] < 1.0 and 0.0 < summary["stats"]["bbox"]["AP"] < 1.0
    assert "10 images" in out and "speed-up" in out and "faster-coco-eval" in out


def test_bad_arguments_are_rejected():
    with pytest.raises(SystemExit):
        main(["--images", "0"])
