"""Tests for src/data/coco_keypoints.py: the mini COCO set against values read straight from its json, the
kept/dropped policy and its counts on hand-made files, one-line errors for malformed files, and image reading
that rejects truncated JPEG/PNG files (which cv2.imread decodes partially)."""
import json

import numpy as np
import pytest

from src.data.coco_keypoints import LoadSummary, load_person_keypoints, load_record_image, xywh_to_xyxy


from src.data.keypoints import COCO_PERSON

MINI_JSON = "test_coco.json"
NAMES = list(COCO_PERSON.names)


def joints(*labelled):
    """51 keypoint numbers: joint j at (10 + j, 20 + j) with v = 2 for j in labelled, else (0, 0, 0)."""
    values = []
    for j in range(17):
        values += [10 + j, 20 + j, 2] if j in labelled else [0, 0, 0]
    return values


def person(ann_id, image_id, bbox, keypoints=None, **extra):
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "bbox": bbox, "iscrowd": 0,
            "keypoints": joints() if keypoints is None else keypoints, **extra}


def write_coco(folder, images, annotations, categories=None, touch_images=True):
    """A COCO person-keypoint json in folder (and empty image files for the existence check) -> its path."""
    categories = [{"id": 1, "name": "person", "keypoints": NAMES}] if categories is None else categories
    for image in images:
        if touch_images and isinstance(image, dict) and isinstance(image.get("file_name"), str):
            (folder / image["file_name"]).write_bytes(b"")
    path = folder / "person_keypoints.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def image(image_id, name=None):
    return {"id": image_id, "file_name": name or f"{image_id}.jpg", "width": 64, "height": 48}


# ---------------------------------------------------------------- the mini COCO set

def test_mini_set_matches_its_json(coco_mini_dir):
    records = load_person_keypoints(coco_mini_dir / MINI_JSON, coco_mini_dir)
    data = json.loads((coco_mini_dir / MINI_JSON).read_text())
    assert [r["file_name"] for r in records] == [i["file_name"] for i in data["images"]]  # json order
    for record, info in zip(records, data["images"]):
        anns = [a for a in data["annotations"] if a["image_id"] == info["id"]]
        assert (record["image_id"], record["width"], record["height"]) == (info["id"], info["width"], info["height"])
        assert record["image_path"] == str(coco_mini_dir / info["file_name"])
        bbox = np.array([a["bbox"] for a in anns], np.float64)
        # float32 storage: 2-decimal COCO values up to 640 are kept to < 1e-4.
        np.testing.assert_allclose(record["boxes_xywh"], bbox, atol=1e-4)
        np.testing.assert_allclose(record["boxes"], np.c_[bbox[:, :2], bbox[:, :2] + bbox[:, 2:]], atol=1e-4)
        np.testing.assert_array_equal(record["keypoints"], np.array([a["keypoints"] for a in anns]).reshape(-1, 17, 3))
        # num_keypoints is computed from v > 0; the json's own field must agree.
        assert record["num_keypoints"].tolist() == [a["num_keypoints"] for a in anns]
        assert record["boxes"].dtype == record["keypoints"].dtype == np.float32
    assert records.category_id == 1
    assert records.summary == LoadSummary(images=4, images_kept=4, persons=14, persons_without_joints=2)


def test_summary_is_logged(coco_mini_dir, caplog):
    with caplog.at_level("INFO", logger="src.data.coco_keypoints"):
        load_person_keypoints(coco_mini_dir / MINI_JSON, coco_mini_dir)
    assert "4 of 4 images kept" in caplog.text and "14 persons (2 without labelled joints)" in caplog.text


# ---------------------------------------------------------------- policy and counts

def test_crowd_empty_box_and_no_joint_policy(tmp_path):
    images = [image(30), image(10), image(20), image(40), image(50)]  # ids out of order: json order is kept
    annotations = [
        person(1, 30, [1, 2, 10, 20], joints(0, 5)),
        person(2, 30, [5, 5, 30, 30], iscrowd=1),               # crowd region: not a person
        person(3, 30, [7, 7, 0, 12], joints(1)),                 # w = 0: skipped
        {**person(4, 30, [1, 1, 4, 4]), "category_id": 2},       # another category: ignored
        person(5, 20, [1, 1, 8, 8], iscrowd=1),                  # image 20: crowd only
        person(6, 40, [2, 3, 5, -1], joints(2)),                 # image 40: only an empty box (h < 0)
        person(7, 50, [2.5, 3.25, 6.5, 8.75], joints()),         # image 50: a person without labelled joints
    ]                                                            # image 10: no annotation at all
    path = write_coco(tmp_path, images, annotations)
    records = load_person_keypoints(path, tmp_path, crowd_as_persons=False)
    assert [r["image_id"] for r in records] == [30, 50]
    assert records.summary == LoadSummary(images=5, images_kept=2, images_without_persons=1,
                                          images_only_crowd_or_empty=2, persons=2, persons_without_joints=1,
                                          crowd_annotations=2, empty_boxes=2, other_categories=1)
    np.testing.assert_array_equal(records[0]["boxes"], [[1, 2, 11, 22]])
    assert records[0]["num_keypoints"].tolist() == [2]
    np.testing.assert_array_equal(records[0]["keypoints"][0, 5], [15, 25, 2])
    np.testing.assert_array_equal(records[1]["boxes"], [[2.5, 3.25, 9.0, 12.0]])  # exact in binary
    assert records[1]["num_keypoints"].tolist() == [0]

    everything = load_person_keypoints(path, tmp_path, drop_empty=False, crowd_as_persons=False)
    assert [r["image_id"] for r in everything] == [30, 10, 20, 40, 50]
    assert everything.summary.images_kept == 5 and everything.summary.persons == 2
    empty = everything[1]
    assert empty["boxes"].shape == (0, 4) and empty["keypoints"].shape == (0, 17, 3)
    assert empty["num_keypoints"].shape == (0,)
    assert "2 of 5 images kept" in str(records.summary) and "2 crowd annotations" in str(records.summary)

    # The original's policy (the default): a crowd region is a person without labelled joints.
    original = load_person_keypoints(path, tmp_path)
    assert [r["image_id"] for r in original] == [30, 20, 50]
    assert original.summary.persons == 4 and original.summary.persons_without_joints == 3
    np.testing.assert_array_equal(original[0]["boxes"], [[1, 2, 11, 22], [5, 5, 35, 35]])
    assert original[0]["num_keypoints"].tolist() == [2, 0] and not original[0]["keypoints"][1].any()
    assert original[1]["num_keypoints"].tolist() == [0]

def test_missing_images_are_reported_once(tmp_path):
    images = [image(i) for i in range(5)]
    path = write_coco(tmp_path, images, [person(i, i, [1, 1, 5, 5]) for i in range(5)], touch_images=False)
    (tmp_path / "2.jpg").write_bytes(b"")
    with pytest.raises(FileNotFoundError) as error:
        load_person_keypoints(path, tmp_path)
    message = str(error.value)
    assert "\n" not in message and message.startswith("4 image(s)") and "['0.jpg', '1.jpg', '3.jpg']" in message
    # Only kept images must exist: an image without persons may be absent.
    path = write_coco(tmp_path, images[:3], [person(2, 2, [1, 1, 5, 5])], touch_images=False)
    assert [r["image_id"] for r in load_person_keypoints(path, tmp_path)] == [2]


def test_missing_json(tmp_path):
    with pytest.raises(FileNotFoundError, match="annotation json .*nothing.json: no such file"):
        load_person_keypoints(tmp_path / "nothing.json", tmp_path)


GOOD_IMAGES = [image(1)]
BAD_FILES = {
    "categories without person": ([image(1)], [], [{"id": 1, "name": "face", "keypoints": NAMES}],
                                  "expected one category named 'person', found 0"),
    "person with 5 joints": ([image(1)], [], [{"id": 1, "name": "person", "keypoints": NAMES[:5]}],
                             "categories[0] ('person'): 'keypoints' must be the 17 COCO joint names"),
    "unknown image_id": ([image(1)], [person(1, 1, [1, 1, 2, 2]), person(2, 99, [1, 1, 2, 2])], None,
                         "annotations[1] (id 2): image_id 99 is not in 'images'"),
    "50 keypoint numbers": ([image(1)], [person(7, 1, [1, 1, 2, 2], joints()[:50])], None,
                            "annotations[0] (id 7): 'keypoints' must be a list of 51 numbers"),
    "keypoint not a number": ([image(1)], [person(7, 1, [1, 1, 2, 2], ["1"] + joints()[1:])], None,
                              "annotations[0] (id 7): 'keypoints' must hold numbers only, got '1'"),
    "keypoints missing": ([image(1)], [{**person(7, 1, [1, 1, 2, 2]), "keypoints": None}], None,
                          "annotations[0] (id 7): 'keypoints' must be a list of 51 numbers"),
    "visibility 3": ([image(1)], [person(7, 1, [1, 1, 2, 2], joints()[:-1] + [3])], None,
                     "annotations[0] (id 7): keypoint visibility must be 0, 1 or 2, got [0.0, 3.0]"),
    "NaN keypoint": ([image(1)], [person(7, 1, [1, 1, 2, 2], [float("nan")] + joints()[1:])], None,
                     "annotations[0] (id 7): 'keypoints' must be finite, got nan"),
    "infinite bbox": ([image(1)], [person(6, 1, [1, 1, 2, 2]), person(7, 1, [1, float("inf"), 2, 2])], None,
                      "annotations[1] (id 7): 'bbox' must be [x, y, w, h] (4 finite numbers), "
                      "got [1.0, inf, 2.0, 2.0]"),
    "bbox of 3 numbers": ([image(1)], [person(7, 1, [1, 1, 2])], None,
                          "annotations[0] (id 7): 'bbox' must be [x, y, w, h] (4 finite numbers), got [1, 1, 2]"),
    "bbox with a string": ([image(1)], [person(7, 1, [1, "1", 2, 2])], None,
                           "annotations[0] (id 7): 'bbox' must be [x, y, w, h]"),
    "bbox with a bool": ([image(1)], [person(7, 1, [1, True, 2, 2])], None, "'bbox' must be [x, y, w, h]"),
    "duplicate image id": ([image(1), image(1, "b.jpg")], [], None, "images[1]: id 1 already used by images[0]"),
    "image without width": ([{"id": 1, "file_name": "a.jpg", "height": 4}], [], None,
                            "images[0] (id 1): 'width' must be a positive integer, got None"),
    "annotation without category": ([image(1)], [{"id": 3, "image_id": 1, "bbox": [1, 1, 2, 2]}], None,
                                    "annotations[0] (id 3): 'category_id' missing"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_malformed_files_raise_one_line(tmp_path, case):
    images, annotations, categories, expected = BAD_FILES[case]
    path = write_coco(tmp_path, images, annotations, categories)
    with pytest.raises(ValueError) as error:
        load_person_keypoints(path, tmp_path)
    message = str(error.value)
    assert "\n" not in message and message.startswith(str(path)) and expected in message, message


@pytest.mark.parametrize("text, expected", [
    ('{"images": [', "cannot be read as JSON"),
    ("[1, 2]", "expected a JSON object (COCO format), got list"),
    ('{"annotations": [], "categories": []}', "key 'images' missing or not a list"),
])
def test_invalid_json_raises_one_line(tmp_path, text, expected):
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        load_person_keypoints(path, tmp_path)
    assert "\n" not in str(error.value) and str(path) in str(error.value) and expected in str(error.value)


def test_crowd_annotations_need_no_valid_fields(tmp_path):
    """With crowd_as_persons False, crowd regions are skipped before their fields are used: COCO crowd annotations
    have RLE segmentations and all-zero keypoints, and nothing of them is read. As persons they need their box."""
    path = write_coco(tmp_path, [image(1)], [person(1, 1, [1, 1, 4, 4], joints(3)),
                                              {"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 1}])
    assert load_person_keypoints(path, tmp_path, crowd_as_persons=False).summary.crowd_annotations == 1
    with pytest.raises(ValueError, match=r"annotations\[1\].*'bbox'"):  # as a person, a crowd region needs its box
        load_person_keypoints(path, tmp_path)


def test_xywh_to_xyxy_is_float32_sum():
    xywh = np.array([[0.1, 0.2, 100.3, 50.7], [600.55, 3.0, 39.45, 1.0]], np.float32)
    corners = xywh_to_xyxy(xywh)
    assert corners.dtype == np.float32
    np.testing.assert_array_equal(corners[:, 2:], xywh[:, :2] + xywh[:, 2:])
    np.testing.assert_allclose(corners, [[0.1, 0.2, 100.4, 50.9], [600.55, 3.0, 640.0, 4.0]], atol=1e-4)


# ---------------------------------------------------------------- images


def test_load_record_image_checks_size_and_reads_bytes(coco_mini_dir):
    [record] = [r for r in load_person_keypoints(coco_mini_dir / MINI_JSON, coco_mini_dir)
                if r["file_name"] == "000000040083.jpg"]
    from_path = load_record_image(record)
    from_bytes = load_record_image({**record, "image_bytes": (coco_mini_dir / "000000040083.jpg").read_bytes()})
    np.testing.assert_array_equal(from_path, from_bytes)
    with pytest.raises(ValueError, match=r"000000040083.jpg is 500x333 but its annotation says 333x500"):
        load_record_image({**record, "width": 333, "height": 500})
    with pytest.raises(ValueError, match=r"cannot read image .*000000040083.jpg \(MindRecord bytes\)"):
        load_record_image({**record, "image_bytes": b"\xff\xd8broken"})
