"""WIDER FACE evaluation speed: this repository's evaluator vs the popular Python port's per-image loop.

    python benchmarks/bench_eval.py [--gt tests/data/widerface_gt] [--seed 0] [--peer-images N]

Generates ~40k predictions for the real validation ground truth (jittered GT boxes with random scores
plus random false positives, fixed seed), writes them as `pred/<event>/<image>.txt` into a temporary
folder, and times, reading included:
(a) `dependency.evaluate.eval.evaluate` with the compiled overlaps, (a') the same with the numpy twin
    (median of interleaved runs);
(b) "peer": a straightforward per-image re-implementation, written here, of the loop of the popular
    Python port of the official tool (line-by-line file parsing, per-prediction matching, and a Python
    loop over the 1000 thresholds for every image and setting; full IoU matrix per image, as the port
    does with its compiled bbox_overlaps). It runs on all images by default (about a minute); with
    `--peer-images N` it is timed on every k-th image and extrapolated linearly, which the table says.
Files are written sorted by score so that the peer (which does not sort) must agree with (a); the
APs of both on the peer's subset are compared as a cross-check.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from benchmarks.common import interleaved_medians, machine_description  # noqa: E402
from dependency.evaluate.eval import evaluate, evaluate_predictions  # noqa: E402
from dependency.evaluate.ground_truth import SETTINGS, WiderGroundTruth, load_ground_truth  # noqa: E402
from dependency.evaluate.overlaps import CYTHON_AVAILABLE, box_overlaps  # noqa: E402
from dependency.evaluate.predictions import predictions_from_arrays, read_predictions  # noqa: E402

THRESH_NUM = 1000


def synthetic_predictions(gt, rng, keep_fraction=0.85, false_fraction=0.16):
    """{(event, stem): (n, 5)} sorted by score: most GT boxes jittered (score 0.3..1), plus random boxes
    (score 0..0.8) inside each image's GT extent."""
    per_image = {}
    for i, key in enumerate(zip(gt.events, gt.stems)):
        boxes = gt.boxes[gt.image_start[i]:gt.image_start[i + 1]]
        hits = boxes[rng.random(len(boxes)) < keep_fraction]
        size = np.maximum(hits[:, 2:], 1.0)
        jittered = np.c_[hits[:, :2] + rng.normal(0, 0.08, hits[:, :2].shape) * size,
                         size * np.exp(rng.normal(0, 0.1, size.shape))]
        n_false = rng.poisson(false_fraction * max(len(boxes), 1))
        extent = boxes[:, :2].max(axis=0) + 50 if len(boxes) else np.array([1024.0, 768.0])
        false = np.c_[rng.uniform(0, 1, (n_false, 2)) * extent, rng.uniform(6, 80, (n_false, 2))]
        rows = np.r_[np.c_[jittered, rng.uniform(0.3, 1.0, len(jittered))],
                     np.c_[false, rng.uniform(0.0, 0.8, n_false)]]
        per_image[key] = rows[np.argsort(-rows[:, 4], kind="stable")]
    return per_image


def write_prediction_files(pred_dir, per_image):
    for (event, stem), rows in per_image.items():
        folder = pred_dir / event
        folder.mkdir(parents=True, exist_ok=True)
        body = "".join(f"{x:.2f} {y:.2f} {w:.2f} {h:.2f} {s:.6f}\n" for x, y, w, h, s in rows)
        (folder / f"{stem}.txt").write_text(f"{stem}\n{len(rows)}\n{body}")


# ------------------------------------------------------------------ the peer: per-image loops
def peer_read(pred_dir, images):
    preds = {}
    for event, stem in images:
        with open(os.path.join(pred_dir, event, stem + ".txt")) as f:
            lines = f.readlines()[2:]
        preds[(event, stem)] = np.array([[float(v) for v in line.split()] for line in lines]).reshape(-1, 5)
    return preds


def peer_normalise(preds):
    scores = [p[:, 4] for p in preds.values() if len(p)]
    lo, hi = min(s.min() for s in scores), max(s.max() for s in scores)
    for p in preds.values():
        p[:, 4] = (p[:, 4] - lo) / (hi - lo)


def peer_image_eval(pred, gt_boxes, kept, iou_thresh):
    """No sorting here: the port trusts the file order."""
    pred_c = np.c_[pred[:, :2], pred[:, :2] + pred[:, 2:4]]
    gt_c = np.c_[gt_boxes[:, :2], gt_boxes[:, :2] + gt_boxes[:, 2:]]
    ious = box_overlaps(pred_c, gt_c)
    recall_list = np.zeros(len(gt_boxes))
    proposal_list = np.ones(len(pred))
    pred_recall = np.zeros(len(pred))
    for h in range(len(pred)):
        idx = ious[h].argmax()
        if ious[h, idx] >= iou_thresh:
            if not kept[idx]:
                recall_list[idx] = -1
                proposal_list[h] = -1
            elif recall_list[idx] == 0:
                recall_list[idx] = 1
        pred_recall[h] = len(np.where(recall_list == 1)[0])
    return proposal_list, pred_recall


def peer_image_pr(pred_scores, proposal_list, pred_recall):
    info = np.zeros((THRESH_NUM, 2))
    for t in range(THRESH_NUM):
        above = np.where(pred_scores >= 1 - (t + 1) / THRESH_NUM)[0]
        if len(above):
            r = above[-1]
            info[t, 0] = len(np.where(proposal_list[:r + 1] == 1)[0])
            info[t, 1] = pred_recall[r]
    return info


def peer_voc_ap(rec, prec):
    mrec, mpre = np.r_[0.0, rec, 1.0], np.r_[0.0, prec, 0.0]
    for i in range(len(mpre) - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    steps = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


def peer_evaluate(pred_dir, gt, image_ids, iou_thresh=0.5):
    images = [(gt.events[i], gt.stems[i]) for i in image_ids]
    preds = peer_read(pred_dir, images)
    peer_normalise(preds)
    aps = {}
    for setting in SETTINGS:
        curve, count_face = np.zeros((THRESH_NUM, 2)), 0
        for i, key in zip(tqdm(image_ids, desc=f"peer {setting}", leave=False), images):
            sl = slice(gt.image_start[i], gt.image_start[i + 1])
            kept = gt.kept[setting][sl]
            count_face += int(kept.sum())
            pred = preds[key]
            if len(pred) == 0 or sl.stop == sl.start:
                continue
            proposal_list, pred_recall = peer_image_eval(pred, gt.boxes[sl], kept, iou_thresh)
            curve += peer_image_pr(pred[:, 4], proposal_list, pred_recall)
        with np.errstate(invalid="ignore"):
            precision = curve[:, 1] / curve[:, 0]
        aps[setting] = peer_voc_ap(curve[:, 1] / count_face, np.nan_to_num(precision))
    return aps


def subset_ground_truth(gt, image_ids):
    """WiderGroundTruth restricted to `image_ids` (for the AP cross-check on the peer's subset)."""
    slices = [np.arange(gt.image_start[i], gt.image_start[i + 1]) for i in image_ids]
    rows = np.concatenate(slices)
    return WiderGroundTruth(events=[gt.events[i] for i in image_ids], stems=[gt.stems[i] for i in image_ids],
                            boxes=gt.boxes[rows],
                            image_start=np.concatenate([[0], np.cumsum([len(s) for s in slices])]),
                            kept={s: gt.kept[s][rows] for s in SETTINGS})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gt", default=str(ROOT / "tests" / "data" / "widerface_gt"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=5, help="interleaved timing rounds for (a) and (a')")
    parser.add_argument("--peer-images", type=int, default=0,
                        help="time the peer on ~N images and extrapolate (0 = all)")
    args = parser.parse_args(argv)

    gt = load_ground_truth(args.gt)
    per_image = synthetic_predictions(gt, np.random.default_rng(args.seed))
    n_pred = sum(len(p) for p in per_image.values())
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as tmp:
        pred_dir = Path(tmp) / "pred"
        write_prediction_files(pred_dir, per_image)
        start = time.perf_counter()
        result = evaluate(pred_dir, args.gt)
        first_seconds = time.perf_counter() - start
        candidates = {"cython": lambda: evaluate(pred_dir, args.gt, use_cython=True),
                      "numpy": lambda: evaluate(pred_dir, args.gt, use_cython=False)}
        if not CYTHON_AVAILABLE:
            candidates.pop("cython")
        times = interleaved_medians(candidates, runs=args.runs, warmup=1)
        start = time.perf_counter()
        load_ground_truth(args.gt)
        load_seconds = time.perf_counter() - start
        start = time.perf_counter()
        preds = read_predictions(pred_dir, gt)
        read_seconds = time.perf_counter() - start
        start = time.perf_counter()
        evaluate_predictions(gt, preds)
        match_seconds = time.perf_counter() - start

        step = 1 if args.peer_images <= 0 else max(1, gt.num_images // args.peer_images)
        image_ids = list(range(0, gt.num_images, step))
        start = time.perf_counter()
        peer_aps = peer_evaluate(pred_dir, gt, image_ids)
        peer_seconds = (time.perf_counter() - start) * gt.num_images / len(image_ids)
    if step == 1:
        ours_on_peer_images = result
    else:
        sub_gt = subset_ground_truth(gt, image_ids)
        sub_preds = {key: per_image[key] for key in zip(sub_gt.events, sub_gt.stems)}
        ours_on_peer_images = evaluate_predictions(sub_gt, predictions_from_arrays(sub_gt, sub_preds))
    diff = max(abs(ours_on_peer_images[s] - peer_aps[s]) for s in SETTINGS)

    ours = times.get("cython", times["numpy"])
    peer_label = "peer per-image loop" + ("" if step == 1 else f" (timed on {len(image_ids)} images, extrapolated)")
    print(f"machine: {machine_description()}")
    print(f"WIDER FACE val: {gt.num_images} images, {len(gt.boxes)} GT boxes, {n_pred} predictions (seed {args.seed}); "
          f"Cython overlaps {'built' if CYTHON_AVAILABLE else 'NOT built'}")
    print(f"{'evaluator (reading included)':58s} {'seconds':>9s} {'vs ours':>8s}")
    labels = {"cython": "this repo, compiled overlaps (median)", "numpy": "this repo, numpy fallback (median)"}
    for name, label in labels.items():
        if name in times:
            print(f"{label:58s} {times[name]:9.3f} {times[name] / ours:7.2f}x")
    print(f"{peer_label:58s} {peer_seconds:9.1f} {peer_seconds / ours:7.0f}x")
    print(f"  ours, one run: loading the .mat files {load_seconds:.3f} s, reading {preds.image_start[-1]} predictions "
          f"from {gt.num_images} files {read_seconds:.3f} s, matching + curves + AP {match_seconds:.3f} s; "
          f"first (cold) run {first_seconds:.3f} s")
    print("APs (ours, full set): " + ", ".join(f"{s} {result[s]:.6f}" for s in SETTINGS))
    print(f"cross-check on the peer's {len(image_ids)} images (files sorted by score): "
          f"max |AP ours - AP peer| = {diff:.2e}")
    return {"ours_seconds": ours, "peer_seconds": peer_seconds, "ap_diff": diff}


if __name__ == "__main__":
    main()
