"""Write WIDER FACE evaluation ground truth (.mat files) with the structure of the official ones (the
evaluator reads them: `dependency.evaluate.ground_truth.load_ground_truth`).

The official evaluation tool ships four MATLAB 5.0 files (see tests/data/widerface_gt/):
``wider_face_val.mat`` and ``wider_{easy,medium,hard}_val.mat``. Their structure, as read with
``scipy.io.loadmat`` (E events, N_e images in event e, n faces in an image):

====================================  ==========================  ==========================================
variable                              outer cell / inner cell      leaf
====================================  ==========================  ==========================================
event_list                            (E, 1) object               str, loads as ``<U`` array of shape (1,)
file_list                             (E, 1) -> (N_e, 1) object   image stem (no extension), as above
face_bbx_list                         (E, 1) -> (N_e, 1) object   int32 (n, 4): x, y, w, h in pixels
blur/expression/illumination/         (E, 1) -> (N_e, 1) object   uint8 (n, 1) attribute labels
invalid/occlusion/pose_label_list
gt_list (setting files only)          (E, 1) -> (N_e, 1) object   1-based indices of kept faces, (k, 1);
                                                                   uint8, or uint16 once an index > 255;
                                                                   empty: (0, 0) if the image has one box,
                                                                   (0, 1) otherwise (MATLAB ``find``)
====================================  ==========================  ==========================================

Variables are stored zlib-compressed in alphabetical order, as in the official files. An image without
faces is stored the WIDER way: one all-zero box that no setting keeps. The file header carries no date,
so the same input gives byte-identical files.
"""
import io
import os
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence

import numpy as np
import scipy.io

from dependency.evaluate.ground_truth import SETTINGS, VAL_FILE, setting_file
from src.io_utils import atomic_write_bytes

ATTRIBUTES = ("blur", "expression", "illumination", "invalid", "occlusion", "pose")
# 116-byte descriptive text of a MAT 5.0 header; fixed (no creation date) so outputs are reproducible.
_HEADER_SIZE = 128
_HEADER_TEXT = b"MATLAB 5.0 MAT-file, Platform: posix, Created by: src.data.wider_gt (centerface-mindspore)"


class WiderImageGT(NamedTuple):
    """Ground truth of one image: boxes (n, 4) int x, y, w, h; kept (n, 3) bool per setting easy/medium/hard;
    attributes: name -> (n,) uint8 for the names in ATTRIBUTES (missing names are written as zeros)."""
    stem: str
    boxes_xywh: np.ndarray
    kept: np.ndarray
    attributes: Optional[Mapping[str, np.ndarray]] = None


def _validated_image(event: str, item: Sequence) -> WiderImageGT:
    if len(item) not in (3, 4):
        raise ValueError(f"event {event!r}: expected (image_stem, boxes_xywh, kept[, attributes]), got "
                         f"{len(item)} items")
    stem, boxes, kept = item[0], item[1], item[2]
    attributes = item[3] if len(item) == 4 else None
    where = f"event {event!r}, image {stem!r}"
    if not isinstance(stem, str) or not stem or "/" in stem or stem.endswith(".jpg"):
        raise ValueError(f"{where}: image stem must be a non-empty name without folder or extension")
    boxes = np.asarray(boxes)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{where}: boxes_xywh must have shape (n, 4), got {boxes.shape}")
    if boxes.size and not np.array_equal(boxes, np.round(boxes)):
        raise ValueError(f"{where}: boxes_xywh must be whole pixels (WIDER stores int32)")
    kept = np.asarray(kept)
    if kept.shape != (len(boxes), len(SETTINGS)) or kept.dtype != bool:
        raise ValueError(f"{where}: kept must be a bool array of shape ({len(boxes)}, 3) "
                         f"(columns easy, medium, hard), got {kept.dtype} {kept.shape}")
    checked = {}
    for name, values in (attributes or {}).items():
        values = np.asarray(values)
        if name not in ATTRIBUTES:
            raise ValueError(f"{where}: unknown attribute {name!r}; expected one of {ATTRIBUTES}")
        if values.shape != (len(boxes),) or values.size and (values.min() < 0 or values.max() > 255):
            raise ValueError(f"{where}: attribute {name!r} must be ({len(boxes)},) values in 0..255, "
                             f"got shape {values.shape}")
        checked[name] = values.astype(np.uint8)
    return WiderImageGT(stem, boxes.astype(np.int32), kept, checked)


def _with_placeholder_box(image: WiderImageGT) -> WiderImageGT:
    """WIDER stores an image without faces as one all-zero box that no setting keeps."""
    if len(image.boxes_xywh):
        return image
    return WiderImageGT(image.stem, np.zeros((1, 4), np.int32), np.zeros((1, 3), bool),
                        {name: np.zeros(1, np.uint8) for name in image.attributes})


def _kept_indices(kept_column: np.ndarray) -> np.ndarray:
    """1-based indices of kept faces in the dtype and empty shape MATLAB's find() gives for a (n, 1) input."""
    index = np.flatnonzero(kept_column) + 1
    if index.size == 0:
        return np.zeros((0, 0) if kept_column.size == 1 else (0, 1), np.uint8)
    dtype = np.uint8 if index.max() <= np.iinfo(np.uint8).max else np.uint16
    return index.astype(dtype).reshape(-1, 1)


def _cell(items: List) -> np.ndarray:
    cell = np.empty((len(items), 1), dtype=object)
    for i, item in enumerate(items):
        cell[i, 0] = item
    return cell


def _variable_bytes(name: str, value: np.ndarray) -> bytes:
    """One compressed MAT 5.0 data element (no file header). A MAT file is a header followed by
    independent elements, so the variables shared by the four files are encoded only once."""
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {name: value}, do_compression=True, oned_as="column")
    return buffer.getvalue()[_HEADER_SIZE:]


def _mat_file_bytes(elements: Dict[str, bytes]) -> bytes:
    """Header (fixed text, version 0x0100, little-endian marker) plus the elements in alphabetical order."""
    header = _HEADER_TEXT.ljust(116, b" ") + bytes(8) + b"\x00\x01IM"
    return header + b"".join(elements[name] for name in sorted(elements))


def write_wider_gt(out_dir: str, events: Mapping[str, Sequence[Sequence]]) -> Dict[str, str]:
    """Write wider_face_val.mat and wider_{easy,medium,hard}_val.mat into out_dir.

    events: event name -> list of (image_stem, boxes_xywh (n, 4) int, kept (n, 3) bool[, attributes]) in the
    order they should be stored (WiderImageGT tuples work). Returns file key ("all", "easy", ...) -> path.
    """
    if not events:
        raise ValueError("write_wider_gt: events is empty; expected at least one event with images")
    per_event = []
    for event, images in events.items():
        if not isinstance(event, str) or not event:
            raise ValueError(f"write_wider_gt: event names must be non-empty strings, got {event!r}")
        per_event.append([_with_placeholder_box(_validated_image(event, item)) for item in images])
    common = {
        "event_list": _cell(list(events)),
        "file_list": _cell([_cell([img.stem for img in imgs]) for imgs in per_event]),
        "face_bbx_list": _cell([_cell([img.boxes_xywh for img in imgs]) for imgs in per_event]),
    }
    for name in ATTRIBUTES:
        common[f"{name}_label_list"] = _cell([
            _cell([img.attributes.get(name, np.zeros(len(img.boxes_xywh), np.uint8)).reshape(-1, 1)
                   for img in imgs]) for imgs in per_event])
    os.makedirs(out_dir, exist_ok=True)
    common = {name: _variable_bytes(name, value) for name, value in common.items()}
    paths = {"all": os.path.join(out_dir, VAL_FILE)}
    atomic_write_bytes(paths["all"], _mat_file_bytes(common))
    for column, setting in enumerate(SETTINGS):
        gt_list = _cell([_cell([_kept_indices(img.kept[:, column]) for img in imgs]) for imgs in per_event])
        paths[setting] = os.path.join(out_dir, setting_file(setting))
        atomic_write_bytes(paths[setting], _mat_file_bytes({**common, "gt_list": _variable_bytes("gt_list", gt_list)}))
    return paths

