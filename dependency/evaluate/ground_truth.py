"""Loads the WIDER FACE validation ground truth (.mat files of the official evaluation tools).

Expected folder content (the official eval_tools/ground_truth layout, see tests/data/widerface_gt/):
- wider_face_val.mat: event_list (E,1) cell of event names, file_list (E,1) cell of (n_e,1) cells of
  image stems, face_bbx_list (E,1) cell of (n_e,1) cells of (k,4) [x, y, w, h] boxes;
- wider_{easy,medium,hard}_val.mat: the same plus gt_list (E,1) cell of (n_e,1) cells of 1-based
  indices of the faces kept in that setting (the others are "ignored": matching them is no error);
- optionally (`attributes=`) the face labels of wider_face_val.mat: <name>_label_list (E,1) cell of (n_e,1)
  cells of (k,1) uint8 (blur, expression, illumination, invalid, occlusion, pose).

Everything is flattened into image-ordered arrays (event order, then image order of the .mat files),
with offsets, so the evaluator can work on all images at once. A damaged file (truncated, random bytes, missing
or malformed variables) is a ValueError naming it; test.py, eval.py and the offline chain all read through here.
"""
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.io

SETTINGS = ("easy", "medium", "hard")
VAL_FILE = "wider_face_val.mat"


def setting_file(setting):
    return f"wider_{setting}_val.mat"


@dataclass(frozen=True)
class WiderGroundTruth:
    """Flattened WIDER FACE ground truth.

    events[i], stems[i]: event folder and image stem of image i (prediction file
    `<pred_dir>/<event>/<stem>.txt`); boxes (M, 4) float64 [x, y, w, h] of all images, image i owning
    boxes[image_start[i]:image_start[i+1]]; kept[setting] (M,) bool, True for faces that count in it;
    attributes[name] (M,) uint8: the face labels asked for (`load_ground_truth(attributes=...)`).
    """
    events: list
    stems: list
    boxes: np.ndarray
    image_start: np.ndarray
    kept: dict
    attributes: dict = field(default_factory=dict)

    @property
    def num_images(self):
        return len(self.stems)

    def num_faces(self, setting):
        return int(self.kept[setting].sum())


def load_ground_truth(gt_dir, settings=SETTINGS, attributes=()):
    """Read `wider_face_val.mat` and the per-setting `wider_<setting>_val.mat` files from `gt_dir`, and the face
    labels named in `attributes` (e.g. "blur" for blur_label_list)."""
    gt_dir = Path(gt_dir)
    label_keys = tuple(f"{name}_label_list" for name in attributes)
    val = _load_mat(gt_dir / VAL_FILE, ("event_list", "file_list", "face_bbx_list") + label_keys)
    events, stems, box_cells = _flatten_images(val, gt_dir / VAL_FILE)
    counts = np.array([len(b) for b in box_cells], dtype=np.int64)
    image_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    boxes = np.concatenate(box_cells).astype(np.float64) if len(box_cells) else np.zeros((0, 4))
    kept = {}
    for setting in settings:
        path = gt_dir / setting_file(setting)
        mat = _load_mat(path, ("event_list", "file_list", "gt_list"))
        kept[setting] = _kept_mask(mat, path, events, stems, image_start)
    labels = {name: _labels(val, key, gt_dir / VAL_FILE, counts) for name, key in zip(attributes, label_keys)}
    return WiderGroundTruth(events=events, stems=stems, boxes=boxes, image_start=image_start, kept=kept,
                            attributes=labels)


def _labels(val, key, path, counts):
    """(M,) uint8: the per-face labels of cell `key`, one (k, 1) array per image (k = its number of boxes)."""
    per_image = [np.asarray(cell).ravel() for event in _cell_column(val, key, path) for cell in event.ravel()]
    if len(per_image) != len(counts):
        raise ValueError(f"{path}: '{key}' covers {len(per_image)} images; expected {len(counts)} as face_bbx_list")
    for i, (values, count) in enumerate(zip(per_image, counts)):
        if values.size != count:
            raise ValueError(f"{path}: '{key}' of image {i + 1} has {values.size} labels; expected one per box "
                             f"({count})")
    return np.concatenate(per_image).astype(np.uint8) if per_image else np.zeros(0, np.uint8)


def _load_mat(path, keys):
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; expected the official WIDER FACE ground truth "
                                f"folder with {VAL_FILE} and {', '.join(setting_file(s) for s in SETTINGS)}")
    data = path.read_bytes()  # an OSError here (permission, I/O) names the file and stays an OSError
    try:
        mat = scipy.io.loadmat(io.BytesIO(data), variable_names=list(keys))
    except Exception as err:  # noqa: BLE001 -- scipy's readers raise many types on damaged files
        # Truncated or random bytes make scipy raise ValueError, TypeError, OSError ("could not read bytes"),
        # zlib.error, struct.error, ... without the file's name: one error naming it instead.
        raise ValueError(f"{path}: cannot be read as a MATLAB .mat file ({type(err).__name__}: {err}); expected "
                         f"the official WIDER FACE ground truth ({', '.join(keys)})") from err
    missing = [key for key in keys if key not in mat]
    if missing:
        raise ValueError(f"{path}: missing variable(s) {', '.join(missing)}; expected {', '.join(keys)} (the "
                         f"official WIDER FACE ground truth)")
    return mat


def _cell_column(mat, key, path):
    cell = mat[key]
    if cell.dtype != object or cell.ndim != 2 or cell.shape[1] != 1:
        raise ValueError(f"{path}: '{key}' has shape {cell.shape} dtype {cell.dtype}; expected an (n, 1) cell")
    return [cell[i, 0] for i in range(cell.shape[0])]


def _string(value):
    return str(np.asarray(value).ravel()[0]) if np.asarray(value).size else ""


def _flatten_images(val, path):
    event_cells = _cell_column(val, "event_list", path)
    file_cells = _cell_column(val, "file_list", path)
    box_cells = _cell_column(val, "face_bbx_list", path)
    if not len(event_cells) == len(file_cells) == len(box_cells):
        raise ValueError(f"{path}: event_list, file_list and face_bbx_list have {len(event_cells)}, "
                         f"{len(file_cells)}, {len(box_cells)} events; expected equal counts")
    events, stems, boxes = [], [], []
    for e, (event_cell, files, event_boxes) in enumerate(zip(event_cells, file_cells, box_cells)):
        event = _string(event_cell)
        if files.size != event_boxes.size:
            raise ValueError(f"{path}: event {e} ({event}) lists {files.size} files but {event_boxes.size} "
                             "box arrays; expected one box array per file")
        for j in range(files.size):
            b = np.asarray(event_boxes.ravel()[j])
            if b.size == 0:
                b = np.zeros((0, 4))
            elif b.ndim != 2 or b.shape[1] != 4:
                raise ValueError(f"{path}: face_bbx_list{{{e + 1}}}{{{j + 1}}} has shape {b.shape}; "
                                 "expected (k, 4) [x, y, w, h]")
            events.append(event)
            stems.append(_string(files.ravel()[j]))
            boxes.append(b)
    return events, stems, boxes


def _kept_mask(mat, path, events, stems, image_start):
    """Boolean (M,) mask of the faces listed (1-based) in the setting's gt_list."""
    gt_cells = _cell_column(mat, "gt_list", path)
    file_cells = _cell_column(mat, "file_list", path)
    kept = np.zeros(image_start[-1], dtype=bool)
    img = 0
    for e, (keep_cell, files) in enumerate(zip(gt_cells, file_cells)):
        for j in range(keep_cell.size):
            if img >= len(stems) or _string(files.ravel()[j]) != stems[img]:
                raise ValueError(f"{path}: gt_list{{{e + 1}}}{{{j + 1}}} does not line up with the images of "
                                 f"{VAL_FILE}; expected the same events and files in the same order")
            index = np.asarray(keep_cell.ravel()[j]).ravel().astype(np.int64)
            n_boxes = image_start[img + 1] - image_start[img]
            if index.size and (index.min() < 1 or index.max() > n_boxes):
                raise ValueError(f"{path}: gt_list{{{e + 1}}}{{{j + 1}}} has index {index.min()}..{index.max()}; "
                                 f"expected 1-based indices within the image's {n_boxes} boxes")
            kept[image_start[img] + index - 1] = True
            img += 1
    if img != len(stems):
        raise ValueError(f"{path}: gt_list covers {img} images but {VAL_FILE} has {len(stems)}; expected the same")
    return kept
