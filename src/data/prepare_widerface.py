"""Convert WIDER FACE annotations (+ optional RetinaFace 5-point landmarks) into the project's COCO-format json.

    python -m src.data.prepare_widerface --wider_root ROOT --split train --output_path train.json \
        [--landmarks retinaface/train/label.txt]

Inputs: ROOT/wider_face_split/wider_face_{split}_bbx_gt.txt (per image: path line, face count line, then
one line `x1 y1 w h blur expression illumination invalid occlusion pose` per face; an image without faces
has a count of 0 followed by one line of zeros) and the images under ROOT/WIDER_{split}/images/, whose
sizes are read from the image headers (PIL, no decoding). RetinaFace's label.txt lists `# <path>` lines,
then per face `x y w h` followed by 5 x `lx ly flag` and a score (or only `x y w h`); a landmark with a
negative coordinate is absent (the flag column is not used). Landmark faces are matched to WIDER faces of
the same image by identical x y w h.

Output json: images (id, file_name relative to ROOT/WIDER_{split}/images, width, height), annotations
(bbox [x, y, w, h], keypoints [x, y, v] * 5 with v = 2 present, v = 0 and x = y = 0 absent, area = w * h,
iscrowd 0, category_id 1), categories [face]. Bad input policy (also printed in the summary):

* malformed line (non-numeric value, wrong column count, face count not matching the lines): stop with
  one message naming file and line number;
* missing or unreadable image: image and its faces skipped, counted;
* face marked invalid, or with w <= 0 or h <= 0: skipped, counted (first matching reason);
* face partly outside the image: clipped to the image, counted; fully outside: skipped, counted.
"""
import argparse
import os
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image
from tqdm import tqdm

from src.io_utils import write_json_atomic

LANDMARK_NAMES = ["left_eye", "right_eye", "nose", "left_mouth_corner", "right_mouth_corner"]
FACE_CATEGORY = {"id": 1, "name": "face", "keypoints": LANDMARK_NAMES, "skeleton": []}
WIDER_COLUMNS = "x1 y1 w h blur expression illumination invalid occlusion pose"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
SUMMARY_KEYS = [  # (counter key, description) in the order the summary prints them
    ("images_listed", "images listed"), ("images_written", "images written"),
    ("images_missing", "images missing (skipped)"), ("images_unreadable", "images unreadable (skipped)"),
    ("faces_listed", "faces listed"), ("faces_written", "faces written"),
    ("faces_with_landmarks", "faces with landmarks"), ("faces_of_skipped_images", "faces of skipped images"),
    ("faces_invalid", "faces marked invalid (skipped)"), ("faces_empty", "faces with w<=0 or h<=0 (skipped)"),
    ("faces_outside", "faces fully outside the image (skipped)"),
    ("faces_clipped", "faces partly outside the image (clipped)"),
    ("landmark_images_unmatched", "landmark images not in the WIDER list"),
    ("landmark_faces_unmatched", "landmark faces without an identical WIDER box"),
]


# ----------------------------------------------------------------------------------------------- COCO output
def face_annotation(ann_id: int, image_id: int, box_xywh: Sequence[float],
                    keypoints: Optional[np.ndarray] = None) -> dict:
    """One COCO face annotation; keypoints (5, 3) rows [x, y, v] or None for 'no landmarks' (all v = 0)."""
    x, y, w, h = (float(v) for v in box_xywh)
    flat = []
    for px, py, v in (np.zeros((5, 3)) if keypoints is None else keypoints):
        flat += [float(px), float(py), int(v)] if v > 0 else [0.0, 0.0, 0]
    return {"id": ann_id, "image_id": image_id, "category_id": FACE_CATEGORY["id"], "bbox": [x, y, w, h],
            "keypoints": flat, "num_keypoints": sum(1 for v in flat[2::3] if v > 0), "area": w * h,
            "iscrowd": 0}


def coco_document(images: List[dict], annotations: List[dict]) -> dict:
    return {"images": images, "annotations": annotations, "categories": [dict(FACE_CATEGORY)]}


# ----------------------------------------------------------------------------------------------- parsing
def _numbers(path: str, line_no: int, text: str, columns: Sequence[int], what: str, as_int: bool):
    tokens = text.split()
    if len(tokens) not in columns:
        expected = " or ".join(str(c) for c in columns)
        raise ValueError(f"{path}:{line_no}: expected {expected} columns ({what}), got {len(tokens)}: {text!r}")
    try:
        return [int(t) if as_int else float(t) for t in tokens]
    except ValueError:
        raise ValueError(f"{path}:{line_no}: non-numeric value in {text!r}; expected {what}") from None


def _content_lines(path: str):
    """(line number, stripped text) of the non-blank lines of a text file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation file not found: {path}")
    with open(path, encoding="utf-8") as file:
        return [(no, line.strip()) for no, line in enumerate(file, start=1) if line.strip()]


def parse_wider_bbx_gt(path: str) -> List[Tuple[str, np.ndarray]]:
    """[(image path relative to WIDER_<split>/images, int64 (n, 10) rows of WIDER_COLUMNS)] in file order."""
    lines = _content_lines(path)
    result, i = [], 0
    while i < len(lines):
        no, image_path = lines[i]
        if not image_path.lower().endswith(IMAGE_EXTENSIONS):
            raise ValueError(f"{path}:{no}: expected an image path line ending in {'/'.join(IMAGE_EXTENSIONS)}, "
                             f"got {image_path!r} (face count of the previous image too small?)")
        if i + 1 >= len(lines):
            raise ValueError(f"{path}:{no}: file ends after image path {image_path!r}; expected a face count line")
        count_no, count_text = lines[i + 1]
        (count,) = _numbers(path, count_no, count_text, [1], "the face count of " + image_path, as_int=True)
        if count < 0:
            raise ValueError(f"{path}:{count_no}: negative face count {count}")
        i += 2
        rows = []
        for k in range(count):
            if i >= len(lines) or lines[i][1].lower().endswith(IMAGE_EXTENSIONS):
                where = f"{path}:{lines[i][0]}" if i < len(lines) else f"{path}: end of file"
                raise ValueError(f"{where}: {image_path!r} (count line {count_no}) declares {count} faces but "
                                 f"only {k} face lines follow")
            rows.append(_numbers(path, lines[i][0], lines[i][1], [10], WIDER_COLUMNS, as_int=True))
            i += 1
        if count == 0 and i < len(lines) and not lines[i][1].lower().endswith(IMAGE_EXTENSIONS):
            placeholder = _numbers(path, lines[i][0], lines[i][1], [10], WIDER_COLUMNS, as_int=True)
            if any(placeholder):
                raise ValueError(f"{path}:{lines[i][0]}: {image_path!r} declares 0 faces but a non-zero face "
                                 f"line follows")
            i += 1
        result.append((image_path, np.array(rows, dtype=np.int64).reshape(-1, 10)))
    return result


def parse_retinaface_labels(path: str) -> Dict[str, List[Tuple[Tuple[float, ...], Optional[np.ndarray]]]]:
    """image path -> [(box x y w h, landmarks float (5, 2) with NaN rows for absent points, or None)]."""
    result: Dict[str, list] = {}
    faces = None
    for no, text in _content_lines(path):
        if text.startswith("#"):
            faces = result.setdefault(text[1:].strip(), [])
            continue
        if faces is None:
            raise ValueError(f"{path}:{no}: face line before the first '# <image path>' line")
        values = _numbers(path, no, text, [4, 20], "x y w h [5 x (lx ly flag) score]", as_int=False)
        landmarks = None
        if len(values) == 20:
            points = np.array(values[4:19], dtype=np.float64).reshape(5, 3)[:, :2]
            points[(points < 0).any(axis=1)] = np.nan
            landmarks = None if np.isnan(points).all() else points
        faces.append((tuple(values[:4]), landmarks))
    return result


# ----------------------------------------------------------------------------------------------- conversion
def _image_size(path: str) -> Optional[Tuple[int, int]]:
    """(width, height) from the image header, None if the file is not a readable image."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, SyntaxError, ValueError):
        return None


def _clip_box(row: np.ndarray, width: int, height: int, counts: Counter) -> Optional[List[int]]:
    """Apply the bad-box policy to one WIDER row; the kept box as [x, y, w, h] or None."""
    x, y, w, h, invalid = int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[7])
    if invalid:
        counts["faces_invalid"] += 1
        return None
    if w <= 0 or h <= 0:
        counts["faces_empty"] += 1
        return None
    x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x2 <= x1 or y2 <= y1:
        counts["faces_outside"] += 1
        return None
    if (x1, y1, x2, y2) != (x, y, x + w, y + h):
        counts["faces_clipped"] += 1
    return [x1, y1, x2 - x1, y2 - y1]


def _match_landmarks(rows: np.ndarray, labelled: list, counts: Counter) -> List[Optional[np.ndarray]]:
    """Per WIDER row, the (5, 3) keypoints of the label face with the identical box (each row used once)."""
    keypoints: List[Optional[np.ndarray]] = [None] * len(rows)
    free_rows: Dict[Tuple[float, ...], List[int]] = {}
    for r, row in enumerate(rows):
        free_rows.setdefault(tuple(float(v) for v in row[:4]), []).append(r)
    for box, landmarks in labelled:
        candidates = free_rows.get(box)
        if not candidates:
            counts["landmark_faces_unmatched"] += 1
            continue
        match = candidates.pop(0)
        if landmarks is not None:
            present = ~np.isnan(landmarks).any(axis=1)
            keypoints[match] = np.column_stack([np.nan_to_num(landmarks), np.where(present, 2, 0)])
    return keypoints


def convert_wider(wider_root: str, split: str, landmarks_path: Optional[str] = None,
                  progress: bool = True) -> Tuple[dict, Counter]:
    """Build the COCO document of one WIDER split; returns (document, counts of SUMMARY_KEYS)."""
    gt_path = os.path.join(wider_root, "wider_face_split", f"wider_face_{split}_bbx_gt.txt")
    image_root = os.path.join(wider_root, f"WIDER_{split}", "images")
    entries = parse_wider_bbx_gt(gt_path)
    if not os.path.isdir(image_root):
        raise FileNotFoundError(f"image folder not found: {image_root}")
    labels = parse_retinaface_labels(landmarks_path) if landmarks_path else {}
    counts = Counter({key: 0 for key, _ in SUMMARY_KEYS})
    listed = {image_path for image_path, _ in entries}
    counts["landmark_images_unmatched"] = sum(1 for image_path in labels if image_path not in listed)
    images, annotations = [], []
    for image_path, rows in tqdm(entries, desc=f"WIDER {split}", unit="img", disable=not progress):
        counts["images_listed"] += 1
        counts["faces_listed"] += len(rows)
        full_path = os.path.join(image_root, image_path)
        size = _image_size(full_path) if os.path.isfile(full_path) else None
        if size is None:
            counts["images_missing" if not os.path.isfile(full_path) else "images_unreadable"] += 1
            counts["faces_of_skipped_images"] += len(rows)
            continue
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": image_path, "width": size[0], "height": size[1]})
        counts["images_written"] += 1
        keypoints = _match_landmarks(rows, labels.get(image_path, []), counts)
        for row, points in zip(rows, keypoints):
            box = _clip_box(row, size[0], size[1], counts)
            if box is None:
                continue
            annotations.append(face_annotation(len(annotations) + 1, image_id, box, points))
            counts["faces_written"] += 1
            counts["faces_with_landmarks"] += int(points is not None and points[:, 2].any())
    return coco_document(images, annotations), counts


def format_summary(counts: Counter) -> str:
    return "; ".join(f"{text}: {counts[key]}" for key, text in SUMMARY_KEYS)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wider_root", required=True, help="folder holding wider_face_split/ and WIDER_<split>/")
    parser.add_argument("--split", required=True, choices=["train", "val"])
    parser.add_argument("--output_path", required=True, help="output COCO json path")
    parser.add_argument("--landmarks", default=None, help="RetinaFace label.txt with 5 landmarks per face")
    args = parser.parse_args(argv)
    try:
        document, counts = convert_wider(args.wider_root, args.split, args.landmarks)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"prepare_widerface: error: {error}") from None
    write_json_atomic(args.output_path, document, separators=(",", ":"))
    print(f"prepare_widerface: wrote {args.output_path}: {format_summary(counts)}")


if __name__ == "__main__":
    main()
