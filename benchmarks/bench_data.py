"""Training data pipeline throughput of ONE worker process: read JPEG + augment + targets + CHW.

    python benchmarks/bench_data.py [--images 50] [--samples 300] [--input-size 512] [--seed 0]

Writes `--images` random 640x480 JPEGs (smooth random colour fields plus noise, quality 90, 1-12 faces
with landmarks each) and their COCO json into a temporary folder, then times
`FaceDetectionSource.__getitem__` (what every MindSpore worker runs) over `--samples` samples with
OpenCV limited to one thread, i.e. per core. A stage breakdown (decode, augment warp/colour, targets,
CHW copy) is timed separately on the same samples. Target: >= 100 img/s per core.

`measure_data_throughput(...)` returns the img/s figure for other benchmarks (e.g. training).
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from benchmarks.common import machine_description  # noqa: E402
from src.data.augment import TrainAugment, warp_image  # noqa: E402
from src.data.dataset import FaceDetectionSource  # noqa: E402
from src.data.targets import CenterFaceTargets  # noqa: E402


def write_benchmark_images(folder, num_images=50, size=(640, 480), seed=0):
    """Random JPEGs with random faces (boxes + 5 landmarks) and a COCO json; returns the json path."""
    rng = np.random.default_rng(seed)
    width, height = size
    folder = Path(folder)
    images, annotations = [], []
    for i in range(num_images):
        field = rng.integers(0, 256, (height // 40, width // 40, 3), dtype=np.uint8)
        pixels = cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC)
        noise = rng.normal(0, 8, pixels.shape)
        pixels = np.clip(pixels + noise, 0, 255).astype(np.uint8)
        name = f"bench_{i:03d}.jpg"
        cv2.imwrite(str(folder / name), pixels, [cv2.IMWRITE_JPEG_QUALITY, 90])
        images.append({"id": i, "file_name": name, "width": width, "height": height})
        for _ in range(int(rng.integers(1, 13))):
            side = float(np.exp(rng.uniform(np.log(6), np.log(200))))
            x, y = rng.uniform(0, width - side), rng.uniform(0, height - side)
            keypoints = []
            for fx, fy in [(0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.35, 0.8), (0.65, 0.8)]:
                keypoints += [x + fx * side, y + fy * side, 2]
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": 1,
                                "bbox": [x, y, side, side], "keypoints": keypoints, "iscrowd": 0,
                                "area": side * side})
    path = folder / "bench_faces.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "face"}]}))
    return path


def build_source(folder, input_size=512, seed=0):
    return FaceDetectionSource(Path(folder) / "bench_faces.json", folder, TrainAugment(input_size=input_size),
                               CenterFaceTargets(input_size=input_size), seed=seed)


def _one_thread_opencv():
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    return previous


def measure_data_throughput(num_images=50, input_size=512, num_samples=300, seed=0, folder=None,
                            progress=False):
    """Samples per second of one process running read + augment + targets (OpenCV on one thread).
    Images are generated into ``folder`` (a temporary folder if None)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(folder or tmp)
        if not (folder / "bench_faces.json").exists():
            write_benchmark_images(folder, num_images, seed=seed)
        source = build_source(folder, input_size, seed)
        previous = _one_thread_opencv()
        try:
            for i in range(min(10, num_samples)):  # warm-up: file cache, kernel cache, allocations
                source[i % len(source)]
            indices = range(num_samples)
            start = time.perf_counter()
            for i in tqdm(indices, desc="samples", disable=not progress):
                source[i]  # encoded indices >= len(source) cycle through images and epochs
            elapsed = time.perf_counter() - start
        finally:
            cv2.setNumThreads(previous)
    return num_samples / elapsed


def stage_breakdown(source, num_samples):
    """Mean milliseconds per sample of each stage, run separately on the same samples."""
    augment, targets = source.augment, source.targets
    times = dict.fromkeys(["decode+RGB", "sample params", "warp", "annotations", "colour", "targets",
                           "CHW copy"], 0.0)
    for i in tqdm(range(num_samples), desc="stages"):
        index = i % len(source)
        record = source.records[index]
        rng = source.rng_for(index, i // len(source))
        t0 = time.perf_counter()
        image = source.read_image(index)
        t1 = time.perf_counter()
        geometry = augment.sample_geometry(image.shape[0], image.shape[1], record["boxes"], rng)
        color = augment.sample_color(rng)
        t2 = time.perf_counter()
        warped = warp_image(image, geometry.matrix, augment.input_size, augment.border_value,
                            augment.antialias_below)
        t3 = time.perf_counter()
        boxes, lms, valid, _ = augment.transform_annotations(geometry, record["boxes"].astype(np.float64),
                                                             record["landmarks"].astype(np.float64),
                                                             record["landmark_valid"])
        t4 = time.perf_counter()
        out = augment.apply_color(warped, color)
        t5 = time.perf_counter()
        targets(boxes, lms, valid)
        t6 = time.perf_counter()
        np.ascontiguousarray(out.transpose(2, 0, 1))
        t7 = time.perf_counter()
        for key, dt in zip(times, np.diff([t0, t1, t2, t3, t4, t5, t6, t7])):
            times[key] += dt
    return {key: 1e3 * value / num_samples for key, value in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--input-size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(machine_description())
    with tempfile.TemporaryDirectory() as tmp:
        write_benchmark_images(tmp, args.images, seed=args.seed)
        rate = measure_data_throughput(args.images, args.input_size, args.samples, args.seed, folder=tmp,
                                       progress=True)
        previous = _one_thread_opencv()
        try:
            stages = stage_breakdown(build_source(tmp, args.input_size, args.seed), args.samples)
        finally:
            cv2.setNumThreads(previous)
    print(f"\n{args.images} images 640x480 JPEG -> {args.input_size}x{args.input_size}, {args.samples} samples, "
          f"one process, OpenCV 1 thread")
    print(f"{'stage':<16}{'ms/sample':>10}")
    for key, value in stages.items():
        print(f"{key:<16}{value:>10.2f}")
    print(f"{'sum of stages':<16}{sum(stages.values()):>10.2f}")
    print(f"throughput: {rate:.1f} img/s per process (target >= 100)")
    return rate


if __name__ == "__main__":
    main()
