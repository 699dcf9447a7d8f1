"""Tests for CenterFace's test path without MindSpore (src/centerface/wider.py, the task's passes through
src/evaluation/eval_set.py): a numpy stand-in network that "detects" the one
bright rectangle of its input and encodes it in the official head layout, written out here independently of
the decoder (centre -> grid (cx/4 - 0.5, cy/4 - 0.5), floor = cell, remainder = offset, scale = log(size/4),
landmarks relative to the box's top-left corner)."""
import json
import logging

import cv2
import numpy as np
import pytest

from src.centerface.wider import WiderEvalSet, list_wider_images, resolve_gt_dir, wider_text, write_results
from src.data.wider_gt import write_wider_gt
from src.evaluation.eval_set import TEST_INFO, EvalImage, run_eval_set
from src.inference.detections import Detections
from src.inference.passes import InferenceOptions, InferencePass
from src.model_utils.config import parse_config
from src.tasks import get_task

TASK = get_task("centerface")  # the task of the shipped config

STRIDE = 4
# (x, y) of the 5 landmarks relative to the box (left eye, right eye, nose, left/right mouth corner).
LANDMARKS_REL = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]])


def rectangle_network(batch):
    """(1, 3, H, W) input -> heads encoding the bounding box of the pixels brighter than 127.5 (channel 0)."""
    _, _, height, width = batch.shape
    h, w = height // STRIDE, width // STRIDE
    heat = np.full((1, 1, h, w), 0.001, np.float32)
    scale, offset = np.zeros((1, 2, h, w), np.float32), np.zeros((1, 2, h, w), np.float32)
    landmarks = np.zeros((1, 10, h, w), np.float32)
    rows, cols = np.nonzero(batch[0, 0] > 127.5)
    if len(rows):
        x1, x2, y1, y2 = cols.min(), cols.max() + 1.0, rows.min(), rows.max() + 1.0
        gx, gy = (x1 + x2) / 2 / STRIDE - 0.5, (y1 + y2) / 2 / STRIDE - 0.5
        row, col = int(np.floor(gy)), int(np.floor(gx))
        heat[0, 0, row, col] = 0.9
        scale[0, :, row, col] = np.log((y2 - y1) / STRIDE), np.log((x2 - x1) / STRIDE)
        offset[0, :, row, col] = gy - row, gx - col
        landmarks[0, 0::2, row, col] = LANDMARKS_REL[:, 1]
        landmarks[0, 1::2, row, col] = LANDMARKS_REL[:, 0]
    return heat, scale, offset, landmarks


def rectangle_image(height=150, width=200, box=(30, 30, 110, 130)):
    """Black RGB image with a white rectangle [x1, y1, x2, y2) (whole pixels)."""
    image = np.zeros((height, width, 3), np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = 255
    return image


def expected_landmarks(box):
    x1, y1, x2, y2 = box
    return np.stack([x1 + LANDMARKS_REL[:, 0] * (x2 - x1), y1 + LANDMARKS_REL[:, 1] * (y2 - y1)], axis=1)


# ---------------------------------------------------------------- checkpoints


# ---------------------------------------------------------------- images

def write_gt(gt_dir, events):
    """events: {event: [stem, ...]}; one face per image."""
    write_wider_gt(str(gt_dir), {e: [(s, np.array([[10, 10, 20, 20]]), np.ones((1, 3), bool)) for s in stems]
                                 for e, stems in events.items()})


def test_list_wider_images_follows_gt_order_and_finds_files(tmp_path):
    write_gt(tmp_path / "gt", {"1--B": ["1_b_2", "1_b_1"], "0--A": ["0_a_1"]})
    data = tmp_path / "images"
    for rel in ["1--B/1_b_2.jpg", "0--A/0_a_1.png", "0--A/unlisted.jpg"]:
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes(b"x")
    images = list_wider_images(data, tmp_path / "gt" / "wider_face_val.mat")
    assert [(i.info["event"], i.info["stem"]) for i in images] == [("1--B", "1_b_2"), ("1--B", "1_b_1"),
                                                                   ("0--A", "0_a_1")]
    assert [i.key for i in images] == ["1_b_2", "1_b_1", "0_a_1"]
    assert images[0].path == data / "1--B" / "1_b_2.jpg"
    assert images[1].path == data / "1--B" / "1_b_1.jpg"  # missing: kept, reported when read
    assert images[2].path == data / "0--A" / "0_a_1.png"


def test_list_wider_images_errors(tmp_path):
    write_gt(tmp_path / "gt", {"0--A": ["0_a_1"]})
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="none of the 1 ground-truth images"):
        list_wider_images(tmp_path / "empty", tmp_path / "gt")
    with pytest.raises(FileNotFoundError, match="data_dir .*missing"):
        list_wider_images(tmp_path / "missing", tmp_path / "gt")
    with pytest.raises(FileNotFoundError, match="wider_face_val.mat"):
        resolve_gt_dir(tmp_path / "no_gt")


# ---------------------------------------------------------------- options and passes


def test_options_from_config_single_scale_unless_multi_scale():
    cfg = parse_config(["--input_size", "", "--test_scales", "0.5,1.0", "--flip_test", "True"], script="test")
    options = get_task(cfg).inference_options("test")
    assert options.input_size is None and options.scales == (1.0,) and options.flip
    assert (options.score_thresh, options.top_k, options.fit_scale) == (0.02, 1000, 0.999)  # test.py's defaults
    cfg.multi_scale = True
    assert get_task(cfg).inference_options("test").scales == (0.5, 1.0)
    predict = get_task(parse_config(["--input_size", "640,480"], script="predict")).inference_options("predict")
    assert (predict.input_size, predict.fit_scale, predict.score_thresh, predict.top_k) == ((640, 480), 1.0, 0.5, 200)
    assert get_task(parse_config([], script="test")).inference_options("test").input_size == (832, 832)


# ---------------------------------------------------------------- detection through passes

BOX = (30, 30, 110, 130)  # off-centre: a pass mirrored the wrong way would not merge with the others


@pytest.mark.parametrize("options", [
    InferenceOptions(input_size=(256, 256)),
    InferenceOptions(input_size=None),
    InferenceOptions(input_size=(256, 256), scales=(0.5, 1.0, 1.5), flip=True),
    InferenceOptions(input_size=None, scales=(0.75, 1.25), flip=True),
], ids=["canvas", "original", "canvas-multi-flip", "original-multi-flip"])
def test_detect_maps_the_face_back_to_original_pixels(options):
    dets = TASK.detect(rectangle_network, rectangle_image(box=BOX), options)
    # One face: hard NMS merges the passes. Edges move by at most ~1 input pixel through bilinear resizing;
    # the smallest pass (scale 0.5 of 256 -> ~0.6 input px per original px) makes that ~2 original pixels.
    assert len(dets) == 1
    np.testing.assert_allclose(dets.boxes[0], BOX, atol=2.0)
    np.testing.assert_allclose(dets.keypoints[0], expected_landmarks(BOX), atol=2.0)
    assert dets.scores[0] == pytest.approx(0.9)


def test_flipped_pass_keeps_left_landmarks_on_the_left():
    image = rectangle_image(box=(20, 30, 90, 120))  # off-centre: a wrong mirror would move it
    options = InferenceOptions(input_size=(256, 256))
    one_pass = InferencePass((256, 256), 0.999, True)
    seen = []

    def network(batch):
        seen.append(batch)
        return rectangle_network(batch)
    dets = TASK.run_pass(network, image, one_pass, options)
    chw = seen[0][0]
    assert chw[0, :, : chw.shape[2] // 2].max() < 128  # the rectangle sits on the right of the flipped input
    np.testing.assert_allclose(dets.boxes[0], (20, 30, 90, 120), atol=1.0)
    np.testing.assert_allclose(dets.keypoints[0], expected_landmarks((20, 30, 90, 120)), atol=1.0)
    assert dets.keypoints[0, 0, 0] < dets.keypoints[0, 1, 0]  # left eye has the smaller x


def test_soft_nms_merge_keeps_decayed_duplicates():
    options = InferenceOptions(input_size=(256, 256), flip=True, nms="soft_gaussian", soft_sigma=0.5)
    dets = TASK.detect(rectangle_network, rectangle_image(box=BOX), options)
    # Two passes find the same face; Gaussian Soft-NMS keeps the second with score 0.9 * exp(-iou^2 / 0.5).
    assert len(dets) == 2
    assert dets.scores[0] == pytest.approx(0.9)
    iou_bound = 0.9 * np.exp(-0.9 ** 2 / 0.5)  # IoU of the two is > 0.9
    assert 0.001 < dets.scores[1] < iou_bound


# ---------------------------------------------------------------- result files

def test_wider_text_true_count_sorted_xywh():
    dets = Detections(boxes=[[0, 0, 10, 20], [5.5, 6, 8, 16], [1, 2, 3, 4]], scores=[0.2, 0.9, 0.5],
                      keypoints=np.zeros((3, 5, 2)))
    lines = wider_text("img_1", dets).splitlines()
    assert lines[0] == "img_1" and int(lines[1]) == len(lines) - 2 == 3
    values = np.array([[float(v) for v in line.split()] for line in lines[2:]])
    np.testing.assert_allclose(values, [[5.5, 6, 2.5, 10, 0.9], [1, 2, 2, 2, 0.5], [0, 0, 10, 20, 0.2]], atol=1e-6)
    assert wider_text("empty", Detections.empty(5)) == "empty\n0\n"


def test_write_results_txt_and_landmark_json(tmp_path):
    dets = Detections(boxes=[[1, 2, 11, 22]], scores=[0.75], keypoints=np.arange(10).reshape(1, 5, 2))
    image = EvalImage("0_Parade_1", tmp_path / "0_Parade_1.jpg", {"event": "0--Parade", "stem": "0_Parade_1"})
    txt = write_results(tmp_path / "out", image, dets, (480, 640))
    assert txt == tmp_path / "out" / "0--Parade" / "0_Parade_1.txt"
    record = json.loads(txt.with_suffix(".json").read_text())
    assert record["image"] == "0--Parade/0_Parade_1.jpg" and (record["height"], record["width"]) == (480, 640)
    assert record["detections"][0]["landmarks"] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert record["detections"][0]["bbox"] == [1, 2, 11, 22]
    assert sorted(p.name for p in txt.parent.iterdir()) == ["0_Parade_1.json", "0_Parade_1.txt"]  # no temp files


def test_infer_images_counts_unreadable_and_continues(tmp_path, caplog):
    folder = tmp_path / "images" / "0--A"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "good.jpg"), rectangle_image(box=BOX)[:, :, ::-1])
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    eval_set = WiderEvalSet(folder.parent, "")
    eval_set._images = [EvalImage(stem, folder / f"{stem}.jpg", {"event": "0--A", "stem": stem})
                        for stem in ("good", "broken", "missing")]
    out = tmp_path / "out"
    with caplog.at_level(logging.ERROR):
        summary = run_eval_set(TASK, rectangle_network, eval_set, InferenceOptions(input_size=(256, 256)), out,
                               checkpoint="x.ckpt", progress=False)
    assert summary.failed == [str(folder / "broken.jpg"), str(folder / "missing.jpg")]
    assert "broken.jpg" in caplog.text and "missing.jpg" in caplog.text
    assert sorted(p.name for p in (out / "0--A").iterdir()) == ["good.json", "good.txt"]
    assert summary.objects == 1 and "2 unreadable" in summary.line()
    info = json.loads((out / TEST_INFO).read_text())
    assert info["summary"]["images"] == 3 and info["options"]["input_size"] == [256, 256]
