"""Tests for src/centernet_det/decode.py and the task's test-time path (flip merge, merge of several scales) on hand
computed cases and numpy transcriptions of the original's CtdetDetector written here: ctdet_decode (per-class top K
then top K), ctdet_post_process (both corners through the inverse affine) and merge_outputs (per-class Gaussian
Soft-NMS, then the best 100 with the 100th score as threshold).

Tolerances: decode and inverse affine run in float64 and are returned as float32: 1e-4 px on coordinates of a few
hundred pixels; scores are the map values (exact).
"""
import numpy as np
import pytest

from src.centernet_det.decode import ctdet_decode, det_detections
from src.inference.centernet_input import centernet_input
from src.inference.detections import Detections
from src.inference.passes import InferenceOptions
from src.model_utils.config import parse_config
from src.tasks import get_task
from tests.conftest import ROOT

DET = ["--config_path", str(ROOT / "configs" / "centernet_det.yaml")]


def test_decode_by_hand():
    """Two classes on an 8x10 grid: peaks (class 1, row 2, col 3) 0.9, (class 0, row 5, col 7) 0.6, and a
    neighbour of the first peak at 0.8 that is no peak."""
    hm = np.zeros((2, 8, 10), np.float32)
    hm[1, 2, 3], hm[1, 2, 4], hm[0, 5, 7] = 0.9, 0.8, 0.6
    wh = np.zeros((2, 8, 10), np.float32)
    wh[:, 2, 3], wh[:, 5, 7] = (4, 6), (2, 3)
    reg = np.zeros((2, 8, 10), np.float32)
    reg[:, 2, 3], reg[:, 5, 7] = (0.25, 0.5), (0.75, 0.0)
    decoded = ctdet_decode(hm, wh, reg, K=3)
    # (3.25, 2.5) -+ (2, 3) and (7.75, 5) -+ (1, 1.5); the third is a 0-score cell (fewer peaks than K)
    np.testing.assert_allclose(decoded.boxes[:2], [[1.25, -0.5, 5.25, 5.5], [6.75, 3.5, 8.75, 6.5]])
    np.testing.assert_array_equal(decoded.scores, np.float32([0.9, 0.6, 0.0]))
    assert decoded.classes[:2].tolist() == [1, 0]
    without_reg = ctdet_decode(hm, wh, None, K=2)
    np.testing.assert_allclose(without_reg.boxes[0], [1.5, -0.5, 5.5, 5.5])  # cell + 0.5, as the original


def test_cat_spec_wh_reads_the_class_pair():
    hm = np.zeros((3, 6, 6), np.float32)
    hm[2, 3, 3] = 0.7
    wh = np.zeros((6, 6, 6), np.float32)
    wh[4:6, 3, 3] = (2, 4)  # class 2's pair
    wh[0:2, 3, 3] = (100, 100)  # class 0's pair: not read
    decoded = ctdet_decode(hm, wh, None, K=1, cat_spec_wh=True)
    np.testing.assert_allclose(decoded.boxes[0], [2.5, 1.5, 4.5, 5.5])
    with pytest.raises(ValueError, match=r"wh must have shape \(6, H, W\)"):
        ctdet_decode(hm, wh[:2], None, K=1, cat_spec_wh=True)


def reference_decode(hm, wh, reg, k):
    """The original's ctdet_decode in numpy: _nms (3x3 max-pool equality), per-class top K, top K of those."""
    channels, height, width = hm.shape
    padded = np.pad(hm, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    pooled = np.max([padded[:, 1 + dy:1 + dy + height, 1 + dx:1 + dx + width]
                     for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
    heat = hm * (pooled == hm)
    flat = heat.reshape(channels, -1)
    per_class = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    scores = np.take_along_axis(flat, per_class, 1).ravel()
    best = np.argsort(-scores, kind="stable")[:k]
    classes, inds = best // k, per_class.ravel()[best]
    ys, xs = inds // width, inds % width
    cx, cy = xs + reg[0, ys, xs], ys + reg[1, ys, xs]
    w, h = wh[0, ys, xs], wh[1, ys, xs]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1), scores[best], classes


@pytest.mark.parametrize("seed", range(3))
def test_decode_matches_the_original_algorithm_on_random_maps(seed):
    rng = np.random.default_rng(seed)
    hm = rng.random((5, 16, 20)).astype(np.float32) ** 3
    wh = rng.uniform(1, 20, (2, 16, 20)).astype(np.float32)
    reg = rng.random((2, 16, 20)).astype(np.float32)
    boxes, scores, classes = reference_decode(hm, wh, reg, 40)
    decoded = ctdet_decode(hm, wh, reg, K=40)
    np.testing.assert_allclose(decoded.boxes, boxes, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(decoded.scores, scores)
    np.testing.assert_array_equal(decoded.classes, classes)


def test_detections_are_mapped_back_to_the_image_by_hand():
    """keep_res on a 64 x 96 (h x w) image: input (64|31)+1 = 96 by (96|31)+1 = 128, c = (48, 32), s = 128, so
    k = 1 and the input is the image shifted by (+16, +16): output cell corners x 4 - 16 are image pixels."""
    image = np.zeros((64, 96, 3), np.uint8)
    _, meta = centernet_input(image, keep_res=True)
    assert meta.input_hw == (96, 128)
    hm = np.zeros((2, 24, 32), np.float32)
    hm[1, 10, 12] = 0.8
    wh = np.zeros((2, 24, 32), np.float32)
    wh[:, 10, 12] = (5, 3)
    reg = np.zeros((2, 24, 32), np.float32)
    reg[:, 10, 12] = (0.5, 0.25)
    dets = det_detections({"hm": hm, "wh": wh, "reg": reg}, meta, K=4, score_thresh=0.1)
    # centre (12.5, 10.25) -+ (2.5, 1.5) -> [10, 8.75, 15, 11.75] x 4 - 16 = [24, 19, 44, 31]
    assert len(dets) == 1 and dets.labels.tolist() == [1] and dets.scores.tolist() == [np.float32(0.8)]
    np.testing.assert_allclose(dets.boxes, [[24, 19, 44, 31]], atol=1e-4)
    assert dets.keypoints.shape == (1, 0, 2)
    assert len(det_detections({"hm": hm, "wh": wh, "reg": reg}, meta, K=4)) == 4  # score_thresh 0: all K
    with pytest.raises(ValueError, match="input size"):
        det_detections({"hm": hm[:, :12], "wh": wh[:, :12], "reg": reg[:, :12]}, meta)
    with pytest.raises(ValueError, match="expected hm, wh"):
        det_detections({"hm": hm, "hps": wh}, meta)


# ------------------------------------------------------------------ the task's test-time path
def task_of(*args):
    return get_task(parse_config([*DET, "--num_classes", "3", "--category_ids", "1,5,9", "--class_names", "a,b,c",
                                  *args]))


@pytest.fixture(scope="module")
def task():
    return task_of()


def test_flip_test_averages_hm_and_wh_and_takes_reg_unflipped(task):
    """The batch [image, mirrored image] through a fake network: hm and wh of the mirrored half are flipped back
    (torch's flip_tensor) and averaged after the sigmoid, reg comes from the unflipped half only."""
    rng = np.random.default_rng(4)
    outputs = (rng.normal(-2, 2, (2, 3, 8, 8)).astype(np.float32), rng.uniform(1, 9, (2, 2, 8, 8)).astype(np.float32),
               rng.random((2, 2, 8, 8)).astype(np.float32))
    maps = task.merge_flip(outputs)
    prob = 1 / (1 + np.exp(-outputs[0].astype(np.float64)))
    np.testing.assert_allclose(maps["hm"], (prob[0] + prob[1][..., ::-1]) / 2, rtol=1e-6)
    np.testing.assert_allclose(maps["wh"], (outputs[1][0] + outputs[1][1][..., ::-1]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(maps["reg"], outputs[2][0])
    seen = []

    def forward(batch):
        seen.append(batch)
        return outputs

    image = (rng.random((20, 30, 3)) * 255).astype(np.uint8)
    options = InferenceOptions(input_size=(32, 32), fit_scale=1.0, flip=True, score_thresh=0.0, top_k=10, nms="none")
    dets = task.detect(forward, image, options)
    assert len(seen) == 1 and seen[0].shape == (2, 3, 32, 32)
    np.testing.assert_array_equal(seen[0][1], seen[0][0][:, :, ::-1])
    chw, meta = task.make_input(image, task_pass(options), options)
    expected = det_detections(maps, meta, K=10)
    np.testing.assert_array_equal(dets.boxes, expected.boxes)
    np.testing.assert_array_equal(dets.labels, expected.labels)


def task_pass(options):
    from src.inference.passes import plan_passes

    (one_pass,) = plan_passes(options, True)
    return one_pass


def reference_merge(per_scale, max_per_image, sigma=0.5, threshold=0.001):
    """merge_outputs: per class the scales' detections concatenated, Gaussian Soft-NMS (IoU without the +1 pixel
    and boxes below the threshold dropped: this repository's documented conventions), then the scores >= the
    max_per_image-th best."""
    results = []
    labels = np.concatenate([d.labels for d in per_scale])
    boxes = np.concatenate([d.boxes for d in per_scale]).astype(np.float64)
    scores = np.concatenate([d.scores for d in per_scale]).astype(np.float64)
    for label in np.unique(labels):
        b, s = boxes[labels == label], scores[labels == label].copy()
        alive = list(range(len(s)))
        while alive:
            best = max(alive, key=lambda i: (s[i], -i))
            alive.remove(best)
            if s[best] >= threshold:
                results.append((s[best], label, tuple(b[best])))
            for i in alive:
                x1, y1 = max(b[best, 0], b[i, 0]), max(b[best, 1], b[i, 1])
                x2, y2 = min(b[best, 2], b[i, 2]), min(b[best, 3], b[i, 3])
                inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
                union = ((b[best, 2] - b[best, 0]) * (b[best, 3] - b[best, 1]) +
                         (b[i, 2] - b[i, 0]) * (b[i, 3] - b[i, 1]) - inter)
                iou = inter / union if union > 0 else 0.0
                s[i] *= np.exp(-iou * iou / sigma)
            alive = [i for i in alive if s[i] >= threshold]
    results.sort(key=lambda r: -r[0])
    if len(results) > max_per_image:
        kth = results[max_per_image - 1][0]
        results = [r for r in results if r[0] >= kth]
    return results


def test_several_scales_merge_per_class_then_keep_the_best(task):
    rng = np.random.default_rng(7)
    per_scale = []
    for _ in range(3):
        centres = rng.uniform(20, 80, (60, 2))
        sizes = rng.uniform(5, 30, (60, 2))
        boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], 1)
        per_scale.append(Detections(boxes, rng.random(60), np.zeros((60, 0, 2)), labels=rng.integers(0, 3, 60)))
    options = task_of("--test_scales", "0.5,1,1.5").inference_options("test")
    assert options.nms == "soft_gaussian" and options.top_k == 100
    merged = task.merge(per_scale, options)
    expected = reference_merge(per_scale, 100)
    assert len(merged) == len(expected) == 100
    np.testing.assert_allclose(merged.scores, [r[0] for r in expected], rtol=1e-5)
    assert merged.labels.tolist() == [r[1] for r in expected]
    np.testing.assert_allclose(merged.boxes, [r[2] for r in expected], atol=1e-4)
    single = task.merge(per_scale[:1], task_of().inference_options("test"))
    assert len(single) == 60 and np.all(np.diff(single.scores) <= 0)  # one scale: no NMS, all K kept
