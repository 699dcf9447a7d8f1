"""Tests of src/data/synthetic.py: geometry checked against independent pixel measurements, data set layout,
COCO/WIDER consistency and determinism. Images are small (96..128 px) to keep the module fast."""
import json
import os

import cv2
import numpy as np
import pytest

from src.data import synthetic
from src.data.synthetic import (FaceStyle, VAL_EVENTS, draw_face, generate, label_faces, make_face, place_faces,
                                setting_flags, wider_box)

STYLE = FaceStyle(skin=(200.0, 150.0, 120.0), hair=(30.0, 20.0, 10.0), sclera=(250.0, 250.0, 250.0),
                  iris=(0.0, 0.0, 255.0), brow=(10.0, 10.0, 10.0), nose=(0.0, 255.0, 0.0), lips=(255.0, 0.0, 0.0))
BACKGROUND = (128.0, 128.0, 128.0)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    paths = generate(str(out), num_train=4, num_val=6, seed=3, image_size=128, progress=False)
    return out, paths


def blank(height=200, width=200):
    image = np.empty((height, width, 3), np.float32)
    image[:] = BACKGROUND
    return image, np.zeros((height, width), np.int32)


def ellipse_extent(face, samples=100001):
    """Tight box from densely sampled boundary points of the rotated ellipse (independent of Face.box)."""
    t = np.linspace(0, 2 * np.pi, samples)
    xs, ys = face.to_image(np.cos(t), np.sin(t))
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()])


@pytest.mark.parametrize("height, tilt, aspect", [(12, 0, 1.3), (40, -30, 1.15), (90, 17, 1.4), (150, 30, 1.25)])
def test_face_box_is_the_tight_box_of_the_drawn_head(height, tilt, aspect):
    face = make_face(100.3, 99.8, height, tilt, aspect, np.random.default_rng(0))
    box = face.box()
    assert box[3] - box[1] == pytest.approx(height, abs=1e-9)
    np.testing.assert_allclose(box, ellipse_extent(face), atol=1e-3)
    image, owner = blank()
    draw_face(image, owner, 1, face, STYLE)
    rows, cols = np.nonzero(np.any(image != BACKGROUND, axis=2))
    drawn = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])  # pixel-area coordinates
    # anti-aliased rasterisation covers every pixel the ellipse touches: within one pixel of the box
    assert np.all(np.abs(drawn - box) <= 1.0), (drawn, box)
    rows, cols = np.nonzero(owner == 1)
    assert np.all(np.abs(np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]) - box) <= 1.0)
    # sub-pixel placement: the centroid of the head's pixel centres is the ellipse centre (a half-pixel
    # convention error would move it by 0.5; measured deviations are <= 0.09 px)
    assert abs(cols.mean() + 0.5 - face.cx) < 0.15 and abs(rows.mean() + 0.5 - face.cy) < 0.15


@pytest.mark.parametrize("seed, tilt", [(1, -30), (2, 0), (3, 12), (4, 30)])
def test_landmarks_sit_on_the_drawn_features(seed, tilt):
    face = make_face(100.0, 100.0, 120, tilt, 1.3, np.random.default_rng(seed))
    image, owner = blank()
    draw_face(image, owner, 1, face, STYLE)
    at = lambda p: tuple(image[int(p[1]), int(p[0])])  # noqa: E731  pixel containing the landmark
    left_eye, right_eye, nose, mouth_left, mouth_right = face.landmarks
    assert at(left_eye) == STYLE.iris and at(right_eye) == STYLE.iris
    assert at(nose) == STYLE.nose
    assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]     # "left" = smaller x
    # the lips span exactly between the two mouth landmarks (measured along the mouth axis)
    rows, cols = np.nonzero(np.all(image == STYLE.lips, axis=2))
    centre, axis = (mouth_left + mouth_right) / 2, (mouth_right - mouth_left) / np.linalg.norm(mouth_right - mouth_left)
    along = (np.stack([cols + 0.5, rows + 0.5], axis=1) - centre) @ axis
    half = np.linalg.norm(mouth_right - mouth_left) / 2
    assert along.min() == pytest.approx(-half, abs=1.0) and along.max() == pytest.approx(half, abs=1.0)


def test_landmark_visibility_and_occlusion_from_the_owner_map():
    face = make_face(100.0, 100.0, 100, 10, 1.3, np.random.default_rng(0))
    image, owner = blank()
    draw_face(image, owner, 1, face, STYLE)
    total = int(np.count_nonzero(owner == 1))
    lx, ly = face.landmarks[0]
    x0, x1, y0, y1 = int(lx) - 7, int(lx) + 8, int(ly) - 7, int(ly) + 8       # hide the left eye only
    hidden = int(np.count_nonzero(owner[y0:y1, x0:x1] == 1))
    owner[y0:y1, x0:x1] = 0
    (label,) = label_faces([face], owner, [total])
    assert label.visible.tolist() == [False, True, True, True, True]
    assert label.occluded_fraction == pytest.approx(hidden / total)
    assert 0.01 < hidden / total < 0.3 and label.occlusion == 1                 # partial: 1..30 % hidden
    owner[owner == 1] = 0
    assert label_faces([face], owner, [total])[0].occlusion == 2


def test_placed_faces_are_inside_sized_and_barely_overlapping():
    heights = []
    for i in range(200):
        rng = np.random.default_rng([7, i])
        scene = list(synthetic.SCENES)[i % len(synthetic.SCENES)]
        height, width = 96 + 8 * (i % 5), 128
        faces = place_faces(rng, height, width, scene, 8, 300)
        boxes = np.array([f.box() for f in faces])
        assert len(faces) >= 1
        assert np.all(boxes[:, :2] >= -1e-9) and np.all(boxes[:, 2] <= width + 1e-9)
        assert np.all(boxes[:, 3] <= height + 1e-9)
        sizes = boxes[:, 3] - boxes[:, 1]
        assert np.all(sizes >= 8 - 1e-9) and np.all(sizes <= 0.95 * min(height, width) + 1e-9)
        heights += sizes.tolist()
        for a in range(len(boxes)):
            for b in range(a + 1, len(boxes)):
                iw = min(boxes[a, 2], boxes[b, 2]) - max(boxes[a, 0], boxes[b, 0])
                ih = min(boxes[a, 3], boxes[b, 3]) - max(boxes[a, 1], boxes[b, 1])
                areas = (boxes[[a, b], 2] - boxes[[a, b], 0]) * (boxes[[a, b], 3] - boxes[[a, b], 1])
                assert max(iw, 0) * max(ih, 0) <= synthetic.MAX_OVERLAP * areas.min() + 1e-9
    heights = np.array(heights)
    # every octave of sizes occurs (crowd scenes make small faces the most frequent)
    octaves = np.histogram(heights, [8, 16, 32, 64, 128])[0] / len(heights)
    assert np.all(octaves > 0.01) and octaves[0] > octaves[1] > octaves[2], octaves


def test_wider_box_rounding_and_setting_thresholds():
    np.testing.assert_array_equal(wider_box(np.array([0.4, 1.5, 10.49, 20.5])), [0, 2, 10, 19])
    assert setting_flags(50, 0) == [True, True, True]
    assert setting_flags(49, 1) == [False, True, True]
    assert setting_flags(20, 0) == [False, True, True]
    assert setting_flags(19, 0) == [False, False, True]
    assert setting_flags(200, 2) == [False, False, True]       # heavily occluded: hard only
    assert setting_flags(7, 0) == [False, False, False]


def test_layout_and_coco_content(dataset):
    out, paths = dataset
    assert paths == {"train_images": str(out / "train" / "images"), "train_json": str(out / "train" / "train.json"),
                     "val_images": str(out / "val" / "images"), "val_json": str(out / "val" / "val.json"),
                     "val_gt_dir": str(out / "val" / "ground_truth")}
    for split, count in (("train", 4), ("val", 6)):
        document = json.loads(open(paths[f"{split}_json"]).read())
        assert document["categories"][0]["id"] == 1 and document["categories"][0]["name"] == "face"
        assert [im["id"] for im in document["images"]] == list(range(1, count + 1))
        assert [a["id"] for a in document["annotations"]] == list(range(1, len(document["annotations"]) + 1))
        sizes = {}
        for im in document["images"]:
            decoded = cv2.imread(os.path.join(paths[f"{split}_images"], im["file_name"]))
            assert decoded.shape == (im["height"], im["width"], 3)
            sizes[im["id"]] = (im["width"], im["height"])
        assert {a["image_id"] for a in document["annotations"]} == set(sizes)     # every image has faces
        for a in document["annotations"]:
            x, y, w, h = a["bbox"]
            width, height = sizes[a["image_id"]]
            assert a["category_id"] == 1 and a["iscrowd"] == 0 and a["area"] == pytest.approx(w * h)
            assert 0 <= x and 0 <= y and x + w <= width + 1e-3 and y + h <= height + 1e-3 and h >= 8 - 1e-3
            keypoints = np.array(a["keypoints"]).reshape(5, 3)
            assert set(keypoints[:, 2]) <= {0, 2}
            assert np.all(keypoints[keypoints[:, 2] == 0, :2] == 0)
            visible = keypoints[keypoints[:, 2] == 2, :2]
            assert np.all((visible >= [x, y]) & (visible <= [x + w, y + h]))    # landmarks inside the head box
    val = json.loads(open(paths["val_json"]).read())
    assert {im["file_name"].split("/")[0] for im in val["images"]} <= set(VAL_EVENTS)
    assert all(im["width"] == 128 and 96 <= im["height"] <= 160 for im in val["images"])


def test_val_ground_truth_agrees_with_val_json(dataset, read_wider_gt):
    _, paths = dataset
    val = json.loads(open(paths["val_json"]).read())
    gt = read_wider_gt(paths["val_gt_dir"])
    by_name = {im["file_name"]: im["id"] for im in val["images"]}
    faces = {}
    for a in val["annotations"]:
        faces.setdefault(a["image_id"], []).append(a["bbox"])
    seen = 0
    for event, images in gt.items():
        for image in images:
            image_id = by_name[f"{event}/{image.stem}.jpg"]
            seen += 1
            x, y, w, h = np.array(faces[image_id]).T
            expected = np.stack([np.floor(x + 0.5), np.floor(y + 0.5),
                                 np.floor(x + w + 0.5) - np.floor(x + 0.5),
                                 np.floor(y + h + 0.5) - np.floor(y + 0.5)], axis=1)
            np.testing.assert_array_equal(image.boxes_xywh, expected)
            heights, heavy = image.boxes_xywh[:, 3], image.attributes["occlusion"] == 2
            np.testing.assert_array_equal(image.kept[:, 0], (heights >= 50) & ~heavy)
            np.testing.assert_array_equal(image.kept[:, 1], (heights >= 20) & ~heavy)
            np.testing.assert_array_equal(image.kept[:, 2], heights >= 8)
    assert seen == len(val["images"])


def test_same_seed_gives_identical_output_and_images_do_not_depend_on_the_count(dataset, tmp_path):
    out, paths = dataset
    again = generate(str(tmp_path / "again"), num_train=4, num_val=6, seed=3, image_size=128, progress=False)
    for key in ("train_json", "val_json"):
        assert open(again[key], "rb").read() == open(paths[key], "rb").read()
    for name in os.listdir(paths["val_gt_dir"]):
        assert open(os.path.join(again["val_gt_dir"], name), "rb").read() == \
            open(os.path.join(paths["val_gt_dir"], name), "rb").read()
    for name in os.listdir(paths["train_images"]):
        np.testing.assert_array_equal(cv2.imread(os.path.join(again["train_images"], name)),
                                      cv2.imread(os.path.join(paths["train_images"], name)))
    fewer = generate(str(tmp_path / "fewer"), num_train=1, num_val=0, seed=3, image_size=128, progress=False)
    assert set(fewer) == {"train_images", "train_json"}
    assert open(os.path.join(fewer["train_images"], "train_000000.jpg"), "rb").read() == \
        open(os.path.join(paths["train_images"], "train_000000.jpg"), "rb").read()
    other = generate(str(tmp_path / "other"), num_train=4, num_val=0, seed=4, image_size=128, progress=False)
    assert open(other["train_json"], "rb").read() != open(paths["train_json"], "rb").read()


def test_cli_summary_and_overwrite_protection(tmp_path, capsys):
    args = ["--output_path", str(tmp_path), "--num_train", "2", "--num_val", "2", "--seed", "1", "--image_size", "96"]
    paths = synthetic.main(args)
    printed = capsys.readouterr().out
    train, val = (json.loads(open(paths[k]).read()) for k in ("train_json", "val_json"))
    assert f"train: 2 images, {len(train['annotations'])} faces" in printed
    assert f"val: 2 images, {len(val['annotations'])} faces (easy " in printed
    with pytest.raises(SystemExit, match="exists and is not empty; pass overwrite=True"):
        synthetic.main(args)
    synthetic.main(args + ["--overwrite"])
    assert sorted(os.listdir(tmp_path / "train" / "images")) == ["train_000000.jpg", "train_000001.jpg"]
    with pytest.raises(SystemExit, match="min_face <= max_face"):
        synthetic.main(["--output_path", str(tmp_path / "x"), "--num_train", "1", "--num_val", "0", "--seed", "0",
                        "--min_face", "30", "--max_face", "20"])


@pytest.mark.parametrize("kwargs, message", [
    ({"num_train": -1}, "num_train and num_val must be >= 0"),
    ({"image_size": 16}, "image_size must be >= 32"),
    ({"min_face": 60, "image_size": 64}, "min_face 60 does not fit"),
    ({"seed": -2}, "seed must be >= 0"),
])
def test_bad_arguments_are_refused_before_writing(tmp_path, kwargs, message):
    arguments = {"num_train": 1, "num_val": 1, "seed": 0, "image_size": 64, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(str(tmp_path / "out"), progress=False, **arguments)
    assert not (tmp_path / "out").exists()
