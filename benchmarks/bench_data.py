"""Training data pipeline throughput of ONE worker process: read JPEG + augment + targets + CHW.

    python benchmarks/bench_data.py [--images 50] [--samples 300] [--train_size 512] [--seed 0]
                                    [--image_size 640 480]

Writes `--images` random JPEGs of `--image_size` (default 640x480; WIDER FACE images are 1024 wide):
smooth random colour fields plus noise, quality 90, 1-12 faces with landmarks each, and their COCO json,
into a temporary folder. Then times `FaceDetectionSource.__getitem__` (what every MindSpore worker runs)
over `--samples` samples with OpenCV limited to one thread, i.e. per core, by wall clock and by process
CPU time (the machine may be shared). A stage breakdown (decode, augment warp/colour, targets, CHW copy)
is timed separately on the same samples. Target: >= 100 img/s per core.

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
from src.centerface.augment import TrainAugment  # noqa: E402
from src.data.augment import warp_image  # noqa: E402
from src.data.dataset import FaceDetectionSource, hwc_to_chw  # noqa: E402
from src.centerface.targets import CenterFaceTargets  # noqa: E402


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
                            progress=False, cpu_time=False, image_size=(640, 480)):
    """Samples per second of one process running read + augment + targets (OpenCV on one thread).
    Images are generated into ``folder`` (a temporary folder if None). ``cpu_time`` divides by the
    process's CPU seconds instead of wall seconds: on a machine shared with other jobs that is the
    rate one uncontended core would give."""
    clock = time.process_time if cpu_time else time.perf_counter
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(folder or tmp)
        if not (folder / "bench_faces.json").exists():
            write_benchmark_images(folder, num_images, image_size, seed=seed)
        source = build_source(folder, input_size, seed)
        previous = _one_thread_opencv()
        try:
            for i in range(min(10, num_samples)):  # warm-up: file cache, kernel cache, allocations
                source[i % len(source)]
            indices = range(num_samples)
            start = clock()
            for i in tqdm(indices, desc="samples", disable=not progress):
                source[i]  # encoded indices >= len(source) cycle through images and epochs
            elapsed = clock() - start
        finally:
            cv2.setNumThreads(previous)
    return num_samples / elapsed


def stage_breakdown(source, num_samples):
    """Mean CPU milliseconds per sample of each stage, run separately on the same samples."""
    augment, targets = source.augment, source.targets
    times = dict.fromkeys(["decode+RGB", "sample params", "warp", "annotations", "colour", "targets",
                           "CHW copy"], 0.0)
    for i in tqdm(range(num_samples), desc="stages"):
        index = i % len(source)
        record = source.records[index]
        rng = source.rng_for(index, i // len(source))
        t0 = time.process_time()
        image = source.read_image(index)
        t1 = time.process_time()
        geometry = augment.sample_geometry(image.shape[0], image.shape[1], record["boxes"], rng)
        color = augment.sample_color(rng)
        t2 = time.process_time()
        warped = warp_image(image, geometry.matrix, augment.input_size, augment.border_value,
                            augment.antialias_below)
        t3 = time.process_time()
        boxes, lms, valid, _ = augment.transform_annotations(geometry, record["boxes"].astype(np.float64),
                                                             record["landmarks"].astype(np.float64),
                                                             record["landmark_valid"])
        t4 = time.process_time()
        out = augment.apply_color(warped, color)
        t5 = time.process_time()
        targets(boxes, lms, valid)
        t6 = time.process_time()
        hwc_to_chw(out)
        t7 = time.process_time()
        for key, dt in zip(times, np.diff([t0, t1, t2, t3, t4, t5, t6, t7])):
            times[key] += dt
    return {key: 1e3 * value / num_samples for key, value in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--train_size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image_size", type=int, nargs=2, default=(640, 480), metavar=("W", "H"),
                        help="generated JPEG size (WIDER FACE images are 1024 wide)")
    args = parser.parse_args(argv)
    print(machine_description())
    with tempfile.TemporaryDirectory() as tmp:
        write_benchmark_images(tmp, args.images, tuple(args.image_size), seed=args.seed)
        rate = measure_data_throughput(args.images, args.train_size, args.samples, args.seed, folder=tmp,
                                       progress=True)
        cpu_rate = measure_data_throughput(args.images, args.train_size, args.samples, args.seed, folder=tmp,
                                           progress=True, cpu_time=True)
        previous = _one_thread_opencv()
        try:
            stages = stage_breakdown(build_source(tmp, args.train_size, args.seed), args.samples)
        finally:
            cv2.setNumThreads(previous)
    width, height = args.image_size
    print(f"\n{args.images} images {width}x{height} JPEG -> {args.train_size}x{args.train_size}, "
          f"{args.samples} samples, one process, OpenCV 1 thread")
    print(f"{'stage':<16}{'CPU ms/sample':>14}")
    for key, value in stages.items():
        print(f"{key:<16}{value:>14.2f}")
    print(f"{'sum of stages':<16}{sum(stages.values()):>14.2f}")
    print(f"throughput: {rate:.1f} img/s per process (wall clock), {cpu_rate:.1f} img/s per CPU-second "
          f"(= one uncontended core; target >= 100)")
    return rate


if __name__ == "__main__":
    main()
