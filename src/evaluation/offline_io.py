"""Files exchanged by the offline inference chain: preprocess.py -> Ascend 310 (or CPU) runner -> postprocess.py.

    <preprocess_path>/input/<stem>.bin   float32 (1, 3, H, W), C order, raw RGB 0..255: the network input
    <preprocess_path>/meta/<stem>.json   {"event", "stem", "image", "affine" (2x3), "orig_hw", "input_hw", ...}
    <result_path>/<stem>_<k>.bin         float32 output k of the network, C order: 0 heatmap (1, 1, h, w),
                                         1 scale (1, 2, h, w), 2 offset (1, 2, h, w), 3 landmarks (1, 10, h, w),
                                         h = H / 4, w = W / 4

Raw little-endian float32 without a header is what the MindSpore C++ API hands over (MSTensor::Data()), so
the C++ runner reads and writes these files with plain fread/fwrite. Input files are named by image stem, so
stems must be unique (they are in WIDER FACE: the event number is part of every stem).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from src.evaluation.wider_test import WiderImage
from src.inference.preprocess import InputMeta
from src.io_utils import atomic_write_bytes, write_json_atomic

INPUT_DIR, META_DIR = "input", "meta"
HEAD_CHANNELS = (1, 2, 2, 10)  # heatmap, scale, offset, landmarks (DESIGN.md §2 order)
OUTPUT_STRIDE = 4


def check_unique_stems(images: Sequence[WiderImage]) -> None:
    """Input files are named by stem: two images with one stem would overwrite each other."""
    seen: Dict[str, WiderImage] = {}
    for image in images:
        if image.stem in seen:
            raise ValueError(f"images {seen[image.stem].path} and {image.path} share the stem {image.stem!r}; "
                             "the offline chain names files by stem and needs them unique")
        seen[image.stem] = image


def write_input(preprocess_path, image: WiderImage, chw: np.ndarray, meta: InputMeta, extra: Dict = None) -> Path:
    """Write one image's network input (batch of 1) and its meta; returns the .bin path."""
    root = Path(preprocess_path)
    batch = np.ascontiguousarray(chw[None], dtype="<f4")
    bin_path = root / INPUT_DIR / f"{image.stem}.bin"
    atomic_write_bytes(bin_path, batch.tobytes())
    record = {"event": image.event, "stem": image.stem, "image": str(image.path),
              "affine": meta.affine.tolist(), "orig_hw": list(meta.orig_hw), "input_hw": list(meta.input_hw),
              "input_shape": list(batch.shape), **(extra or {})}
    write_json_atomic(root / META_DIR / f"{image.stem}.json", record, indent=1)
    return bin_path


def list_meta_files(preprocess_path) -> List[Path]:
    """The meta files written by preprocess.py, sorted by name."""
    folder = Path(preprocess_path) / META_DIR
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"preprocess_path {preprocess_path}: no {META_DIR}/*.json files; "
                                "run preprocess.py first")
    return files


def read_meta(path) -> Tuple[WiderImage, InputMeta]:
    """The image identity and the InputMeta stored by :func:`write_input`."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
        image = WiderImage(str(record["event"]), str(record["stem"]), Path(record["image"]))
        affine = np.asarray(record["affine"], dtype=np.float64)
        meta = InputMeta(affine=affine, orig_hw=tuple(int(v) for v in record["orig_hw"]),
                         input_hw=tuple(int(v) for v in record["input_hw"]))
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a meta file of preprocess.py ({type(err).__name__}: {err}); expected "
                         "keys event, stem, image, affine, orig_hw, input_hw") from None
    if affine.shape != (2, 3) or len(meta.orig_hw) != 2 or len(meta.input_hw) != 2:
        raise ValueError(f"{path}: affine must be 2x3 and orig_hw/input_hw pairs, got affine {affine.shape}")
    return image, meta


def output_path(result_path, stem: str, index: int) -> Path:
    return Path(result_path) / f"{stem}_{index}.bin"


def read_heads(result_path, stem: str, input_hw: Tuple[int, int]) -> Tuple[np.ndarray, ...]:
    """The four head outputs of one image, shaped (1, C, H/4, W/4), from ``<result_path>/<stem>_<k>.bin``."""
    height, width = input_hw[0] // OUTPUT_STRIDE, input_hw[1] // OUTPUT_STRIDE
    heads = []
    for index, channels in enumerate(HEAD_CHANNELS):
        path = output_path(result_path, stem, index)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing network output {index}; expected the runner to write "
                                    f"<stem>_0.bin .. <stem>_{len(HEAD_CHANNELS) - 1}.bin")
        values = np.fromfile(path, dtype="<f4")
        expected = channels * height * width
        if values.size != expected:
            raise ValueError(f"{path}: {values.size} float32 values; expected {expected} = (1, {channels}, "
                             f"{height}, {width}) for an input of {input_hw[0]}x{input_hw[1]}")
        heads.append(values.reshape(1, channels, height, width))
    return tuple(heads)


def write_outputs(result_path, stem: str, outputs: Sequence[np.ndarray]) -> List[Path]:
    """Write each network output as raw float32 ``<stem>_<k>.bin`` (what the C++ runner writes)."""
    paths = []
    for index, array in enumerate(outputs):
        path = output_path(result_path, stem, index)
        atomic_write_bytes(path, np.ascontiguousarray(array, dtype="<f4").tobytes())
        paths.append(path)
    return paths
