"""COCO person-keypoint evaluation speed: pycocotools vs faster-coco-eval, keypoints + bbox, in one run.

    python benchmarks/bench_coco_eval.py [--images 5000] [--runs 3] [--seed 0] [--max-dets 20]

Synthesises `--images` images of ground truth and results from the statistics of the real COCO val persons
in tests/data/coco_person_kpt_mini (4 images, 14 persons): every image takes the size and the person count of
a random mini image; every person is a random mini person (its box, its labelled-joint pattern and pose,
including the persons without labelled joints) rescaled by exp(N(0, 0.35)) and moved to a random place
inside the image. Results: each person is found with probability 0.9 (box jittered by 5 % of its size,
labelled joints moved by N(0, (0.05 sqrt(area))^2) per axis, the others anywhere in the box, score
U(0.3, 1)), plus false positives (random mini-sized boxes, random joints, score U(0.01, 0.6)) up to
`--max-dets` results per image (CenterNet's results carry K detections per image; COCOeval keypoints
looks at 20).

Both backends then run `dependency.coco.coco_eval.evaluate` on the same in-memory ground truth and
results (input checks, COCO indexing, loadRes, evaluate, accumulate, summarize for 'keypoints' then 'bbox'),
timed as the median of `--runs` interleaved rounds (benchmarks/common.py), and their 22 numbers are
compared.
"""
import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.common import interleaved_medians, machine_description  # noqa: E402
from dependency.coco.coco_eval import (STAT_NAMES, evaluate, load_annotations, load_results,  # noqa: E402
                                            results_from_detections)

MINI_ANNOTATIONS = ROOT / "tests" / "data" / "coco_person_kpt_mini" / "test_coco.json"
BACKEND_LABELS = {"pycocotools": "pycocotools", "faster_coco_eval": "faster-coco-eval"}


def _place_person(template, image_w, image_h, rng):
    """(bbox xywh, keypoints (17, 3), area) of `template` rescaled by exp(N(0, 0.35)) (capped so that it
    fits) and moved to a uniformly random position inside the image."""
    x, y, w, h = template["bbox"]
    scale = min(float(np.exp(rng.normal(0.0, 0.35))), image_w / w, image_h / h)
    new_x = rng.uniform(0.0, max(image_w - w * scale, 0.0))  # max: a capped scale may leave -1e-13
    new_y = rng.uniform(0.0, max(image_h - h * scale, 0.0))
    joints = np.array(template["keypoints"], dtype=np.float64).reshape(17, 3)
    labelled = joints[:, 2] > 0
    joints[labelled, 0] = (joints[labelled, 0] - x) * scale + new_x
    joints[labelled, 1] = (joints[labelled, 1] - y) * scale + new_y
    return [new_x, new_y, w * scale, h * scale], joints, template["area"] * scale ** 2


def synthesise(mini, num_images, max_dets, rng):
    """(COCO ground-truth dict, {image_id: (boxes xyxy, scores, keypoints (N, 17, 2))}) built from the mini
    set's statistics as the module docstring describes."""
    persons_of = {image["id"]: [a for a in mini["annotations"] if a["image_id"] == image["id"]]
                  for image in mini["images"]}
    mini_images = [image for image in mini["images"] if persons_of[image["id"]]]
    templates = mini["annotations"]
    sizes = np.array([a["bbox"][2:] for a in templates])
    images, annotations, detections = [], [], {}
    for image_id in range(1, num_images + 1):
        source = mini_images[rng.integers(len(mini_images))]
        width, height = source["width"], source["height"]
        images.append({"id": image_id, "width": width, "height": height, "file_name": f"{image_id:012d}.jpg"})
        boxes, scores, points = [], [], []
        for _ in range(len(persons_of[source["id"]])):
            template = templates[rng.integers(len(templates))]
            bbox, joints, area = _place_person(template, width, height, rng)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                                "bbox": bbox, "area": area, "num_keypoints": int((joints[:, 2] > 0).sum()),
                                "keypoints": joints.ravel().tolist()})
            if rng.random() >= 0.9 or len(scores) >= max_dets:
                continue
            x, y, w, h = bbox
            box = np.array([x, y, x + w, y + h]) + rng.normal(0.0, 0.05, 4) * [w, h, w, h]
            box[2:] = np.maximum(box[2:], box[:2] + 1.0)
            found = joints[:, :2] + rng.normal(0.0, 0.05 * np.sqrt(area), (17, 2))
            unlabelled = joints[:, 2] == 0
            found[unlabelled] = rng.uniform(box[:2], box[2:], (int(unlabelled.sum()), 2))
            boxes.append(box), scores.append(rng.uniform(0.3, 1.0)), points.append(found)
        for _ in range(rng.integers(0, max_dets - len(scores) + 1)):
            w, h = sizes[rng.integers(len(sizes))]
            x0, y0 = rng.uniform(0, max(width - w, 1.0)), rng.uniform(0, max(height - h, 1.0))
            box = np.array([x0, y0, x0 + w, y0 + h])
            boxes.append(box), scores.append(rng.uniform(0.01, 0.6)), points.append(rng.uniform(box[:2], box[2:],
                                                                                                  (17, 2)))
        detections[image_id] = (np.array(boxes).reshape(-1, 4), np.array(scores), np.array(points).reshape(-1, 17, 2))
    ground_truth = {"info": {"description": "synthetic, from coco_person_kpt_mini statistics"}, "images": images,
                    "annotations": annotations, "categories": mini["categories"]}
    return ground_truth, detections


def _backends():
    names = ["pycocotools"]
    try:
        import faster_coco_eval  # noqa: F401
        names.append("faster_coco_eval")
    except ImportError:
        pass
    return names


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name, dist in (("pycocotools", "pycocotools"), ("faster_coco_eval", "faster-coco-eval")):
        try:
            out[name] = version(dist)
        except PackageNotFoundError:
            out[name] = "?"
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=5000, help="synthetic images (COCO val has 5000)")
    parser.add_argument("--runs", type=int, default=3, help="interleaved timing rounds (median reported)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-dets", type=int, default=20, help="results per image at most")
    args = parser.parse_args(argv)
    if args.images < 1 or args.runs < 1 or args.max_dets < 1:
        parser.error("--images, --runs and --max-dets must be >= 1")

    mini = json.loads(MINI_ANNOTATIONS.read_text())
    start = time.perf_counter()
    ground_truth, detections = synthesise(mini, args.images, args.max_dets, np.random.default_rng(args.seed))
    results = results_from_detections(detections)
    synth_seconds = time.perf_counter() - start
    image_ids = list(detections)
    start = time.perf_counter()
    dataset, _ = load_annotations(ground_truth)
    load_results(results, {image["id"] for image in dataset["images"]})
    check_seconds = time.perf_counter() - start

    backends = _backends()
    stats = {}

    def run(backend):
        stats[backend] = evaluate(ground_truth, results, backend=backend, image_ids=image_ids, print_fn=None)

    times = interleaved_medians({b: (lambda b=b: run(b)) for b in backends}, runs=args.runs, warmup=0)
    flat = {b: np.array([stats[b][t][n] for t in ("keypoints", "bbox") for n in STAT_NAMES[t]]) for b in backends}
    max_diff = float(np.abs(flat[backends[-1]] - flat["pycocotools"]).max())

    versions = _versions()
    n_with_joints = sum(a["num_keypoints"] > 0 for a in ground_truth["annotations"])
    print(f"machine: {machine_description()}")
    print(f"synthetic COCO person keypoints (seed {args.seed}, statistics of coco_person_kpt_mini): {args.images} "
          f"images, {len(ground_truth['annotations'])} persons ({n_with_joints} with labelled joints), "
          f"{len(results)} results (<= {args.max_dets} per image); made in {synth_seconds:.1f} s")
    print(f"{'keypoints + bbox evaluation, median of ' + str(args.runs) + ' interleaved runs':62s} "
          f"{'seconds':>8s} {'speed-up':>9s}")
    for backend in backends:
        label = f"{BACKEND_LABELS[backend]} {versions[backend]}"
        print(f"{label:62s} {times[backend]:8.2f} {times['pycocotools'] / times[backend]:8.2f}x")
    if len(backends) == 1:
        print("faster-coco-eval is not installed: only pycocotools was timed")
    print(f"  input checks of dependency.coco (part of both): {check_seconds:.2f} s")
    reference = stats["pycocotools"]
    print(f"  keypoint AP {reference['keypoints']['AP']:.4f}, bbox AP {reference['bbox']['AP']:.4f}; "
          f"max |{BACKEND_LABELS[backends[-1]]} - pycocotools| over the 22 numbers = {max_diff:.1e}")
    return {"seconds": times, "ratio": times["pycocotools"] / times[backends[-1]], "max_abs_diff": max_diff,
            "stats": stats["pycocotools"], "num_results": len(results),
            "num_persons": len(ground_truth["annotations"])}


if __name__ == "__main__":
    main()
