"""Tests of src/data/synthetic_objects.py: each class's geometry against its analytic area and the pixels it
changes, label boxes as the tight boxes of the visible drawn pixels over many scenes, nothing drawn that is not
labelled, class balance, crowds against pycocotools, the COCO instances layout (ground truth as predictions
scores AP 1), determinism and the command line. Images are small (160..320 px) to keep the module fast."""
import contextlib
import io
import json
import math
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from src.data import synthetic_objects as so
from src.data.synthetic_objects import (CLASSES, draw_shape, generate, main, render_scene, sample_colours,
                                        sample_shape)
from src.data.synthetic_coco import image_draws
from src.data.synthetic_scene import OCCLUDER_CODE, sample_image_size
from tests.requirements import require

SENTINEL = -1000.0          # no drawn colour can equal it: every pixel a shape touches changes


@pytest.fixture(scope="module")
def scenes():
    """The 150 train scenes of seed 9 at image_size 256, with their backgrounds: every class, crowds, occlusions,
    border cuts."""
    return [render_scene(rng, height, width, keep_background=True)
            for rng, height, width in image_draws(9, "train2017", 150, 256)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic_objects")
    result = generate(str(out), num_train=8, num_val=4, seed=21, image_size=192, progress=False)
    return out, result


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def random_shape(rng, category, size_range=(8.0, 120.0)):
    size = math.exp(rng.uniform(math.log(size_range[0]), math.log(size_range[1])))
    shape = sample_shape(rng, category, size)
    shape.centre = (rng.uniform(-20, 180), rng.uniform(-20, 140))          # some cut by the canvas border
    shape.colours = ((200.0, 30.0, 60.0), (20.0, 220.0, 90.0))
    return shape


def box_of(mask, origin=(0, 0)):
    rows, cols = np.nonzero(mask)
    return np.array([cols.min() + origin[0], rows.min() + origin[1], cols.max() + origin[0], rows.max() + origin[1]])


# ----------------------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("category", CLASSES)
def test_the_mask_of_a_shape_is_what_it_draws(category):
    """Property over 150 random shapes per class (sizes 8..120 px, any aspect, rotation, sub-pixel centre, some
    crossing the canvas border): the mask draw_shape returns (the label's pixels) is exactly where the image
    changed, up to the one-pixel anti-aliased rim: every mask pixel changed, no changed pixel is more than one
    pixel from the mask, and the two tight boxes differ by at most one pixel per side."""
    rng = np.random.default_rng(CLASSES.index(category))
    for _ in range(150):
        shape = random_shape(rng, category)
        image = np.full((160, 200, 3), SENTINEL, np.float32)
        mask, origin = draw_shape(image, shape)
        changed = np.any(image != SENTINEL, axis=2)
        full = np.zeros(changed.shape, bool)
        full[origin[1]:origin[1] + mask.shape[0], origin[0]:origin[0] + mask.shape[1]] = mask
        if not full.any():
            assert not changed.any()
            continue
        assert np.all(changed[full])
        grown = cv2.dilate(full.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        assert not np.any(changed & ~grown)
        assert np.abs(box_of(changed) - box_of(full)).max() <= 1
        # the shape's own outline (its polygon vertices) bounds what is drawn, within a pixel of rasterisation
        extent = shape.extent()
        x1, y1, x2, y2 = box_of(full)
        assert x1 >= extent[0] - 1 and y1 >= extent[1] - 1 and x2 <= extent[2] + 1 and y2 <= extent[3] + 1


def analytic_area(shape):
    """Area of the shape from its parameters, computed here independently of the drawing code (pixels)."""
    a, b = shape.size / 2, shape.size / 2 * shape.aspect          # half extents along the two axes
    d = shape.detail
    if shape.category == "ring":
        return math.pi * a * b * (1 - d * d)
    if shape.category == "cross":                                   # two bars of width 2d minus their overlap
        return (2 * 2 * d * 2 - (2 * d) ** 2) * a * b
    if shape.category == "star":                                    # 10 triangles (centre, tip, inner corner)
        return 10 * 0.5 * 1.0 * d * math.sin(math.radians(36)) * a * b
    if shape.category == "triangle_frame":                          # equilateral triangle of side 2, hole d^2
        return math.sqrt(3) * a * b * (1 - d * d)
    return 4 * a * b                                                # striped_box, checkerboard: the rectangle


@pytest.mark.parametrize("category", CLASSES)
def test_each_class_has_its_analytic_area_and_holes_where_expected(category):
    """Drawn pixel count vs the area from the class's definition, for shapes of 150..300 px: the 8-connected
    raster covers every pixel the outline touches, so it exceeds the area by a fraction of a pixel per pixel of
    outline (measured 0.36..0.77 over these shapes); bounds 0.2..1.0 (a hole or an arm 10 % off moves the count by
    more than 1.5 units: e.g. ring, hole 0.5 -> 0.55, 1.75 units)."""
    rng = np.random.default_rng(10 + CLASSES.index(category))
    for _ in range(10):
        shape = sample_shape(rng, category, rng.uniform(150, 300))
        shape.centre = (200.0, 200.0)
        image = np.full((400, 400, 3), SENTINEL, np.float32)
        mask, origin = draw_shape(image, shape)
        count = np.count_nonzero(mask)
        outline = sum(np.linalg.norm(np.diff(np.vstack([p, p[:1]]), axis=0), axis=1).sum()
                      for p in shape.layers()[0][0])
        area = analytic_area(shape)
        assert area + 0.2 * outline <= count <= area + 1.0 * outline, (category, count, area, outline)
        centre_pixel = mask[200 - origin[1], 200 - origin[0]]
        if category in ("ring", "triangle_frame"):
            hole_centre = shape._to_image(np.array([[0.0, math.sqrt(3) / 6 if category == "triangle_frame"
                                                      else 0.0]]))[0]
            assert not mask[int(round(hole_centre[1])) - origin[1], int(round(hole_centre[0])) - origin[0]]
        else:
            assert centre_pixel


def test_textures_alternate_their_two_colours_along_the_shape():
    """Striped boxes show `detail` bands and checkerboards `detail` x `detail2` cells of alternating colour along
    their axes (sampled at the band/cell centres in the shape's own frame)."""
    rng = np.random.default_rng(3)
    for category in ("striped_box", "checkerboard"):
        for _ in range(10):
            shape = sample_shape(rng, category, rng.uniform(80, 200))
            shape.centre, shape.colours = (150.0, 150.0), ((250.0, 0.0, 0.0), (0.0, 0.0, 250.0))
            image = np.full((300, 300, 3), SENTINEL, np.float32)
            draw_shape(image, shape)
            bands = int(shape.detail)
            rows = int(shape.detail2) if category == "checkerboard" else 1
            for i in range(bands):
                for j in range(rows):
                    u, v = -1 + (2 * i + 1) / bands, -1 + (2 * j + 1) / rows
                    x, y = shape._to_image(np.array([[u, v]]))[0]
                    pixel = image[int(round(y)), int(round(x))]
                    expected = (0.0, 0.0, 250.0) if (i + j) % 2 == 1 else (250.0, 0.0, 0.0)   # j = 0 for bands
                    np.testing.assert_allclose(pixel, expected, atol=1.0)


def test_colours_contrast_with_what_lies_under_the_object():
    """The main colour differs by >= MIN_CONTRAST from the mean under the object (a miss needs 5 draws all
    within 64 levels: none in 20000 measured); the second colour keeps its 96..160 shift from the main one in
    every channel, which leaves fewer draws to choose from: 2.1 % of 20000 measured missed the contrast; bound
    5 % of 500 (4.4 binomial std above)."""
    rng = np.random.default_rng(5)
    second_misses = 0
    for _ in range(500):
        image = np.empty((20, 20, 3), np.float32)
        image[:] = rng.uniform(0, 255, 3)
        main_colour, second = sample_colours(rng, image, (2.0, 2.0, 15.0, 15.0))
        assert np.abs(np.array(main_colour) - image[0, 0]).max() >= so.MIN_CONTRAST
        second_misses += np.abs(np.array(second) - image[0, 0]).max() < so.MIN_CONTRAST
        assert np.all(np.abs(np.mod(np.array(second) - main_colour + 128, 256) - 128) >= 96 - 1e-9)
    assert second_misses <= 25


# ----------------------------------------------------------------------------------------------- scenes
def test_boxes_are_the_tight_boxes_of_the_visible_drawn_pixels(scenes):
    """Over 150 scenes: each label's box is the span of the pixel centres of what its object still shows (owner
    map == its number, over the whole image), area their count, inside the image; crowd members add no label."""
    for scene in scenes:
        height, width = scene.image.shape[:2]
        numbers = set()
        for label in scene.objects:
            visible = scene.owner == label.number
            np.testing.assert_array_equal(label.box[:2], box_of(visible)[:2])
            np.testing.assert_array_equal(label.box[:2] + label.box[2:], box_of(visible)[2:])
            assert label.area == np.count_nonzero(visible) <= label.drawn_area
            x, y, w, h = label.box
            assert 0 <= x and 0 <= y and w >= 1 and h >= 1 and x + w <= width - 1 and y + h <= height - 1
            numbers.add(label.number)
        codes = set(np.unique(scene.owner)) - {0, OCCLUDER_CODE}
        assert numbers <= codes and len(codes - numbers) == scene.counts["unlabelled"]


def test_nothing_is_drawn_but_the_labelled_objects_and_occluders(scenes):
    """The image equals the scene drawn without objects (the background, finished with the same blur, darkening
    and noise) bit for bit away from every object and occluder pixel (13 x 13 neighbourhood: blur and the
    anti-aliased rim), and every labelled object of >= 12 px differs visibly from it on its own pixels (mean
    largest channel difference: 1st percentile 54 levels measured, median 130)."""
    contrasts = []
    for scene in scenes:
        image, background = scene.image.astype(np.int32), scene.background.astype(np.int32)
        drawn = cv2.dilate((scene.owner != 0).astype(np.uint8), np.ones((13, 13), np.uint8)) > 0
        np.testing.assert_array_equal(image[~drawn], background[~drawn])
        for label in scene.objects:
            if not label.iscrowd and min(label.box[2:]) >= 12:
                own = scene.owner == label.number
                contrasts.append(np.abs(image[own] - background[own]).max(axis=1).mean())
    contrasts = np.array(contrasts)
    assert len(contrasts) > 300
    assert np.mean(contrasts > 30) >= 0.97, np.percentile(contrasts, [1, 5, 50])


def test_classes_are_balanced_and_sizes_occlusion_and_crowds_vary(scenes):
    """Uniform classes: ~1/6 each of the single-object labels (835 here, the largest deviation 9 %); tolerance
    +-25 % of the mean (3.2 binomial std). Sizes from ~10 px to a good part of the image; some objects cut by the
    border, some occluded, some crowds (measured 95, 108, 15)."""
    counts = np.zeros(len(CLASSES), int)
    sides, crowds, cut, occluded = [], 0, 0, 0
    for scene in scenes:
        for label in scene.objects:
            if label.iscrowd:
                crowds += 1
                continue
            counts[label.category_id - 1] += 1
            sides.append(max(label.box[2:]) + 1)
            cut += label.border_cut
            occluded += label.area < label.drawn_area
    mean = counts.mean()
    assert counts.sum() > 600 and np.all(np.abs(counts - mean) <= 0.25 * mean), counts
    sides = np.array(sides)
    assert sides.min() <= 12 and np.percentile(sides, 25) < 32 and sides.max() > 0.45 * 256 * 0.625
    assert crowds >= 5 and cut >= 30 and occluded >= 50


def test_crowd_regions_decode_to_their_visible_members_with_pycocotools(scenes):
    mask_utils = require("pycocotools.mask")
    seen = 0
    for scene in scenes:
        for label in scene.objects:
            if label.iscrowd:
                seen += 1
                rle = mask_utils.frPyObjects(label.segmentation, *label.segmentation["size"])
                np.testing.assert_array_equal(mask_utils.decode(rle), scene.owner == label.number)
                x, y, w, h = mask_utils.toBbox(rle)
                # pycocotools' box is in pixel-area units: one pixel wider than the span of centres
                np.testing.assert_allclose([x, y, w - 1, h - 1], label.box)
    assert seen >= 5


def test_plain_scenes_and_class_subsets():
    """clutter False: a smooth background, no crowds, occluders, border cuts; classes: only those."""
    for index in range(30):
        rng = np.random.default_rng([4, 0, index])
        height, width = sample_image_size(rng, 160)
        scene = render_scene(rng, height, width, max_objects=6, keep_background=True, clutter=False,
                             classes=("cross", "star"))
        assert scene.counts["crowds"] == scene.counts["occluders"] == scene.counts["distractors"] == 0
        assert scene.counts["blurred"] == scene.counts["darkened"] == 0
        assert not np.any(scene.owner == OCCLUDER_CODE)
        assert {label.category_id for label in scene.objects} <= {so.CATEGORY_ID["cross"], so.CATEGORY_ID["star"]}
        assert not any(label.border_cut or label.iscrowd for label in scene.objects)
        background = scene.background.astype(np.float32)
        assert np.percentile(np.abs(background - cv2.blur(background, (5, 5)))[4:-4, 4:-4], 99.9) < 25


def test_object_size_option_sets_the_size_range():
    sizes = []
    for index in range(40):
        rng = np.random.default_rng([6, 0, index])
        height, width = sample_image_size(rng, 320)
        scene = render_scene(rng, height, width, max_objects=3, object_size=(0.3, 0.5), clutter=False)
        for label in scene.objects:
            if label.area == label.drawn_area:
                sizes.append((max(label.box[2:]) + 1) / min(height, width))
    sizes = np.array(sizes)
    # the longer side of the rotated box: between 0.3 x cos(45 deg)-ish (a rotated thin shape) and 0.5 x sqrt(2)
    assert len(sizes) > 40 and sizes.min() > 0.3 * 0.6 and sizes.max() < 0.5 * math.sqrt(2) + 0.02


# ----------------------------------------------------------------------------------------------- data set
def test_layout_and_coco_instances_schema(dataset):
    out, result = dataset
    assert sorted(os.listdir(out)) == ["annotations", "train2017", "val2017"]
    assert sorted(os.listdir(out / "annotations")) == ["instances_train2017.json", "instances_val2017.json"]
    image_ids = []
    for split, count in (("train2017", 8), ("val2017", 4)):
        document = load(out / "annotations" / f"instances_{split}.json")
        assert document["categories"] == [{"supercategory": "shape", "id": i + 1, "name": name}
                                          for i, name in enumerate(CLASSES)]
        images = {image["id"]: image for image in document["images"]}
        assert len(images) == count and len(os.listdir(out / split)) == count
        image_ids += list(images)
        for image in images.values():
            decoded = cv2.imread(str(out / split / image["file_name"]))
            assert decoded.shape == (image["height"], image["width"], 3)
        ann_ids = set()
        for ann in document["annotations"]:
            assert list(ann) == ["segmentation", "area", "iscrowd", "image_id", "bbox", "category_id", "id"]
            assert ann["id"] not in ann_ids and ann["image_id"] in images and ann["iscrowd"] in (0, 1)
            ann_ids.add(ann["id"])
            assert all(isinstance(v, float) for v in ann["bbox"]) and isinstance(ann["area"], float)
            x, y, w, h = ann["bbox"]
            image = images[ann["image_id"]]
            assert 0 <= x and 0 <= y and w >= 1 and h >= 1
            assert x + w <= image["width"] - 1 and y + h <= image["height"] - 1
            assert 0 < ann["area"] <= (w + 1) * (h + 1)
            if ann["iscrowd"]:
                assert ann["segmentation"]["size"] == [image["height"], image["width"]]
            else:
                assert all(len(p) >= 6 and len(p) % 2 == 0 for p in ann["segmentation"])
        counts = result["counts"][split]
        assert counts["objects"] == sum(1 for a in document["annotations"] if not a["iscrowd"])
        assert counts["images"] == count
    assert len(set(image_ids)) == len(image_ids)


def test_pycocotools_scores_ground_truth_as_predictions_ap_1(dataset):
    """Every non-crowd box as a detection of score 1: AP must be exactly 1 (a wrong id, category, area or a
    degenerate box would lower it); detections on the crowd regions as well change nothing (COCO ignores them)."""
    coco_module = require("pycocotools.coco")
    cocoeval_module = require("pycocotools.cocoeval")
    out, _ = dataset
    for split in ("train2017", "val2017"):
        with contextlib.redirect_stdout(io.StringIO()):
            ground_truth = coco_module.COCO(str(out / "annotations" / f"instances_{split}.json"))
        annotations = ground_truth.dataset["annotations"]
        assert any(a["iscrowd"] for a in load(out / "annotations" / "instances_train2017.json")["annotations"])
        for with_crowds in (False, True):
            predictions = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
                            "score": 1.0} for a in annotations if with_crowds or not a["iscrowd"]]
            with contextlib.redirect_stdout(io.StringIO()):
                evaluation = cocoeval_module.COCOeval(ground_truth, ground_truth.loadRes(predictions), "bbox")
                evaluation.evaluate()
                evaluation.accumulate()
                evaluation.summarize()
            assert evaluation.stats[0] == pytest.approx(1.0) and evaluation.stats[1] == pytest.approx(1.0)
        ratios = [ground_truth.annToMask(a).sum() / a["area"] for a in annotations]
        assert 0.6 < np.median(ratios) < 1.05             # the polygons/RLE describe the visible pixels


def files_under(root):
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path, dataset):
    out, _ = dataset
    names = files_under(out)
    assert len(names) == 8 + 4 + 2
    generate(str(tmp_path / "again"), num_train=8, num_val=4, seed=21, image_size=192, progress=False)
    assert files_under(tmp_path / "again") == names
    assert all((tmp_path / "again" / name).read_bytes() == (out / name).read_bytes() for name in names)
    # image i depends only on (seed, split, i): a shorter run reproduces the first images
    generate(str(tmp_path / "short"), num_train=3, num_val=0, seed=21, image_size=192, progress=False)
    short = [name for name in files_under(tmp_path / "short") if name.endswith(".jpg")]
    assert short == [name for name in names if name.startswith("train2017")][:3]
    assert all((tmp_path / "short" / name).read_bytes() == (out / name).read_bytes() for name in short)
    generate(str(tmp_path / "other"), num_train=8, num_val=4, seed=22, image_size=192, progress=False)
    assert files_under(tmp_path / "other") == names
    assert all((tmp_path / "other" / name).read_bytes() != (out / name).read_bytes() for name in names)


def test_cli_writes_a_subset_refuses_a_non_empty_folder_and_overwrites_only_its_files(tmp_path, capsys):
    out = tmp_path / "data"
    main(["--output_path", str(out), "--num_train", "3", "--num_val", "1", "--seed", "0", "--image_size", "128",
          "--classes", "star,ring", "--max_objects", "4", "--object_size", "0.1,0.3"])
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith("synthetic objects: 4 images, ") and "ring" in summary and "images/s" in summary
    document = load(out / "annotations" / "instances_train2017.json")
    assert [c["name"] for c in document["categories"]] == ["ring", "star"]
    assert [c["id"] for c in document["categories"]] == [1, 3]                 # the ids of the full class list
    assert {a["category_id"] for a in document["annotations"]} <= {1, 3}
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit) as error:
        main(["--output_path", str(out), "--num_train", "1", "--num_val", "1", "--seed", "1"])
    assert error.value.code == 2 and "\n" not in str(error.value) and "--overwrite" in str(error.value)
    main(["--output_path", str(out), "--num_train", "1", "--num_val", "0", "--seed", "1", "--image_size", "128",
          "--overwrite"])
    assert sorted(os.listdir(out)) == ["annotations", "notes.txt", "train2017"]
    assert os.listdir(out / "annotations") == ["instances_train2017.json"]


@pytest.mark.parametrize("argv, needle", [
    (["--num_train", "-1", "--num_val", "0"], "num_train and num_val must be >= 0"),
    (["--num_train", "1", "--num_val", "0", "--image_size", "32"], "image_size must be >= 64"),
    (["--num_train", "1", "--num_val", "0", "--max_objects", "0"], "max_objects must be 1..100"),
    (["--num_train", "1", "--num_val", "0", "--max_objects", "101"], "max_objects must be 1..100"),
    (["--num_train", "1", "--num_val", "0", "--object_size", "0.5,0.2"], "object_size must be two fractions"),
    (["--num_train", "1", "--num_val", "0", "--object_size", "0.5"], "object_size must be two fractions"),
    (["--num_train", "1", "--num_val", "0", "--classes", "ring,blob"], "classes must be distinct names"),
    (["--num_train", "1", "--num_val", "0", "--classes", "ring,ring"], "classes must be distinct names"),
])
def test_cli_bad_arguments_are_one_line_errors(tmp_path, argv, needle):
    with pytest.raises(SystemExit) as error:
        main(["--output_path", str(tmp_path / "x"), "--seed", "0"] + argv)
    assert needle in str(error.value) and "\n" not in str(error.value) and error.value.code == 2
    assert not (tmp_path / "x").exists()


def test_command_line_exit_statuses(tmp_path, repo_root):
    """The real process: bad input exits 2, a file where the output folder should be 3, each with one line."""
    (tmp_path / "file").write_text("x")
    for out, argv, status in ((tmp_path / "x", ["--num_train", "-1"], 2), (tmp_path / "file", ["--num_train", "1"], 3)):
        done = subprocess.run([sys.executable, "-m", "src.data.synthetic_objects", "--output_path", str(out),
                               "--num_val", "0", "--seed", "0"] + argv, cwd=repo_root, capture_output=True, text=True)
        assert done.returncode == status
        assert done.stderr.startswith("synthetic_objects: error: ") and done.stderr.count("\n") == 1
