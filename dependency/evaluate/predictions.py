"""Reads WIDER FACE prediction files into flat arrays aligned with the ground-truth images.

Format (one file per image, `<pred_dir>/<event>/<image_stem>.txt`):
    line 1: the image stem (not checked: writers differ, the official tool ignores it)
    line 2: the number of boxes n
    n lines: `x y w h score` (pixels, whitespace separated)
Trailing blank lines are allowed. A missing file means "no detections" (as in the official tool); a
malformed file is a one-line ValueError naming the file and line. Reading is done file by file with
plain `open().read()` and one float conversion for all numbers, which keeps 3226 files well under a
second.
"""
import os
import warnings
from dataclasses import dataclass

import numpy as np

NUM_COLUMNS = 5


@dataclass(frozen=True)
class WiderPredictions:
    """Predictions of all images: boxes (N, 4) float64 [x, y, w, h], scores (N,), image i owning rows
    image_start[i]:image_start[i+1]; missing_files lists the expected files that did not exist."""
    boxes: np.ndarray
    scores: np.ndarray
    image_start: np.ndarray
    missing_files: list


def prediction_path(pred_dir, event, stem):
    return os.path.join(pred_dir, event, stem + ".txt")


def read_predictions(pred_dir, gt, progress=False):
    """Read `<pred_dir>/<event>/<stem>.txt` for every image of `gt` (a WiderGroundTruth)."""
    pred_dir = os.fspath(pred_dir)
    if not os.path.isdir(pred_dir):
        raise FileNotFoundError(f"{pred_dir}: prediction folder not found; expected <pred_dir>/<event>/<image>.txt")
    rows, rows_per_image, missing = [], [], []
    images = zip(gt.events, gt.stems)
    if progress:
        from tqdm import tqdm
        images = tqdm(images, total=gt.num_images, desc="read predictions", unit="img", leave=False)
    for event, stem in images:
        path = prediction_path(pred_dir, event, stem)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            missing.append(path)
            rows_per_image.append(0)
            continue
        image_rows = _box_lines(text, path)
        rows.extend(image_rows)
        rows_per_image.append(len(image_rows))
    if missing:
        warnings.warn(f"{len(missing)} of {gt.num_images} prediction files missing under {pred_dir} "
                      f"(e.g. {missing[0]}); counted as images without detections", stacklevel=2)
    image_start = np.concatenate([[0], np.cumsum(rows_per_image)]).astype(np.int64)
    values = _to_floats(rows, image_start, gt, pred_dir)
    return WiderPredictions(boxes=values[:, :4].copy(), scores=values[:, 4].copy(),
                            image_start=image_start, missing_files=missing)


def predictions_from_arrays(gt, per_image):
    """Build WiderPredictions from a dict {(event, stem): array (n, 5) [x, y, w, h, score]} (in memory,
    no files); images absent from the dict have no detections (not counted as missing files)."""
    arrays = []
    for event, stem in zip(gt.events, gt.stems):
        a = np.asarray(per_image.get((event, stem), np.zeros((0, NUM_COLUMNS))), dtype=np.float64)
        if a.size and (a.ndim != 2 or a.shape[1] != NUM_COLUMNS):
            raise ValueError(f"predictions for {event}/{stem} have shape {a.shape}; expected (n, 5) x y w h score")
        arrays.append(a.reshape(-1, NUM_COLUMNS))
    values = np.concatenate(arrays) if arrays else np.zeros((0, NUM_COLUMNS))
    if not np.isfinite(values).all():
        raise ValueError("predictions contain NaN or inf; expected finite x y w h score")
    image_start = np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)
    return WiderPredictions(boxes=values[:, :4].copy(), scores=values[:, 4].copy(),
                            image_start=image_start, missing_files=[])


def _box_lines(text, path):
    """The n box lines of one file, validated for count and column number."""
    lines = text.splitlines()
    if len(lines) < 2:
        raise ValueError(f"{path}: line 2: missing count line; expected the image name, then the number of boxes")
    try:
        count = int(lines[1])
    except ValueError:
        count = -1
    if count < 0:
        raise ValueError(f"{path}: line 2: bad count line {lines[1]!r}; expected a non-negative integer")
    box_lines = lines[2:2 + count]
    if len(box_lines) < count:
        raise ValueError(f"{path}: line {len(lines) + 1}: count line says {count} boxes but only "
                         f"{len(box_lines)} box lines follow")
    for k, extra in enumerate(lines[2 + count:]):
        if extra.strip():
            raise ValueError(f"{path}: line {3 + count + k}: more box lines than the count {count} on line 2")
    if len(" ".join(box_lines).split()) != NUM_COLUMNS * count:  # fast path: all lines right
        for k, line in enumerate(box_lines):
            n_cols = len(line.split())
            if n_cols != NUM_COLUMNS:
                raise ValueError(f"{path}: line {3 + k}: {n_cols} columns; expected 5 (x y w h score)")
    return box_lines


def _to_floats(rows, image_start, gt, pred_dir):
    """(N, 5) float64 from the validated box lines; a bad number is reported with its file and line."""
    if not rows:
        return np.zeros((0, NUM_COLUMNS))
    try:
        values = np.array(" ".join(rows).split(), dtype=np.float64).reshape(-1, NUM_COLUMNS)
    except ValueError:
        values = None
    bad_row = None
    if values is None:
        for r, row in enumerate(rows):
            try:
                [float(v) for v in row.split()]
            except ValueError:
                bad_row = r
                break
    else:
        not_finite = np.flatnonzero(~np.isfinite(values).all(axis=1))
        bad_row = not_finite[0] if len(not_finite) else None
    if bad_row is not None:
        img = int(np.searchsorted(image_start, bad_row, side="right") - 1)
        path = prediction_path(pred_dir, gt.events[img], gt.stems[img])
        line = 3 + bad_row - image_start[img]
        raise ValueError(f"{path}: line {line}: {rows[bad_row].strip()!r} is not 5 finite numbers (x y w h score)")
    return values
