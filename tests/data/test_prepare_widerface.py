"""Tests of src/data/prepare_widerface.py on tiny fake WIDER FACE trees built in tmp_path."""
import json

import cv2
import numpy as np
import pytest

from src.data.prepare_widerface import convert_wider, main, parse_wider_bbx_gt

GT_TXT = """0--Parade/a.jpg
4
10 20 30 40 0 0 0 0 0 0
50 60 0 10 0 0 0 0 0 0
5 5 10 10 0 0 0 1 0 0
40 50 8 9 2 1 0 0 1 0
1--Handshaking/b.png
3
-5 10 20 20 1 0 0 0 0 0
90 70 20 20 0 0 0 0 0 0
200 10 5 5 0 0 0 0 0 0
1--Handshaking/empty.jpg
0
0 0 0 0 0 0 0 0 0 0
0--Parade/missing.jpg
2
1 1 5 5 0 0 0 0 0 0
2 2 5 5 0 0 0 0 0 0
0--Parade/broken.jpg
1
1 1 5 5 0 0 0 0 0 0

"""

LABEL_TXT = """# 0--Parade/a.jpg
10 20 30 40 15.5 30.25 0.0 30.0 31.0 0.0 22.0 40.0 0.0 17.0 50.0 0.0 28.0 51.0 1.0 0.9
5 5 10 10 6 7 0.0 8 7 0.0 7 9 0.0 6 11 0.0 8 11 0.0 0.5
11 20 30 40 1 1 0.0 2 2 0.0 3 3 0.0 4 4 0.0 5 5 0.0 0.1
# 1--Handshaking/b.png
-5 10 20 20 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0 -1.0
90 70 20 20 95 75 0.0 -1 -1 -1 97 76 0.0 94 78 0.0 99 79 0.0 0.8
# 9--Unknown/zzz.jpg
1 1 2 2
"""

NO_KEYPOINTS = [0.0, 0.0, 0] * 5


def make_tree(root, gt_text=GT_TXT, split="train"):
    images = root / f"WIDER_{split}" / "images"
    for rel, (h, w) in {"0--Parade/a.jpg": (72, 64), "1--Handshaking/b.png": (80, 100),
                        "1--Handshaking/empty.jpg": (32, 32)}.items():
        (images / rel).parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(images / rel), np.full((h, w, 3), 127, np.uint8))
    (images / "0--Parade" / "broken.jpg").write_bytes(b"this is not an image")
    (root / "wider_face_split").mkdir(exist_ok=True)
    (root / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt").write_text(gt_text)
    (root / "label.txt").write_text(LABEL_TXT)
    return root


def annotation(ann_id, image_id, bbox, keypoints=NO_KEYPOINTS):
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "bbox": [float(v) for v in bbox],
            "keypoints": keypoints, "num_keypoints": sum(1 for v in keypoints[2::3] if v),
            "area": float(bbox[2] * bbox[3]), "iscrowd": 0}


EXPECTED_IMAGES = [
    {"id": 1, "file_name": "0--Parade/a.jpg", "width": 64, "height": 72},
    {"id": 2, "file_name": "1--Handshaking/b.png", "width": 100, "height": 80},
    {"id": 3, "file_name": "1--Handshaking/empty.jpg", "width": 32, "height": 32},
]
EXPECTED_CATEGORIES = [{"id": 1, "name": "face", "skeleton": [], "keypoints": [
    "left_eye", "right_eye", "nose", "left_mouth_corner", "right_mouth_corner"]}]
EXPECTED_COUNTS = {
    "images_listed": 5, "images_written": 3, "images_missing": 1, "images_unreadable": 1,
    "faces_listed": 10, "faces_written": 4, "faces_of_skipped_images": 3, "faces_invalid": 1,
    "faces_empty": 1, "faces_outside": 1, "faces_clipped": 2,
}


def test_converts_with_landmarks_exactly(tmp_path):
    root = make_tree(tmp_path)
    document, counts = convert_wider(str(root), "train", str(root / "label.txt"), progress=False)
    assert document["images"] == EXPECTED_IMAGES
    assert document["categories"] == EXPECTED_CATEGORIES
    assert document["annotations"] == [
        annotation(1, 1, [10, 20, 30, 40], [15.5, 30.25, 2, 30.0, 31.0, 2, 22.0, 40.0, 2, 17.0, 50.0, 2,
                                            28.0, 51.0, 2]),
        annotation(2, 1, [40, 50, 8, 9]),                     # no label line for this face
        annotation(3, 2, [0, 10, 15, 20]),                    # clipped from x=-5; label has all -1
        annotation(4, 2, [90, 70, 10, 10], [95.0, 75.0, 2, 0.0, 0.0, 0, 97.0, 76.0, 2, 94.0, 78.0, 2,
                                            99.0, 79.0, 2]),  # clipped at the right/bottom border
    ]
    assert dict(counts) == {**EXPECTED_COUNTS, "faces_with_landmarks": 2, "landmark_images_unmatched": 1,
                            "landmark_faces_unmatched": 1}


def test_converts_without_landmarks(tmp_path):
    root = make_tree(tmp_path)
    document, counts = convert_wider(str(root), "train", None, progress=False)
    assert document["images"] == EXPECTED_IMAGES
    assert [a["bbox"] for a in document["annotations"]] == [[10, 20, 30, 40], [40, 50, 8, 9], [0, 10, 15, 20],
                                                            [90, 70, 10, 10]]
    assert all(a["keypoints"] == NO_KEYPOINTS for a in document["annotations"])
    assert dict(counts) == {**EXPECTED_COUNTS, "faces_with_landmarks": 0, "landmark_images_unmatched": 0,
                            "landmark_faces_unmatched": 0}


def test_cli_writes_json_and_prints_summary(tmp_path, capsys):
    root = make_tree(tmp_path, split="val")
    out = tmp_path / "out" / "val.json"
    main(["--wider_root", str(root), "--split", "val", "--output_path", str(out), "--landmarks", str(root / "label.txt")])
    document = json.loads(out.read_text())
    assert len(document["images"]) == 3 and len(document["annotations"]) == 4
    printed = capsys.readouterr().out
    assert "faces written: 4" in printed and "images missing (skipped): 1" in printed
    assert "faces partly outside the image (clipped): 2" in printed
    assert [p.name for p in out.parent.iterdir()] == ["val.json"]     # no temporary file left behind


BOX = "1 2 3 4 0 0 0 0 0 0"


@pytest.mark.parametrize("text, line, message", [
    ("a.jpg\n1\n1 2 x 4 0 0 0 0 0 0\n", 3, "non-numeric value"),
    ("a.jpg\n1\n1 2 3 4 0 0 0 0 0\n", 3, "expected 10 columns"),
    (f"a.jpg\nthree\n{BOX}\n", 2, "non-numeric value"),
    (f"a.jpg\n2\n{BOX}\nb.jpg\n1\n{BOX}\n", 4, "declares 2 faces but only 1 face lines follow"),
    (f"a.jpg\n1\n{BOX}\n{BOX}\nb.jpg\n1\n{BOX}\n", 4, "expected an image path line"),
    ("a.jpg\n0\n1 1 1 1 0 0 0 0 0 0\n", 3, "declares 0 faces but a non-zero face line follows"),
    (f"a.jpg\n\n1\n{BOX}\n\nb.jpg\n-1\n", 7, "negative face count"),    # blank lines keep their numbers
])
def test_malformed_gt_line_names_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "wider_face_val_bbx_gt.txt"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        parse_wider_bbx_gt(str(path))
    assert str(error.value).startswith(f"{path}:{line}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_face_count_beyond_end_of_file_is_reported(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text(f"a.jpg\n3\n{BOX}\n")
    with pytest.raises(ValueError, match=r"gt.txt: end of file: 'a.jpg' \(count line 2\) declares 3 faces"):
        parse_wider_bbx_gt(str(path))


@pytest.mark.parametrize("text, line, message", [
    ("# 0--Parade/a.jpg\n1 2 3\n", 2, "expected 4 or 20 columns"),
    ("1 2 3 4\n", 1, "face line before the first '# <image path>' line"),
])
def test_malformed_label_line_stops_the_cli_with_one_line(tmp_path, capsys, text, line, message):
    root = make_tree(tmp_path)
    (root / "label.txt").write_text(text)
    with pytest.raises(SystemExit) as stop:
        main(["--wider_root", str(root), "--split", "train", "--output_path", str(tmp_path / "x.json"),
              "--landmarks", str(root / "label.txt")])
    assert str(stop.value).startswith(f"prepare_widerface: error: {root / 'label.txt'}:{line}: ")
    assert message in str(stop.value)
    assert not (tmp_path / "x.json").exists()


def test_missing_annotation_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="wider_face_train_bbx_gt.txt"):
        convert_wider(str(tmp_path), "train", progress=False)
