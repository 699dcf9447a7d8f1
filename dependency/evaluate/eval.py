"""WIDER FACE validation AP (Easy / Medium / Hard), exactly as the official MATLAB tool, in about a second.

    python -m dependency.evaluate.eval --pred PRED_DIR --gt GT_DIR [--iou 0.5] [--json OUT.json] [--plot OUT.png]
    python dependency/evaluate/eval.py --pred PRED_DIR --gt GT_DIR     # the same, as the old zoo ran it
    cd dependency/evaluate && python eval.py --pred PRED_DIR --gt GT_DIR

or `from dependency.evaluate.eval import evaluate`. Needs numpy and scipy (matplotlib only for --plot);
the compiled `box_overlaps` extension is used when built, its numpy twin otherwise.

Algorithm of the official eval_tools (wider_eval.m, read_pred.m, norm_score.m, evaluation.m; the facts
are summarised in docs/design.md "WIDER FACE evaluation"):
1. every image's predictions are sorted by score, descending (the order among equal scores cannot
   change any count below: tied predictions always enter together);
2. scores are min-max normalised over all predictions of all images;
3. per image, predictions in that order each take the GT box of maximum IoU (+1 pixel convention, first
   box on ties); if that IoU >= the threshold (0.5) and the GT is kept in the setting, the GT is recalled
   (once; later matches of the same GT are false positives); if the GT is not kept, the prediction is
   ignored (neither true nor false positive);
4. for 1000 thresholds 1 - t/1000 (t = 1..1000) and every image, the predictions with normalised score
   >= threshold give #proposals (ignored ones excluded) and #recalled GT; sums over images give
   precision = recalled / proposals and recall = recalled / #kept faces;
5. AP is the VOC all-point area under the precision envelope.
Images without any GT box are skipped entirely, as in the official tool (their predictions are no false
positives). Because of (1) the per-image counts at a threshold are prefix sums, so all images and all
1000 thresholds are done at once with a sort and a cumulative sum instead of 3 x 3226 x 1000 loops.

Deviations, all in cases where the official tool fails or is undefined: all-equal scores normalise to 1
instead of 0/0 = NaN (which would drop every prediction); the min-max uses the true extremes (MATLAB
starts max at realmin('single'), which differs only when every score is <= 1.2e-38); precision at a
threshold with no proposal is 0 instead of NaN (those points have recall 0, so AP is unchanged); a
malformed prediction file is an error instead of a printed "Invalid format" and an empty image.
"""
import argparse
import json
import sys
import time
import warnings
from pathlib import Path

if __name__ == "__main__" and not __package__:
    # Run as a file: the old zoo's `cd dependency/evaluate && python eval.py ...` or `python
    # dependency/evaluate/eval.py ...` from the root. Python put this file's folder first on the module path, where
    # the package `dependency` is not found (and this folder's modules would pass for top-level ones): the
    # repository root takes its place, as for `python -m dependency.evaluate.eval` run from the root.
    sys.path[0] = str(Path(__file__).resolve().parents[2])

import numpy as np

from dependency.atomic import atomic_write
from dependency.evaluate.ground_truth import SETTINGS, load_ground_truth
from dependency.evaluate.overlaps import CYTHON_AVAILABLE, max_overlaps_by_image, xywh_to_corners
from dependency.evaluate.predictions import read_predictions

THRESH_NUM = 1000
AP_LABELS = {"easy": "Easy  ", "medium": "Medium", "hard": "Hard  "}


def order_by_image_then_score(image_start, scores):
    """Permutation sorting predictions by image (kept grouped) then score descending, stable."""
    image_of_pred = np.repeat(np.arange(len(image_start) - 1), np.diff(image_start))
    return np.lexsort((-scores, image_of_pred))


def normalise_scores(scores):
    """Global min-max normalisation to [0, 1]; all-equal scores become 1 (kept at every threshold)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return scores.copy()
    lo, hi = scores.min(), scores.max()
    if hi == lo:
        return np.ones_like(scores)
    return (scores - lo) / (hi - lo)


def setting_outcomes(max_iou, gt_index, included, kept, iou_thresh):
    """Per prediction (in image, score-descending order): is it a proposal, does it recall a new face.

    included: predictions of images that have GT boxes; kept: (M,) bool mask of the setting's faces.
    """
    hit = included & (max_iou >= iou_thresh)
    hit_kept = np.zeros_like(hit)
    hit_kept[hit] = kept[gt_index[hit]]
    is_proposal = included & ~(hit & ~hit_kept)
    is_new_recall = np.zeros_like(hit)
    hit_positions = np.flatnonzero(hit_kept)
    # Predictions are grouped by image and gt_index is global, so the first occurrence of a GT index is
    # the first (highest-score) prediction of its image that matches it: the one that recalls it.
    _, first = np.unique(gt_index[hit_positions], return_index=True)
    is_new_recall[hit_positions[first]] = True
    return is_proposal, is_new_recall


def pr_curve(norm_scores, is_proposal, is_new_recall, num_faces, thresh_num=THRESH_NUM):
    """Precision and recall at thresholds 1 - t/thresh_num, t = 1..thresh_num (official order)."""
    thresholds = 1.0 - np.arange(1, thresh_num + 1) / thresh_num
    order = np.argsort(norm_scores, kind="stable")
    sorted_scores = norm_scores[order]
    below = np.searchsorted(sorted_scores, thresholds, side="left")  # predictions with score < threshold

    def count_at_or_above(flags):
        cumulative = np.concatenate([[0], np.cumsum(flags[order], dtype=np.int64)])
        return cumulative[-1] - cumulative[below]

    proposals = count_at_or_above(is_proposal)
    recalled = count_at_or_above(is_new_recall)
    precision = np.divide(recalled, proposals, out=np.zeros(thresh_num), where=proposals > 0)
    recall = recalled / num_faces if num_faces > 0 else np.zeros(thresh_num)
    return {"threshold": thresholds, "precision": precision, "recall": recall,
            "proposals": proposals, "recalled": recalled}


def voc_ap(recall, precision):
    """VOC all-point AP: area under the monotone (non-increasing) envelope of precision over recall."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[steps] - mrec[steps - 1]) * mpre[steps]))


def _check_iou_thresh(iou_thresh):
    if not 0.0 <= iou_thresh <= 1.0:
        raise ValueError(f"iou_thresh={iou_thresh}; expected a value in [0, 1] (official: 0.5)")


def evaluate_predictions(gt, preds, iou_thresh=0.5, thresh_num=THRESH_NUM, use_cython=True):
    """AP per setting and PR curves for WiderPredictions `preds` against WiderGroundTruth `gt`."""
    _check_iou_thresh(iou_thresh)
    if len(preds.image_start) != gt.num_images + 1:
        raise ValueError(f"predictions cover {len(preds.image_start) - 1} images but the ground truth has "
                         f"{gt.num_images}; expected predictions read for this ground truth")
    order = order_by_image_then_score(preds.image_start, preds.scores)
    scores = normalise_scores(preds.scores[order])
    max_iou, gt_index = max_overlaps_by_image(xywh_to_corners(preds.boxes[order]), preds.image_start,
                                              xywh_to_corners(gt.boxes), gt.image_start, use_cython=use_cython)
    gt_per_image = np.diff(gt.image_start)
    included = np.repeat(gt_per_image > 0, np.diff(preds.image_start))
    result = {"iou_thresh": float(iou_thresh), "num_images": gt.num_images, "num_predictions": int(len(scores)),
              "num_missing_files": len(preds.missing_files), "num_faces": {}, "pr_curves": {}}
    for setting, kept in gt.kept.items():
        num_faces = int(kept.sum())
        if num_faces == 0:
            warnings.warn(f"setting '{setting}' has no kept faces; its AP is reported as 0", stacklevel=2)
        is_proposal, is_new_recall = setting_outcomes(max_iou, gt_index, included, kept, iou_thresh)
        curve = pr_curve(scores, is_proposal, is_new_recall, num_faces, thresh_num)
        result[setting] = voc_ap(curve["recall"], curve["precision"])
        result["num_faces"][setting] = num_faces
        result["pr_curves"][setting] = curve
    return result


def evaluate(pred_dir, gt_dir, iou_thresh=0.5, use_cython=True, progress=False):
    """Read `<pred_dir>/<event>/<stem>.txt` and the .mat ground truth in `gt_dir`; return a dict with
    the APs under "easy", "medium", "hard", their PR curves under "pr_curves", and counts."""
    _check_iou_thresh(iou_thresh)
    gt = load_ground_truth(gt_dir)
    preds = read_predictions(pred_dir, gt, progress=progress)
    return evaluate_predictions(gt, preds, iou_thresh=iou_thresh, use_cython=use_cython)


def format_aps(result):
    """The three lines of the old model zoo (users grep them)."""
    return "\n".join(f"{AP_LABELS[s]} Val AP: {result[s]}" for s in SETTINGS if s in result)


def save_json(result, path):
    """APs, counts and PR curves as JSON, written atomically."""
    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, np.ndarray):
            return value.tolist()
        return value
    atomic_write(path, lambda f: f.write(json.dumps(plain(result), indent=1).encode("utf-8")))


def plot_pr_curves(result, path):
    """Precision-recall curves of the three settings as an image (format from the suffix), atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=120)
    for setting, curve in result["pr_curves"].items():
        ax.plot(curve["recall"], curve["precision"], label=f"{setting} AP {result[setting]:.4f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01),
           title=f"WIDER FACE val, IoU {result['iou_thresh']}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fmt = Path(path).suffix.lstrip(".") or "png"
    atomic_write(path, lambda f: fig.savefig(f, format=fmt, bbox_inches="tight"))
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="WIDER FACE validation AP (official MATLAB algorithm).")
    parser.add_argument("--pred", required=True, help="prediction folder: <pred>/<event>/<image>.txt")
    parser.add_argument("--gt", required=True,
                        help="folder with wider_face_val.mat and wider_{easy,medium,hard}_val.mat")
    parser.add_argument("--iou", type=float, default=0.5, help="IoU threshold (official: 0.5)")
    parser.add_argument("--json", default=None, help="write APs, counts and PR curves to this JSON file")
    parser.add_argument("--plot", default=None, help="write the PR curves to this image (e.g. pr.png)")
    return parser.parse_args(argv)


def main(argv=None):
    """CLI: prints the three AP lines on stdout; counts and timing go to stderr."""
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        result = evaluate(args.pred, args.gt, iou_thresh=args.iou, progress=sys.stderr.isatty())
    except (OSError, ValueError, KeyError) as error:  # one line, no traceback (README "Exit codes and outputs")
        print(f"error: {error.args[0] if isinstance(error, KeyError) else error}", file=sys.stderr)
        sys.exit(3 if isinstance(error, OSError) and not isinstance(error, FileNotFoundError) else 2)
    seconds = time.perf_counter() - start
    print(format_aps(result), flush=True)
    if args.json:
        save_json(result, args.json)
    if args.plot:
        plot_pr_curves(result, args.plot)
    print(f"evaluated {result['num_predictions']} predictions on {result['num_images']} images "
          f"({result['num_missing_files']} files missing) at IoU {args.iou} in {seconds:.2f} s "
          f"({'Cython' if CYTHON_AVAILABLE else 'numpy'} overlaps)"
          + (f"; wrote {args.json}" if args.json else "") + (f"; wrote {args.plot}" if args.plot else ""),
          file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
