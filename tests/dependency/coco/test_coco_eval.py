"""Tests for dependency/coco/coco_eval.py on the 4 real COCO val images of tests/data/coco_person_kpt_mini
(14 persons, 2 of them without labelled joints).

Independent references: pycocotools called directly here (COCO(file), loadRes, COCOeval with its default
parameters), a numpy OKS from the COCO sigmas for a one-person case, and counting arguments (AP of a
precision curve whose envelope is flat). Parity between the backends is to 1e-12: both run the same
COCOeval algorithm in float64 and may differ only in the order of a few sums; the tables print 3 decimals.
"""
import copy
import json
import re

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from dependency.coco import coco_eval as ke
from dependency.coco.coco_eval import (BBOX_STAT_NAMES, KEYPOINT_STAT_NAMES, evaluate, load_annotations,
                                            resolve_backend, results_from_detections, round_decimals, write_results)

# COCO keypoint OKS constants (cocodataset.org/#keypoints-eval): per-joint sigmas in the 17-joint order
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10
OKS_THRESHOLDS = np.linspace(0.5, 0.95, 10)
BACKENDS = ("pycocotools", "faster_coco_eval")


@pytest.fixture(scope="module")
def ann_path(coco_mini_dir):
    return coco_mini_dir / "test_coco.json"


@pytest.fixture(scope="module")
def dataset(ann_path):
    return json.loads(ann_path.read_text())


def persons_by_image(dataset):
    by_image = {image["id"]: [] for image in dataset["images"]}
    for ann in dataset["annotations"]:
        by_image[ann["image_id"]].append(ann)
    return by_image


def detection_of(ann):
    """(box xyxy, keypoints (17, 2)) of a ground-truth person; unlabelled joints at the box centre, as a
    model that always predicts every joint would put them somewhere."""
    x, y, w, h = ann["bbox"]
    joints = np.array(ann["keypoints"], dtype=np.float64).reshape(17, 3)
    points = joints[:, :2].copy()
    points[joints[:, 2] == 0] = (x + w / 2, y + h / 2)
    return np.array([x, y, x + w, y + h]), points


def gt_detections(dataset, score_of=lambda ann: 0.9):
    """{image_id: (boxes, scores, keypoints)} reproducing every ground-truth person."""
    out = {}
    for image_id, anns in persons_by_image(dataset).items():
        pairs = [detection_of(ann) for ann in anns]
        out[image_id] = (np.array([b for b, _ in pairs]).reshape(-1, 4), np.array([score_of(a) for a in anns]),
                         np.array([k for _, k in pairs]).reshape(-1, 17, 2))
    return out


def direct_pycocotools(ann, results, iou_type, image_ids=None):
    """COCOeval.stats computed by pycocotools alone (its own file loading, default parameters)."""
    gt = COCO(str(ann)) if not isinstance(ann, dict) else _coco_from_dict(ann)
    ev = COCOeval(gt, gt.loadRes(copy.deepcopy(results)), iou_type)
    if image_ids is not None:
        ev.params.imgIds = list(image_ids)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return np.array(ev.stats)


def _coco_from_dict(dataset):
    gt = COCO()
    gt.dataset = copy.deepcopy(dataset)
    gt.createIndex()
    return gt


def as_array(stats, iou_type):
    names = KEYPOINT_STAT_NAMES if iou_type == "keypoints" else BBOX_STAT_NAMES
    assert list(stats[iou_type]) == list(names)
    return np.array([stats[iou_type][n] for n in names])


def perturbed_detections(dataset, seed=0):
    """Ground truth with every joint moved by a known distance (0.5..8 px, random direction per joint), boxes
    jittered by up to 8 %, scores shuffled, 2 persons dropped and 2 false positives added."""
    rng = np.random.default_rng(seed)
    dropped = {488308, 531914}
    out = {}
    for image_id, anns in persons_by_image(dataset).items():
        boxes, scores, keypoints = [], [], []
        for ann in anns:
            if ann["id"] in dropped:
                continue
            box, points = detection_of(ann)
            distance = rng.uniform(0.5, 8.0, 17)
            angle = rng.uniform(0, 2 * np.pi, 17)
            points = points + np.c_[distance * np.cos(angle), distance * np.sin(angle)]
            size = box[2:] - box[:2]
            box = box + np.r_[size, size] * rng.uniform(-0.08, 0.08, 4)
            boxes.append(box), scores.append(rng.uniform(0.2, 1.0)), keypoints.append(points)
        if image_id in (196141, 197388):  # a false positive that outranks some true ones
            box = np.array([10.0, 10.0, 90.0, 170.0])
            boxes.append(box), scores.append(0.7)
            keypoints.append(rng.uniform(box[:2], box[2:], (17, 2)))
        out[image_id] = (np.array(boxes), np.array(scores), np.array(keypoints))
    return out


# ------------------------------------------------------------------ results format
def test_round_decimals_matches_python_formatting():
    rng = np.random.default_rng(1)
    values = np.r_[rng.uniform(-2000, 2000, 20000), rng.integers(-99999, 99999, 2000) / 100 + 0.005,
                   [2.675, 1.005, 0.125, 0.375, -2.675, 1234.565, 0.0, -0.001, 1e-9, 639.995]]
    expected = np.array([float(f"{v:.2f}") for v in values])
    assert np.array_equal(round_decimals(values, 2), expected)
    naive = np.round(values, 2)  # the case the correction exists for: numpy disagrees on some halves
    assert not np.array_equal(naive, expected)
    assert np.array_equal(round_decimals(values[:100], 3), [float(f"{v:.3f}") for v in values[:100]])


class FakeDetections:
    """Stands in for src.inference.detections.Detections (this package must not import src)."""

    def __init__(self, boxes, scores, keypoints):
        self.boxes, self.scores, self.keypoints = boxes, scores, keypoints


def test_write_results_format(tmp_path):
    rng = np.random.default_rng(3)
    boxes = np.array([[10.123, 20.456, 110.789, 220.001], [0.0, 0.0, 5.555, 6.666]], dtype=np.float32)
    scores = np.array([0.876543, 0.123456], dtype=np.float32)
    keypoints = rng.uniform(0, 300, (2, 17, 2)).astype(np.float32)
    detections = {np.int64(785): FakeDetections(boxes, scores, keypoints),
                  40083: {"boxes": boxes[:1], "scores": scores[:1], "keypoints": keypoints[:1]},
                  196141: (np.zeros((0, 4)), np.zeros(0), np.zeros((0, 17, 2)))}
    path = tmp_path / "sub" / "results.json"
    written = write_results(detections, path)
    assert json.loads(path.read_text()) == written
    assert [r["image_id"] for r in written] == [785, 785, 40083]  # no entry for the empty image
    for record, box, score, points in zip(written, np.r_[boxes, boxes[:1]], np.r_[scores, scores[:1]],
                                          np.r_[keypoints, keypoints[:1]]):
        assert set(record) == {"image_id", "category_id", "bbox", "score", "keypoints"}
        assert type(record["image_id"]) is int and record["category_id"] == 1
        box = box.astype(np.float64)
        assert record["bbox"] == [float(f"{v:.2f}") for v in (box[0], box[1], box[2] - box[0], box[3] - box[1])]
        assert record["score"] == float(f"{float(score):.2f}")
        assert len(record["keypoints"]) == 51 and record["keypoints"][2::3] == [1.0] * 17
        assert record["keypoints"][0::3] == [float(f"{float(v):.2f}") for v in points[:, 0]]
        assert record["keypoints"][1::3] == [float(f"{float(v):.2f}") for v in points[:, 1]]


@pytest.mark.parametrize("detections, fragment", [
    ({785: (np.zeros((1, 4)), np.zeros(1), np.zeros((1, 5, 2)))}, "keypoints (N, 17, 2)"),
    ({785: (np.zeros((2, 4)), np.zeros(1), np.zeros((1, 17, 2)))}, "expected boxes (N, 4)"),
    ({785: (np.array([[0, 0, 1, np.nan]]), np.ones(1), np.zeros((1, 17, 2)))}, "NaN"),
    ({785: (np.array([[5, 0, 1, 1.0]]), np.ones(1), np.zeros((1, 17, 2)))}, "x2 < x1"),
    ({785: "boxes"}, "must have boxes, scores and keypoints"),
    ({"785": (np.zeros((0, 4)), np.zeros(0), np.zeros((0, 17, 2)))}, "image id '785'"),
    ([np.zeros(3)], "expected a mapping"),
])
def test_bad_detections_raise_one_line_errors(tmp_path, detections, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)) as err:
        write_results(detections, tmp_path / "r.json")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "r.json").exists()


# ------------------------------------------------------------------ AP on real COCO annotations
@pytest.mark.parametrize("backend", BACKENDS)
def test_ground_truth_as_predictions_scores_one(ann_path, dataset, backend, capsys):
    # The 2 persons without labelled joints rank first: a detection on them must be ignored by the keypoint
    # evaluation (not a false positive), else AP would drop (see the next test).
    no_joints = {a["id"] for a in dataset["annotations"] if a["num_keypoints"] == 0}
    assert len(no_joints) == 2
    detections = gt_detections(dataset, score_of=lambda a: 0.95 if a["id"] in no_joints else 0.6)
    stats = evaluate(ann_path, detections, backend=backend)
    out = capsys.readouterr().out.splitlines()
    assert as_array(stats, "keypoints").tolist() == [1.0] * 10
    bbox = stats["bbox"]
    assert all(bbox[name] == 1.0 for name in BBOX_STAT_NAMES if name != "AR1")
    # AR with one detection per image: one person of each image found, of 14 (1, 3, 5 and 5 per image)
    assert bbox["AR1"] == pytest.approx(4 / 14, abs=1e-12)
    assert len(out) == 24  # each table after its heading
    assert out[0] == "person keypoints (COCOeval 'keypoints': OKS, maxDets 20):"
    assert out[1] == " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = 1.000"
    assert out[11] == "person boxes (COCOeval 'bbox': IoU, maxDets 1/10/100):"
    assert out[12] == " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000"


@pytest.mark.parametrize("backend", BACKENDS)
def test_joint_less_persons_found_elsewhere_are_false_positives(ann_path, dataset, backend):
    # Same ranking, but the joint-less persons' detections put every joint at (0, 0), outside the enlarged
    # box: OKS ~ 0 with every person, so they are 2 false positives ahead of 12 exact hits. The precision
    # envelope is then 12/14 at every recall and every OKS threshold: AP = 12/14.
    no_joints = {a["id"] for a in dataset["annotations"] if a["num_keypoints"] == 0}
    detections = gt_detections(dataset, score_of=lambda a: 0.95 if a["id"] in no_joints else 0.6)
    for image_id, anns in persons_by_image(dataset).items():
        for row, ann in enumerate(anns):
            if ann["id"] in no_joints:
                detections[image_id][2][row] = 0.0
    stats = evaluate(ann_path, detections, backend=backend, print_fn=None)
    assert stats["keypoints"]["AP"] == pytest.approx(12 / 14, abs=1e-12)
    assert stats["keypoints"]["AR"] == 1.0 and stats["bbox"]["AP"] == 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_crowd_person_is_ignored(dataset, backend):
    crowd_id = 230195
    with_crowd = copy.deepcopy(dataset)
    next(a for a in with_crowd["annotations"] if a["id"] == crowd_id)["iscrowd"] = 1
    detections = gt_detections(dataset)
    image = persons_by_image(dataset)[40083]
    keep = np.array([a["id"] != crowd_id for a in image])
    detections[40083] = tuple(part[keep] for part in detections[40083])
    stats = evaluate(with_crowd, detections, backend=backend, print_fn=None)
    assert stats["keypoints"]["AP"] == 1.0 and stats["keypoints"]["AR"] == 1.0
    assert stats["bbox"]["AP"] == 1.0 and stats["bbox"]["AR100"] == 1.0
    # Without the crowd flag the same person is missed: recall 11/12 at every threshold (12 with joints)
    stats = evaluate(dataset, detections, backend=backend, print_fn=None)
    assert stats["keypoints"]["AR"] == pytest.approx(11 / 12, abs=1e-12)
    assert stats["bbox"]["AR100"] == pytest.approx(13 / 14, abs=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_only_persons_are_scored_in_a_file_with_other_categories(dataset, backend):
    # e.g. a merged instances + keypoints file: other categories' annotations have no joints and must not
    # enter the person evaluation (COCOeval's default would take every category of the file)
    mixed = copy.deepcopy(dataset)
    mixed["categories"].append({"id": 18, "name": "dog", "supercategory": "animal"})
    mixed["annotations"].append({"id": 1, "image_id": 785, "category_id": 18, "bbox": [5.0, 5.0, 50.0, 40.0],
                                 "area": 2000.0, "iscrowd": 0})
    detections = gt_detections(dataset)
    assert evaluate(mixed, detections, backend=backend, print_fn=None) == evaluate(
        dataset, detections, backend=backend, print_fn=None)


def one_person_oks(ann, shift):
    """OKS of a detection with every joint moved by `shift` (dx, dy): COCO's definition, in numpy."""
    visible = np.array(ann["keypoints"][2::3]) > 0
    squared = shift[0] ** 2 + shift[1] ** 2
    per_joint = np.exp(-squared / (2 * ann["area"] * (2 * COCO_SIGMAS) ** 2))
    return per_joint[visible].mean()


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_person_ap_is_the_fraction_of_thresholds_below_its_oks(ann_path, dataset, backend):
    person = persons_by_image(dataset)[785][0]
    assert person["num_keypoints"] == 17 and person["area"] > 96 ** 2
    expected_aps = []
    for shift in [(0.0, 0.0), (3.0, 4.0), (6.0, 8.5), (9.25, 10.0), (15.0, 12.0), (24.0, 18.0), (60.0, 0.0)]:
        oks = one_person_oks(person, shift)
        assert np.abs(OKS_THRESHOLDS - oks).min() > 1e-6, "a shift whose OKS sits on a threshold proves nothing"
        expected = np.mean(OKS_THRESHOLDS <= oks)
        box, points = detection_of(person)
        detections = {785: (box[None], np.array([0.8]), (points + shift)[None])}
        stats = evaluate(ann_path, detections, iou_types=("keypoints",), backend=backend, print_fn=None)
        kp = stats["keypoints"]
        assert kp["AP"] == pytest.approx(expected, abs=1e-12) and kp["AR"] == pytest.approx(expected, abs=1e-12)
        # precision is tp / (tp + fp + eps) in COCOeval: one hit gives 1 - 2.2e-16, hence approx
        assert kp["AP50"] == pytest.approx(float(oks >= 0.5), abs=1e-12)
        assert kp["AP75"] == pytest.approx(float(oks >= 0.75), abs=1e-12)
        assert kp["APl"] == kp["AP"] and kp["APm"] == -1.0  # only image 785 is scored: no medium person
        expected_aps.append(expected)
    assert len(set(expected_aps)) >= 5  # the shifts cover the threshold range


def test_perturbed_predictions_match_pycocotools_called_directly(ann_path, dataset):
    detections = perturbed_detections(dataset)
    results = results_from_detections(detections)
    for backend in BACKENDS:
        stats = evaluate(ann_path, results, backend=backend, print_fn=None)
        for iou_type in ("keypoints", "bbox"):
            direct = direct_pycocotools(ann_path, results, iou_type)
            np.testing.assert_allclose(as_array(stats, iou_type), direct, rtol=0, atol=1e-12, err_msg=backend)
    assert 0.2 < stats["keypoints"]["AP"] < 0.95 and 0.2 < stats["bbox"]["AP"] < 0.95  # not a trivial case


def test_backends_agree_to_1e_12_and_print_the_same_table(ann_path, dataset, capsys):
    detections = perturbed_detections(dataset, seed=5)
    tables, arrays = {}, {}
    for backend in BACKENDS:
        stats = evaluate(ann_path, detections, backend=backend)
        tables[backend] = capsys.readouterr().out
        arrays[backend] = np.r_[as_array(stats, "keypoints"), as_array(stats, "bbox")]
    assert arrays["pycocotools"].shape == (22,)
    np.testing.assert_allclose(arrays["faster_coco_eval"], arrays["pycocotools"], rtol=0, atol=1e-12)
    assert tables["faster_coco_eval"] == tables["pycocotools"]
    assert len(tables["pycocotools"].splitlines()) == 2 + 22  # headings and tables


@pytest.mark.parametrize("backend", BACKENDS)
def test_only_the_images_that_were_run_are_scored(ann_path, dataset, backend):
    all_detections = gt_detections(dataset)
    run = {785: all_detections[785], 40083: all_detections[40083],
           196141: (np.zeros((0, 4)), np.zeros(0), np.zeros((0, 17, 2)))}  # run, nothing found
    stats = evaluate(ann_path, run, backend=backend, print_fn=None)
    results = results_from_detections(run)
    for iou_type in ("keypoints", "bbox"):
        direct = direct_pycocotools(ann_path, results, iou_type, image_ids=[785, 40083, 196141])
        np.testing.assert_allclose(as_array(stats, iou_type), direct, rtol=0, atol=1e-12)
    # persons with joints: 1 + 2 found of 1 + 2 + 4 run (image 197388 was not run, so it does not count)
    assert stats["keypoints"]["AR"] == pytest.approx(3 / 7, abs=1e-12)
    # the same results as a list: every image of the annotations is scored unless image_ids says otherwise
    everything = evaluate(ann_path, results, backend=backend, print_fn=None)
    assert everything["keypoints"]["AR"] == pytest.approx(3 / 12, abs=1e-12)
    listed = evaluate(ann_path, results, backend=backend, image_ids=[785, 40083, 196141], print_fn=None)
    assert listed == stats


def expected_without_detections(dataset, image_ids, iou_type):
    """COCOeval's numbers when nothing was detected: 0 for an area range holding a non-ignored person
    (nothing of it was found), -1 for one holding none (undefined)."""
    ranges = {"all": (0, 1e10), "s": (0, 32 ** 2), "m": (32 ** 2, 96 ** 2), "l": (96 ** 2, 1e10)}
    persons = [a for a in dataset["annotations"] if a["image_id"] in image_ids and not a["iscrowd"]
               and (iou_type == "bbox" or a["num_keypoints"] > 0)]
    names = KEYPOINT_STAT_NAMES if iou_type == "keypoints" else BBOX_STAT_NAMES
    out = []
    for name in names:
        low, high = ranges.get(name[-1], ranges["all"])
        out.append(0.0 if any(low <= a["area"] <= high for a in persons) else -1.0)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("image_ids", [[785], [785, 40083, 196141, 197388]])
def test_no_detections_at_all(ann_path, dataset, tmp_path, backend, image_ids):
    empty = {i: (np.zeros((0, 4)), np.zeros(0), np.zeros((0, 17, 2))) for i in image_ids}
    path = tmp_path / "empty.json"
    assert write_results(empty, path) == [] and json.loads(path.read_text()) == []
    for results in (empty, path, []):
        stats = evaluate(ann_path, results, backend=backend, image_ids=image_ids, print_fn=None)
        for iou_type in ("keypoints", "bbox"):
            assert as_array(stats, iou_type).tolist() == expected_without_detections(dataset, image_ids, iou_type)
    if len(image_ids) == 1:  # image 785 holds one large person only
        assert stats["keypoints"]["APm"] == -1.0 and stats["bbox"]["APs"] == -1.0


def test_annotation_object_and_keypoints_only_results(ann_path, dataset):
    detections = perturbed_detections(dataset, seed=2)
    results = results_from_detections(detections)
    with_boxes = evaluate(COCO(str(ann_path)), results, iou_types=("keypoints",), print_fn=None)
    assert with_boxes == evaluate(ann_path, results, iou_types=("keypoints",), print_fn=None)
    # without boxes COCO gives each result the extent of its keypoints as area: still pycocotools' answer
    no_boxes = [{k: v for k, v in r.items() if k != "bbox"} for r in results]
    stats = evaluate(ann_path, no_boxes, iou_types=("keypoints",), backend="pycocotools", print_fn=None)
    np.testing.assert_allclose(as_array(stats, "keypoints"), direct_pycocotools(ann_path, no_boxes, "keypoints"),
                               rtol=0, atol=1e-12)
    assert results == results_from_detections(detections)  # the caller's list was not modified


def test_auto_backend(monkeypatch):
    assert resolve_backend("auto") == "faster_coco_eval"
    monkeypatch.setitem(__import__("sys").modules, "faster_coco_eval", None)  # makes the import fail
    assert resolve_backend("auto") == "pycocotools"
    with pytest.raises(ImportError, match="pip install faster-coco-eval"):
        ke._faster_coco_eval({}, [], ("bbox",), [1])
    with pytest.raises(ValueError, match="backend 'fast'"):
        resolve_backend("fast")


def test_command_line(ann_path, dataset, tmp_path, capsys):
    results_path = tmp_path / "results.json"
    write_results(perturbed_detections(dataset), results_path)
    stats = ke.main(["--ann", str(ann_path), "--results", str(results_path), "--backend", "pycocotools",
                     "--json", str(tmp_path / "stats.json")])
    assert json.loads((tmp_path / "stats.json").read_text()) == stats
    assert len(capsys.readouterr().out.splitlines()) == 2 + 22  # two headings, 22 lines of tables


# ------------------------------------------------------------------ bad input
def one_line_error(exc_type, fn, *args, **kwargs):
    with pytest.raises(exc_type) as err:
        fn(*args, **kwargs)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_bad_annotation_files(tmp_path, dataset):
    missing = tmp_path / "nope.json"
    assert str(missing) in one_line_error(FileNotFoundError, load_annotations, missing)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert "broken.json: not valid JSON" in one_line_error(ValueError, load_annotations, broken)
    instances = copy.deepcopy(dataset)
    del instances["categories"][0]["keypoints"]
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(instances))
    message = one_line_error(ValueError, evaluate, path, [], print_fn=None)
    assert "instances.json" in message and "no 'keypoints' list" in message
    no_person = copy.deepcopy(dataset)
    no_person["categories"][0]["id"] = 3
    assert "no category with id 1" in one_line_error(ValueError, load_annotations, no_person)
    no_count = copy.deepcopy(dataset)
    del no_count["annotations"][4]["num_keypoints"]
    assert "person annotation 460541 has no ['num_keypoints']" in one_line_error(ValueError, load_annotations,
                                                                                 no_count)
    assert "no 'images' list" in one_line_error(ValueError, load_annotations, {"annotations": [], "categories": []})


def write_json(tmp_path, obj, name="results.json"):
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return path


def good_entry(**changes):
    entry = {"image_id": 785, "category_id": 1, "bbox": [1.0, 2.0, 30.0, 40.0], "score": 0.5,
             "keypoints": [10.0, 20.0, 1.0] * 17}
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


@pytest.mark.parametrize("entries, fragment", [
    ([good_entry(), good_entry(image_id=12345)], "image ids [12345] (1 in all) are not in the annotations"),
    ([good_entry(keypoints=[1.0] * 34)], "entry 0: 'keypoints' must be a list of 51 numbers, got 34 values"),
    ([good_entry(), good_entry(keypoints=[1.0] * 50 + ["x"])], "entry 1: 'keypoints' holds a value that is not"),
    ([good_entry(score=None)], "entry 0: 'score' must be a finite number"),
    ([good_entry(score=float("nan"))], "entry 0: 'score' must be a finite number"),
    ([good_entry(bbox=[1.0, 2.0, 3.0])], "entry 0: 'bbox' must be a list of 4 numbers, got 3 values"),
    ([good_entry(bbox=[1.0, 2.0, -3.0, 4.0])], "entry 0: 'bbox' [1.0, 2.0, -3.0, 4.0] has a negative width"),
    ([good_entry(), good_entry(bbox=None)], "entry 1: has no 'bbox' unlike entry 0"),
    ([good_entry(bbox=None)], "results have no 'bbox', needed for the 'bbox' evaluation"),
    ([good_entry(category_id=2)], "entry 0: 'category_id' is 2, expected 1"),
    ([good_entry(image_id="785")], "entry 0: 'image_id' must be an integer"),
    ([good_entry(), [785, 1]], "entry 1 is a list, expected an object"),
    ({"image_id": 785}, "expected a JSON list of results, got a dict"),
])
def test_bad_results_files(tmp_path, ann_path, entries, fragment):
    path = write_json(tmp_path, entries)
    message = one_line_error(ValueError, evaluate, ann_path, path, backend="pycocotools", print_fn=None)
    assert message.startswith(f"{path}: ") and fragment in message


def test_other_bad_arguments(tmp_path, ann_path):
    missing = tmp_path / "missing_results.json"
    assert str(missing) in one_line_error(FileNotFoundError, evaluate, ann_path, missing, print_fn=None)
    assert "image_ids [7]" in one_line_error(ValueError, evaluate, ann_path, [], image_ids=[785, 7], print_fn=None)
    assert "image_ids is empty" in one_line_error(ValueError, evaluate, ann_path, [], image_ids=[], print_fn=None)
    assert "iou_types" in one_line_error(ValueError, evaluate, ann_path, [], iou_types=("segm",), print_fn=None)
    assert "backend 'coco'" in one_line_error(ValueError, evaluate, ann_path, [], backend="coco", print_fn=None)


# ------------------------------------------------------------------ boxes of many categories (object detection)
class LabelledDetections:
    """Stands in for src.inference.detections.Detections with class labels and no keypoints."""

    def __init__(self, boxes, scores, labels):
        self.boxes, self.scores, self.labels = boxes, scores, labels
        self.keypoints = np.zeros((len(scores), 0, 2))


@pytest.fixture(scope="module")
def instances(coco_mini_dir):
    """The mini set as COCO instances: 14 boxes of 4 categories (1, 3, 13, 90), one crowd box, an image without
    annotations, COCO's 80 categories (tests/coco_instances_mini.py)."""
    from tests.coco_instances_mini import instances_json

    return instances_json(coco_mini_dir)


def labelled_detections(dataset, seed=0, perturb=True):
    """Each box of the ground truth with its class (rank of its category id), jittered by up to 10 % when
    `perturb`, scores random, one box relabelled (a false positive of another class and a miss) and a false
    positive per image."""
    rng = np.random.default_rng(seed)
    rank = {category_id: k for k, category_id in enumerate(sorted(c["id"] for c in dataset["categories"]))}
    out = {image["id"]: ([], [], []) for image in dataset["images"]}
    for index, ann in enumerate(dataset["annotations"]):
        x, y, w, h = ann["bbox"]
        box = np.array([x, y, x + w, y + h])
        if perturb:
            box = box + np.r_[w, h, w, h] * rng.uniform(-0.1, 0.1, 4)
        label = rank[ann["category_id"]] if index != 7 else rank[3]
        boxes, scores, labels = out[ann["image_id"]]
        boxes.append(box), scores.append(rng.uniform(0.3, 1.0) if perturb else 0.9), labels.append(label)
    for image_id, (boxes, scores, labels) in out.items():
        boxes.append([5.0, 5.0, 60.0, 90.0]), scores.append(0.6), labels.append(rank[1])
    return {image_id: LabelledDetections(np.array(b).reshape(-1, 4), np.array(s), np.array(l, np.int64))
            for image_id, (b, s, l) in out.items()}


def test_labelled_results_carry_the_category_id_of_their_rank(instances):
    detections = {785: LabelledDetections(np.array([[1.0, 2.0, 11.0, 22.0], [0, 0, 5, 5]]), np.array([0.91, 0.1]),
                                          np.array([11, 79]))}
    ids = sorted(c["id"] for c in instances["categories"])
    assert results_from_detections(detections, category_ids=ids) == [
        {"image_id": 785, "category_id": 13, "bbox": [1.0, 2.0, 10.0, 20.0], "score": 0.91},
        {"image_id": 785, "category_id": 90, "bbox": [0.0, 0.0, 5.0, 5.0], "score": 0.1}]
    with pytest.raises(ValueError, match="class 79 has no category id"):
        results_from_detections(detections, category_ids=ids[:10])


def test_boxes_of_every_category_match_pycocotools_called_directly(instances):
    """iou_types ("bbox",): every category of the file is scored (the crowd box ignored), as COCOeval's defaults
    do; both backends, 12 numbers each, to 1e-12."""
    detections = labelled_detections(instances)
    results = results_from_detections(detections, category_ids=sorted(c["id"] for c in instances["categories"]))
    assert {r["category_id"] for r in results} == {1, 3, 13, 90} and all("keypoints" not in r for r in results)
    direct = direct_pycocotools(instances, results, "bbox")
    for backend in BACKENDS:
        stats = evaluate(instances, detections, iou_types=("bbox",), backend=backend, print_fn=None)
        assert list(stats) == ["bbox"]
        np.testing.assert_allclose(as_array(stats, "bbox"), direct, rtol=0, atol=1e-12, err_msg=backend)
    assert 0.2 < stats["bbox"]["AP"] < 0.95  # not a trivial case


def test_exact_boxes_score_alike_at_every_iou_threshold_and_the_table_has_twelve_lines(instances, capsys):
    """The ground-truth boxes as detections (without the per-image false positives): IoU 1 everywhere, so AP50 =
    AP75 = AP; the relabelled box (a miss of its class, a false positive of car) keeps AP below 1."""
    detections = labelled_detections(instances, perturb=False)
    for image_id, dets in detections.items():  # the last one of each image is the false positive
        keep = np.arange(len(dets.scores) - 1)
        detections[image_id] = LabelledDetections(dets.boxes[keep], dets.scores[keep], dets.labels[keep])
    stats = evaluate(instances, detections, iou_types=("bbox",), backend="pycocotools")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "boxes of 80 categories (COCOeval 'bbox': IoU, maxDets 1/10/100):"  # the heading naming it
    assert len(lines) == 1 + 12 and lines[1].startswith(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all")
    assert 0.5 < stats["bbox"]["AP"] < 1.0 and stats["bbox"]["AP50"] == stats["bbox"]["AP75"] == stats["bbox"]["AP"]


@pytest.mark.parametrize("change, fragment", [
    (lambda d: d["annotations"][0].pop("area"), "has no ['area']; box annotations need"),
    (lambda d: d["annotations"][1].update(category_id=12), "category_id 12 is not in 'categories'"),
    (lambda d: d["categories"].append({"id": 3, "name": "again"}), "category ids [3] appear twice"),
])
def test_bad_instances_files(instances, change, fragment):
    data = copy.deepcopy(instances)
    change(data)
    message = one_line_error(ValueError, evaluate, data, [], iou_types=("bbox",), print_fn=None)
    assert fragment in message


def test_results_of_unknown_categories_are_refused(instances, tmp_path):
    path = write_json(tmp_path, [{"image_id": 785, "category_id": 12, "bbox": [1.0, 2.0, 3.0, 4.0], "score": 0.5}])
    message = one_line_error(ValueError, evaluate, instances, path, iou_types=("bbox",), print_fn=None)
    assert "entry 0: 'category_id' is 12, expected a category id of the annotations (80 known)" in message


def test_command_line_on_an_instances_file_prints_the_box_table(instances, tmp_path, capsys):
    ann = write_json(tmp_path, instances, "instances_val2017.json")
    results = tmp_path / "results.json"
    write_results(labelled_detections(instances), results,
                  category_ids=sorted(c["id"] for c in instances["categories"]))
    stats = ke.main(["--ann", str(ann), "--results", str(results), "--backend", "pycocotools"])
    assert list(stats) == ["bbox"] and len(capsys.readouterr().out.splitlines()) == 1 + 12  # heading and table
