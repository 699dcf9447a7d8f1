"""Tests for benchmarks/bench_predict.py: its helpers, and a smoke run at tiny sizes (timings are not asserted).

The smoke run checks what the benchmark's numbers rest on: both pipelines run predict.py's whole path (JSON and
drawing per photo), find the same faces (the official weights in both: boxes within 0.01 px, the difference of
MindSpore's float32 accumulation order against onnxruntime's), and the table names both and their ratio.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.bench_predict import LABELS, line_fit, make_photos, peak_memory, peak_rss_mb, resized_photos

REPO = Path(__file__).resolve().parents[2]


def test_line_fit_recovers_slope_and_intercept():
    slope, intercept = line_fit([0.3, 0.9, 2.1], [100 + 250 * 0.3, 100 + 250 * 0.9, 100 + 250 * 2.1])
    assert slope == pytest.approx(250) and intercept == pytest.approx(100)


def test_peak_rss_grows_with_a_big_allocation():
    # In a fresh process: in this (long-lived, MindSpore-loaded) one, memory that earlier tests freed but glibc kept
    # resident is reused by a new allocation, so the peak need not grow by what is allocated (seen in CI: +8 MB for
    # a +64 MB allocation past the peak).
    probe = ("import numpy as np; from benchmarks.bench_predict import peak_rss_mb; before = peak_rss_mb(); "
             "block = np.ones(256 * 2**20 // 8); print(peak_rss_mb() - before, block.sum() > 0)")
    env = {key: value for key, value in os.environ.items() if key != "GLIBC_TUNABLES"}
    run = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    grown, touched = run.stdout.split()[-2:]
    assert float(grown) >= 250 and touched == "True"


def test_photos_and_their_resized_copies(tmp_path):
    import cv2

    photos = make_photos(tmp_path / "p", 3, 96)
    assert len(photos) == 3
    for path in photos:
        height, width = cv2.imread(str(path)).shape[:2]
        assert width == 96 and 0.75 * 96 <= height <= 1.25 * 96
    resized = resized_photos(tmp_path / "r", photos, (64, 48))
    assert [cv2.imread(str(p)).shape for p in resized] == [(48, 64, 3)] * 2


def test_memory_probe_of_onnxruntime_counts_its_own_process(tmp_path, official_onnx, official_ckpt):
    photos = resized_photos(tmp_path / "r", make_photos(tmp_path / "p", 2, 96), (320, 240))
    peak = peak_memory("onnxruntime", photos, official_ckpt, official_onnx, 1)
    # A fresh process with onnxruntime and one small model: tens of MB, well below this (MindSpore-loaded) one.
    assert 20 < peak < peak_rss_mb()


def test_smoke_run_compares_both_pipelines(tmp_path, official_onnx, official_ckpt):
    # A fresh process, as the benchmark runs: it sets the device up, which MindSpore allows once per process.
    run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_predict.py"), "--num_images", "2",
                          "--width", "160", "--passes", "1", "--memory_sizes", "--no_cold", "--threads", "1",
                          "--ckpt_path", str(official_ckpt), "--onnx", str(official_onnx), "--output_path", str(tmp_path)],
                         cwd=REPO, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert all(f"| {label} | " in out for label in LABELS.values())
    assert "throughput ours/onnxruntime (onnxruntime" in out
    agreement = next(line for line in out.splitlines() if "faces found" in line)
    assert "onnxruntime finds as many on 2/2 images" in agreement
    assert int(agreement.split("; ")[1].split()[0]) > 0  # faces were found: the box comparison is not empty
    assert float(agreement.split("boxes within ")[1].split(" px")[0]) <= 0.01
    for name in LABELS:
        records = sorted((tmp_path / name).glob("*.json"))
        assert len(records) == 2 and len(list((tmp_path / name).glob("*.jpg"))) == 2
        assert "detections" in json.loads(records[0].read_text())
