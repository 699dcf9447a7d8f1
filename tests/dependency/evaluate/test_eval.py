"""WIDER FACE AP: hand-computed tiny cases, properties, real ground truth, a plain reference, the CLI.

Hand-computed APs use the official definitions: at threshold 1 - t/1000 (t = 1..1000) precision =
recalled faces / proposals and recall = recalled faces / kept faces; AP = VOC all-point area, i.e. sum
over recall steps of (step width) x (best precision at that recall or beyond).
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from dependency.evaluate import overlaps
from dependency.evaluate.eval import evaluate, evaluate_predictions, format_aps, voc_ap
from dependency.evaluate.ground_truth import load_ground_truth
from dependency.evaluate.predictions import predictions_from_arrays
from tests.dependency.evaluate.wider_files import write_predictions, write_wider_gt

SETTINGS = ("easy", "medium", "hard")
BOX = [0, 0, 9, 9]  # 10 x 10 pixels with the +1 convention


def _row(box, score):
    return [*box, score]


# ---------------------------------------------------------------- hand-computed tiny cases
def test_three_faces_tp_fp_tp(make_gt, make_preds):
    # GT: three faces. Predictions (score): face 1 (1.0), a false positive (0.5), face 2 (0.0).
    # Normalised scores stay 1, 0.5, 0. Thresholds > 0.5: P=1/1, R=1/3; (0, 0.5]: P=1/2, R=1/3;
    # threshold 0: P=2/3, R=2/3. AP = 1/3 * 1 (envelope at R=1/3 is 1) + 1/3 * 2/3 = 5/9.
    gt = make_gt([("0--A", [("a_1", [BOX, [20, 0, 9, 9], [40, 0, 9, 9]], {})])])
    pred = make_preds({("0--A", "a_1"): [_row(BOX, 1.0), _row([100, 100, 9, 9], 0.5), _row([20, 0, 9, 9], 0.0)]})
    result = evaluate(pred, gt)
    for s in SETTINGS:
        assert result[s] == pytest.approx(5 / 9, abs=1e-12)
    curve = result["pr_curves"]["easy"]
    assert curve["proposals"][0] == 1 and curve["proposals"][600] == 2 and curve["proposals"][-1] == 3


def test_file_order_does_not_matter(make_gt, make_preds):
    # Same case written worst-first: the official tool sorts each image's predictions by score (the
    # popular Python port does not, and would give 2/3 * 2/3 + 0 = 4/9 here).
    gt = make_gt([("0--A", [("a_1", [BOX, [20, 0, 9, 9], [40, 0, 9, 9]], {})])])
    pred = make_preds({("0--A", "a_1"): [_row([20, 0, 9, 9], 0.0), _row([100, 100, 9, 9], 0.5), _row(BOX, 1.0)]})
    assert evaluate(pred, gt)["easy"] == pytest.approx(5 / 9, abs=1e-12)


def test_second_detection_of_a_face_is_a_false_positive(make_gt, make_preds):
    # Faces G1, G2. P1 on G1 (1.0), P2 on G1 again (0.5), P3 on G2 (0.0).
    # (0.5, 1): P=1, R=1/2; (0, 0.5]: P=1/2, R=1/2; 0: P=2/3, R=1. AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    gt = make_gt([("0--A", [("a_1", [BOX, [20, 0, 9, 9]], {})])])
    pred = make_preds({("0--A", "a_1"): [_row(BOX, 1.0), _row([0, 0, 9, 8], 0.5), _row([20, 0, 9, 9], 0.0)]})
    assert evaluate(pred, gt)["hard"] == pytest.approx(5 / 6, abs=1e-12)


@pytest.mark.parametrize("iou, expected_ap", [(0.5, 1.0), (0.5 + 1e-9, 0.0), (0.4, 1.0)])
def test_iou_exactly_at_threshold_is_a_match(make_gt, make_preds, iou, expected_ap):
    # Prediction [0, 0, 4, 9] covers 5 x 10 = 50 of the GT's 100 pixels: IoU = 50 / 100 = 0.5 exactly.
    # Matched (>=) -> P = R = 1 -> AP 1; just above the threshold it is a false positive -> AP 0.
    gt = make_gt([("0--A", [("a_1", [BOX], {})])])
    pred = make_preds({("0--A", "a_1"): [_row([0, 0, 4, 9], 0.9)]})
    result = evaluate(pred, gt, iou_thresh=iou)
    assert result["easy"] == expected_ap


def test_matching_an_ignored_face_is_no_false_positive(make_gt, make_preds):
    # G1 kept in every setting, G2 only in hard. P(G2) scores 1.0, P(G1) scores 0.0.
    # easy: P(G2) is ignored, so P(G1) alone gives P = R = 1 -> AP 1 (counting P(G2) as a false
    # positive would give P=0 at thresholds > 0 and P=1/2, R=1 at 0 -> AP 1/2).
    # hard: both are true positives -> AP 1.
    gt = make_gt([("0--A", [("a_1", [BOX, [20, 0, 9, 9]], {"easy": [1], "medium": [1]})])])
    pred = make_preds({("0--A", "a_1"): [_row([20, 0, 9, 9], 1.0), _row(BOX, 0.0)]})
    result = evaluate(pred, gt)
    assert (result["easy"], result["medium"], result["hard"]) == (1.0, 1.0, 1.0)
    assert result["num_faces"] == {"easy": 1, "medium": 1, "hard": 2}
    assert result["pr_curves"]["easy"]["proposals"][0] == 0 and result["pr_curves"]["hard"]["proposals"][0] == 1


def test_prediction_takes_max_iou_gt_even_if_ignored(make_gt, make_preds):
    # Prediction [0, 0, 12, 9] (13 x 10 pixels) vs kept G1 = BOX: 100 / (130 + 100 - 100) = 0.769;
    # vs G2 = [2, 0, 11, 9] (12 x 10, only kept in hard): 110 / (130 + 120 - 110) = 0.786.
    # It takes G2: ignored in easy, and G1 is never recalled: R = 0 -> AP 0.
    # In hard it recalls G2 (P = 1) but not G1: R = 1/2 -> AP 1/2.
    gt = make_gt([("0--A", [("a_1", [BOX, [2, 0, 11, 9]], {"easy": [1]})])])
    pred = make_preds({("0--A", "a_1"): [_row([0, 0, 12, 9], 0.7)]})
    result = evaluate(pred, gt)
    assert result["easy"] == 0.0 and result["hard"] == pytest.approx(0.5, abs=1e-12)


def test_all_equal_scores_do_not_crash(make_gt, make_preds):
    # All scores 0.3: normalised to 1 (documented; MATLAB would divide 0 by 0). One TP, one FP out of
    # two faces: the single PR point P = 1/2, R = 1/2 -> AP = 1/2 * 1/2 = 1/4.
    gt = make_gt([("0--A", [("a_1", [BOX, [20, 0, 9, 9]], {})])])
    pred = make_preds({("0--A", "a_1"): [_row(BOX, 0.3), _row([50, 50, 9, 9], 0.3)]})
    assert evaluate(pred, gt)["easy"] == pytest.approx(0.25, abs=1e-12)


def test_missing_files_count_as_no_detections(make_gt, make_preds):
    # Two images with one face each; only the first has a (perfect) file: P = 1, R = 1/2 -> AP 1/2.
    gt = make_gt([("0--A", [("a_1", [BOX], {}), ("a_2", [BOX], {})])])
    pred = make_preds({("0--A", "a_1"): [_row(BOX, 0.9)]})
    with pytest.warns(UserWarning, match="1 of 2 prediction files missing"):
        result = evaluate(pred, gt)
    assert result["num_missing_files"] == 1
    assert result["easy"] == pytest.approx(0.5, abs=1e-12)


def test_image_without_faces_is_skipped_like_the_official_tool(make_gt, make_preds):
    # The official tool skips images with no GT box, so a detection there is no false positive.
    gt = make_gt([("0--A", [("a_1", [BOX], {}), ("a_2", np.zeros((0, 4)), {})])])
    pred = make_preds({("0--A", "a_1"): [_row(BOX, 0.1)], ("0--A", "a_2"): [_row(BOX, 0.9)]})
    assert evaluate(pred, gt)["easy"] == 1.0


def test_perfect_predictions_give_ap_one(make_gt, make_preds):
    rng = np.random.default_rng(3)
    images = []
    for i in range(6):
        xy = rng.integers(0, 400, (8, 2))
        boxes = np.c_[xy + np.arange(8)[:, None] * 500, rng.integers(5, 60, (8, 2))]  # disjoint
        images.append((f"a_{i}", boxes, {"easy": [1, 2], "medium": [1, 2, 3, 4]}))
    gt = make_gt([("0--A", images[:3]), ("1--B", images[3:])])
    events = ["0--A"] * 3 + ["1--B"] * 3
    pred = make_preds({(e, stem): np.c_[boxes, rng.random(len(boxes))] for e, (stem, boxes, _) in zip(events, images)})
    result = evaluate(pred, gt)
    assert (result["easy"], result["medium"], result["hard"]) == pytest.approx((1.0, 1.0, 1.0), abs=1e-12)


def test_voc_ap_hand_case():
    # Envelope of [1, 0.5, 2/3] over recalls [1/3, 1/3, 2/3] is [1, 2/3, 2/3]: 1/3 + 1/3 * 2/3 = 5/9.
    assert voc_ap(np.array([1 / 3, 1 / 3, 2 / 3]), np.array([1.0, 0.5, 2 / 3])) == pytest.approx(5 / 9, abs=1e-15)


def test_bad_iou_threshold(make_gt, make_preds):
    gt = make_gt([("0--A", [("a_1", [BOX], {})])])
    with pytest.raises(ValueError, match=r"iou_thresh=1.5; expected a value in \[0, 1\]"):
        evaluate(make_preds({}), gt, iou_thresh=1.5)


def test_format_aps_lines():
    lines = format_aps({"easy": 0.5, "medium": 0.25, "hard": 0.125}).splitlines()
    assert lines == ["Easy   Val AP: 0.5", "Medium Val AP: 0.25", "Hard   Val AP: 0.125"]


# ---------------------------------------------------------------- plain reference implementation
def _iou_with_each_gt(gt_corners, p):
    """boxoverlap.m: IoU of one predicted corner box with each GT corner box, +1 pixel convention."""
    ious = []
    for g in gt_corners:
        iw = min(g[2], p[2]) - max(g[0], p[0]) + 1
        ih = min(g[3], p[3]) - max(g[1], p[1]) + 1
        inter = iw * ih
        union = (g[2] - g[0] + 1) * (g[3] - g[1] + 1) + (p[2] - p[0] + 1) * (p[3] - p[1] + 1) - inter
        ious.append(0.0 if iw <= 0 or ih <= 0 else inter / union)
    return ious


def reference_aps(gt_boxes, kept, preds, iou_thresh=0.5, thresh_num=1000):
    """Per-image loops, written like the MATLAB tool. gt_boxes / preds: lists over images of (k, 4)
    xywh and (n, 5) xywh+score arrays (file order); kept: {setting: list of (k,) bool per image}."""
    preds = [p[sorted(range(len(p)), key=lambda k: -p[k, 4])] for p in preds]  # stable, like MATLAB sort
    scores = [s for p in preds for s in p[:, 4]]
    lo, hi = min(scores), max(scores)
    preds = [np.c_[p[:, :4], (p[:, 4] - lo) / (hi - lo)] for p in preds]
    aps, curves = {}, {}
    for setting, kept_lists in kept.items():
        proposals_sum, recalled_sum, count_face = np.zeros(thresh_num), np.zeros(thresh_num), 0
        for gt, keep, pred in zip(gt_boxes, kept_lists, preds):
            count_face += int(np.sum(keep))
            if len(gt) == 0 or len(pred) == 0:
                continue
            gt_c = [(x, y, x + w, y + h) for x, y, w, h in gt]
            recall_list, proposal_list, pred_recall = [0] * len(gt), [1] * len(pred), []
            for h, (x, y, w, hh, _) in enumerate(pred):
                ious = _iou_with_each_gt(gt_c, (x, y, x + w, y + hh))
                idx = ious.index(max(ious))
                if ious[idx] >= iou_thresh:
                    if not keep[idx]:
                        recall_list[idx], proposal_list[h] = -1, -1
                    elif recall_list[idx] == 0:
                        recall_list[idx] = 1
                pred_recall.append(recall_list.count(1))
            for t in range(1, thresh_num + 1):
                above = np.flatnonzero(pred[:, 4] >= 1 - t / thresh_num)
                if len(above):
                    r_index = above[-1]
                    proposals_sum[t - 1] += proposal_list[:r_index + 1].count(1)
                    recalled_sum[t - 1] += pred_recall[r_index]
        with np.errstate(invalid="ignore"):
            precision = recalled_sum / proposals_sum  # NaN at 0 / 0, as in MATLAB
        recall = recalled_sum / count_face
        mrec, mpre = [0.0, *recall, 1.0], [0.0, *precision, 0.0]
        for i in range(len(mpre) - 2, -1, -1):
            mpre[i] = np.fmax(mpre[i], mpre[i + 1])  # MATLAB max ignores NaN
        aps[setting] = sum((mrec[i] - mrec[i - 1]) * mpre[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1])
        curves[setting] = (proposals_sum, recalled_sum)
    return aps, curves


def _jittered_predictions(rng, boxes, n_false):
    """Some GT boxes jittered (scores rounded to 2 decimals: ties happen), some exact duplicates,
    plus false positives; in random file order."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    take = boxes[rng.random(len(boxes)) < 0.7]
    jitter = take + rng.normal(0, 0.15, take.shape) * np.maximum(take[:, 2:], 1).repeat(2, axis=1)
    dupes = take[: len(take) // 5]
    fp_xy = rng.uniform(0, 900, (n_false, 2))
    false = np.c_[fp_xy, rng.uniform(4, 80, (n_false, 2))]
    rows = np.r_[np.c_[jitter, rng.uniform(0.3, 1, len(jitter)).round(2)],
                 np.c_[dupes, rng.uniform(0, 1, len(dupes)).round(2)],
                 np.c_[false, rng.uniform(0, 0.7, n_false).round(2)]]
    return rows[rng.permutation(len(rows))]


@pytest.fixture(scope="module")
def real_gt(widerface_gt_dir):
    return load_ground_truth(widerface_gt_dir)


@pytest.fixture(scope="module")
def real_subset(real_gt, tmp_path_factory):
    """~100 real images (incl. a duplicated and a negative-width GT box) as tiny .mat files, with
    random predictions written to files."""
    rng = np.random.default_rng(7)
    counts = np.diff(real_gt.image_start)
    wanted = set(np.flatnonzero(counts <= 150)[::31][:100].tolist())
    for box_index in (21878, 30698):  # a duplicate of box 21839; a box of width -2 (never matchable)
        wanted.add(int(np.searchsorted(real_gt.image_start, box_index, side="right") - 1))
    by_event = {}
    for i in sorted(wanted):
        by_event.setdefault(real_gt.events[i], []).append(i)
    events, gt_boxes, kept, preds = [], [], {s: [] for s in SETTINGS}, {}
    for event, image_ids in by_event.items():
        entries = []
        for i in image_ids:
            boxes = real_gt.boxes[real_gt.image_start[i]:real_gt.image_start[i + 1]]
            keep = {s: real_gt.kept[s][real_gt.image_start[i]:real_gt.image_start[i + 1]] for s in SETTINGS}
            entries.append((real_gt.stems[i], boxes, {s: np.flatnonzero(k) + 1 for s, k in keep.items()}))
            gt_boxes.append(boxes)
            for s in SETTINGS:
                kept[s].append(keep[s])
            preds[(event, real_gt.stems[i])] = _jittered_predictions(rng, boxes, rng.integers(0, 6))
        events.append((event, entries))
    root = tmp_path_factory.mktemp("real_subset")
    gt_dir = write_wider_gt(root / "gt", events)
    pred_dir = write_predictions(root / "pred", preds)
    return gt_dir, pred_dir, gt_boxes, kept, list(preds.values())


def test_fast_equals_plain_reference_on_real_images(real_subset):
    gt_dir, pred_dir, gt_boxes, kept, preds = real_subset
    fast = evaluate(pred_dir, gt_dir)
    ref_aps, ref_curves = reference_aps(gt_boxes, kept, preds)
    for s in SETTINGS:
        # Counts are integers and must be identical; APs differ only by summation order (~1e-16).
        np.testing.assert_array_equal(fast["pr_curves"][s]["proposals"], ref_curves[s][0])
        np.testing.assert_array_equal(fast["pr_curves"][s]["recalled"], ref_curves[s][1])
        assert fast[s] == pytest.approx(ref_aps[s], abs=1e-12)
        assert 0.05 < fast[s] < 0.95  # a non-trivial case


def test_numpy_fallback_equals_cython(real_subset):
    if not overlaps.CYTHON_AVAILABLE:
        pytest.skip("Cython extension not built (parity required in test_overlaps.py under CI)")
    gt_dir, pred_dir = real_subset[:2]
    fast, fallback = evaluate(pred_dir, gt_dir, use_cython=True), evaluate(pred_dir, gt_dir, use_cython=False)
    assert [fast[s] for s in SETTINGS] == [fallback[s] for s in SETTINGS]


def test_shuffled_lines_give_the_same_result(real_subset, tmp_path):
    # Holds even with tied scores: tied predictions enter at the same thresholds, and the counts at a
    # threshold (distinct kept faces hit, predictions not hitting an ignored face) do not depend on order.
    gt_dir, pred_dir, _, _, preds = real_subset
    gt = load_ground_truth(gt_dir)
    shuffled = write_predictions(tmp_path / "shuffled", dict(zip(zip(gt.events, gt.stems), preds)),
                                 rng=np.random.default_rng(11))
    a, b = evaluate(pred_dir, gt_dir), evaluate(shuffled, gt_dir)
    assert [a[s] for s in SETTINGS] == [b[s] for s in SETTINGS]


def _duplicate_and_degenerate(real_gt):
    """Boxes no prediction can recall: +1 width/height <= 0 (IoU 0 with everything) and exact copies
    of an earlier box of the same image (a prediction on them takes the earlier box: ties keep the first).
    Returns (degenerate mask, duplicate mask, index of the earlier copy for duplicates)."""
    b = real_gt.boxes
    degenerate = (b[:, 2] + 1 <= 0) | (b[:, 3] + 1 <= 0)
    duplicate, first_copy = np.zeros(len(b), bool), np.arange(len(b))
    for i in range(real_gt.num_images):
        seen = {}
        for j in range(real_gt.image_start[i], real_gt.image_start[i + 1]):
            key = tuple(b[j])
            if key in seen:
                duplicate[j], first_copy[j] = True, seen[key]
            else:
                seen[key] = j
    return degenerate, duplicate, first_copy


def test_real_gt_boxes_as_predictions(real_gt):
    # The official algorithm does not give exactly 1.0 here: the real val set has one GT box of width -2
    # (never matchable: a false positive and an unrecalled face) and one exact duplicate (its prediction
    # re-matches the first copy). With equal scores there is a single PR point, AP = R * P, with
    # R = recalled / kept, P = recalled / proposals, derived from counts:
    degenerate, duplicate, first_copy = _duplicate_and_degenerate(real_gt)
    assert degenerate.sum() == 1 and duplicate.sum() == 1
    per_image = {}
    for i, key in enumerate(zip(real_gt.events, real_gt.stems)):
        boxes = real_gt.boxes[real_gt.image_start[i]:real_gt.image_start[i + 1]]
        per_image[key] = np.c_[boxes, np.ones(len(boxes))]
    result = evaluate_predictions(real_gt, predictions_from_arrays(real_gt, per_image))
    clean = ~degenerate & ~duplicate
    for s in SETTINGS:
        kept = real_gt.kept[s]
        recalled = np.sum(kept & clean)
        # proposals: clean kept boxes (TP), every degenerate box (FP), duplicates whose first copy is kept
        # (second match of a recalled face, FP); predictions on non-kept boxes are ignored.
        proposals = recalled + degenerate.sum() + np.sum(duplicate & kept[first_copy])
        expected = (recalled / kept.sum()) * (recalled / proposals)
        assert result[s] == pytest.approx(expected, abs=1e-12)
        assert result[s] > 0.9998
    # Measured: easy 7211/7212 = 0.99986, medium 13319/13320 = 0.99992, hard (31956/31958)^2 = 0.99987.
    assert result["easy"] == pytest.approx(7211 / 7212, abs=1e-12)


def test_real_easy_faces_only(real_gt):
    # Predictions = the easy faces only, random distinct scores. No easy box is degenerate or a
    # duplicate, so each prediction matches its own face: a true positive where kept, ignored elsewhere.
    # Precision is 1 wherever defined, so AP = final recall = |easy & kept| / |kept|.
    degenerate, duplicate, _ = _duplicate_and_degenerate(real_gt)
    easy = real_gt.kept["easy"]
    assert not np.any(easy & (degenerate | duplicate))
    rng = np.random.default_rng(5)
    per_image = {}
    for i, key in enumerate(zip(real_gt.events, real_gt.stems)):
        sl = slice(real_gt.image_start[i], real_gt.image_start[i + 1])
        boxes = real_gt.boxes[sl][easy[sl]]
        per_image[key] = np.c_[boxes, rng.random(len(boxes))]
    result = evaluate_predictions(real_gt, predictions_from_arrays(real_gt, per_image))
    assert result["easy"] == pytest.approx(1.0, abs=1e-12)
    for s in ("medium", "hard"):
        kept = real_gt.kept[s]
        assert result[s] == pytest.approx(np.sum(easy & kept) / kept.sum(), abs=1e-12)
    # The settings are nested on the real data: 7211/13319 and 7211/31958.
    assert result["medium"] == pytest.approx(7211 / 13319, abs=1e-12)
    assert result["hard"] == pytest.approx(7211 / 31958, abs=1e-12)


# ---------------------------------------------------------------- command line
def test_cli_from_another_folder(real_subset, tmp_path, repo_root):
    gt_dir, pred_dir = real_subset[:2]
    out_json, out_png = tmp_path / "r" / "aps.json", tmp_path / "r" / "pr.png"
    cmd = [sys.executable, "-m", "dependency.evaluate.eval", "--pred", str(pred_dir),
           "--gt", str(gt_dir), "--json", str(out_json), "--plot", str(out_png)]
    # the evaluator is a package of the repository (no sys.path edits): run it as a module with the repository
    # importable, from another folder
    env = {**os.environ, "PYTHONPATH": str(repo_root)}
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=True, env=env)
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    for line, label in zip(lines, ["Easy   Val AP: ", "Medium Val AP: ", "Hard   Val AP: "]):
        assert re.fullmatch(re.escape(label) + r"\d\.\d+(e-\d+)?", line)
    saved = json.loads(out_json.read_text())
    assert float(lines[0].split(": ")[1]) == saved["easy"] == evaluate(pred_dir, gt_dir)["easy"]
    assert len(saved["pr_curves"]["hard"]["precision"]) == 1000
    assert out_png.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in out_json.parent.iterdir()) == ["aps.json", "pr.png"]  # no temp files left


def test_root_eval_wrapper(real_subset, tmp_path, repo_root):
    gt_dir, pred_dir = real_subset[:2]
    done = subprocess.run([sys.executable, str(repo_root / "eval.py"), "--pred", str(pred_dir), "--gt", str(gt_dir),
                           "--eval_iou", "0.4"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[2].startswith("Hard   Val AP: ")
    assert "at IoU 0.4" in done.stderr


def test_cli_bad_input_is_one_line(tmp_path, repo_root):
    done = subprocess.run([sys.executable, str(repo_root / "eval.py"), "--pred", str(tmp_path), "--gt", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2  # bad input (README "Exit codes and outputs")
    assert done.stderr.strip().splitlines() == [
        f"error: {tmp_path}/wider_face_val.mat: no such file; expected the official WIDER FACE ground truth "
        "folder with wider_face_val.mat and wider_easy_val.mat, wider_medium_val.mat, wider_hard_val.mat"]


def _without_pythonpath():
    """The environment of a fresh shell: the repository is not on the module path unless the command puts it."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.mark.parametrize("form", ["inside_evaluate_folder", "file_from_root", "module_from_root"])
def test_the_zoo_evaluator_commands_run_verbatim(real_subset, repo_root, form):
    """The old zoo's `cd dependency/evaluate && python eval.py --pred PRED --gt GT`, the same file run from the
    root, and `python -m dependency.evaluate.eval`: the same three AP lines as the Python API, no PYTHONPATH."""
    gt_dir, pred_dir = real_subset[:2]
    flags = ["--pred", str(pred_dir), "--gt", str(gt_dir)]
    command, cwd = {
        "inside_evaluate_folder": ([sys.executable, "eval.py", *flags], repo_root / "dependency" / "evaluate"),
        "file_from_root": ([sys.executable, "dependency/evaluate/eval.py", *flags], repo_root),
        "module_from_root": ([sys.executable, "-m", "dependency.evaluate.eval", *flags], repo_root),
    }[form]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=_without_pythonpath())
    assert done.returncode == 0, done.stderr
    assert done.stdout == format_aps(evaluate(pred_dir, gt_dir)) + "\n"
    bad = subprocess.run([*command[:-4], "--pred", str(pred_dir), "--gt", str(pred_dir)], cwd=cwd,
                         capture_output=True, text=True, env=_without_pythonpath())
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        f"error: {pred_dir}/wider_face_val.mat: no such file; expected the official WIDER FACE ground truth "
        "folder with wider_face_val.mat and wider_easy_val.mat, wider_medium_val.mat, wider_hard_val.mat"]


def test_the_zoo_preparation_step_builds_the_overlap_kernel(repo_root):
    """`cd dependency/evaluate && python setup.py install` (the zoo's step before evaluating) builds the Cython
    extensions in place, after which the evaluator uses the compiled overlaps; a command it does not know is one
    error line."""
    folder = repo_root / "dependency" / "evaluate"
    done = subprocess.run([sys.executable, "setup.py", "install"], cwd=folder, capture_output=True, text=True,
                          env=_without_pythonpath(), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "nothing to install" in done.stdout
    probe = subprocess.run([sys.executable, "-c", "from dependency.evaluate.overlaps import CYTHON_AVAILABLE; "
                            "print(CYTHON_AVAILABLE)"], cwd=repo_root, capture_output=True, text=True,
                           env=_without_pythonpath())
    assert probe.stdout.strip() == "True", probe.stderr
    refused = subprocess.run([sys.executable, "setup.py", "sdist"], cwd=folder, capture_output=True, text=True)
    assert refused.returncode == 2 and refused.stderr.startswith("error: expected one of install")
