"""Files exchanged by the offline inference chain: preprocess.py -> Ascend 310 (or CPU) runner -> postprocess.py.

    <preprocess_path>/input/<stem>.bin   float32 (1, 3, H, W), C order, raw RGB 0..255: the network input
    <preprocess_path>/meta/<stem>.json   {"key", "image", "info", "affine" (2x3), "orig_hw", "input_hw", ...}
    <result_path>/<stem>_<k>.bin         float32 output k of the network (the task's `heads` in order), C order,
                                         (1, channels_k, H / stride, W / stride)

Raw little-endian float32 without a header is what the MindSpore C++ API hands over (MSTensor::Data()), so
the C++ runner reads and writes these files with plain fread/fwrite. Files are named by the evaluation image's
key (`EvalImage.key`: the WIDER stem, the COCO file stem), which must be unique in its set.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from src.evaluation.eval_set import EvalImage
from src.inference.preprocess import InputMeta
from src.io_utils import atomic_write_bytes, write_json_atomic

INPUT_DIR, META_DIR = "input", "meta"


def check_unique_keys(images: Sequence[EvalImage]) -> None:
    """Files are named by key: two images with one key would overwrite each other."""
    seen: Dict[str, EvalImage] = {}
    for image in images:
        if image.key in seen:
            raise ValueError(f"images {seen[image.key].path} and {image.path} share the name {image.key!r}; "
                             "the offline chain names files by it and needs them unique")
        seen[image.key] = image


def write_input(preprocess_path, image: EvalImage, chw: np.ndarray, meta: InputMeta, extra: Dict = None) -> Path:
    """Write one image's network input (batch of 1) and its meta; returns the .bin path."""
    root = Path(preprocess_path)
    batch = np.ascontiguousarray(chw[None], dtype="<f4")
    bin_path = root / INPUT_DIR / f"{image.key}.bin"
    atomic_write_bytes(bin_path, batch.tobytes())
    record = {"key": image.key, "image": str(image.path), "info": image.info,
              "affine": meta.affine.tolist(), "orig_hw": list(meta.orig_hw), "input_hw": list(meta.input_hw),
              "input_shape": list(batch.shape), **(extra or {})}
    write_json_atomic(root / META_DIR / f"{image.key}.json", record, indent=1)
    return bin_path


def list_meta_files(preprocess_path) -> List[Path]:
    """The meta files written by preprocess.py, sorted by name."""
    folder = Path(preprocess_path) / META_DIR
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"preprocess_path {preprocess_path}: no {META_DIR}/*.json files; "
                                "run preprocess.py first")
    return files


def read_meta(path) -> Tuple[EvalImage, InputMeta]:
    """The image identity and the InputMeta stored by :func:`write_input`."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
        image = EvalImage(str(record["key"]), Path(record["image"]), dict(record["info"]))
        affine = np.asarray(record["affine"], dtype=np.float64)
        meta = InputMeta(affine=affine, orig_hw=tuple(int(v) for v in record["orig_hw"]),
                         input_hw=tuple(int(v) for v in record["input_hw"]))
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a meta file of preprocess.py ({type(err).__name__}: {err}); expected "
                         "keys key, image, info, affine, orig_hw, input_hw") from None
    if affine.shape != (2, 3) or len(meta.orig_hw) != 2 or len(meta.input_hw) != 2:
        raise ValueError(f"{path}: affine must be 2x3 and orig_hw/input_hw pairs, got affine {affine.shape}")
    return image, meta


def output_path(result_path, stem: str, index: int) -> Path:
    return Path(result_path) / f"{stem}_{index}.bin"


def read_heads(result_path, stem: str, input_hw: Tuple[int, int], heads: Sequence[Tuple[str, int]],
               stride: int) -> Tuple[np.ndarray, ...]:
    """The outputs of one image, shaped (1, C_k, H/stride, W/stride), from ``<result_path>/<stem>_<k>.bin``;
    `heads`: the task's ((name, channels), ...) in output order."""
    height, width = input_hw[0] // stride, input_hw[1] // stride
    outputs = []
    for index, (name, channels) in enumerate(heads):
        path = output_path(result_path, stem, index)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing network output {index} ({name}); expected the runner to write "
                                    f"<stem>_0.bin .. <stem>_{len(heads) - 1}.bin")
        values = np.fromfile(path, dtype="<f4")
        expected = channels * height * width
        if values.size != expected:
            raise ValueError(f"{path}: {values.size} float32 values; expected {expected} = (1, {channels}, "
                             f"{height}, {width}) of {name} for an input of {input_hw[0]}x{input_hw[1]}")
        outputs.append(values.reshape(1, channels, height, width))
    return tuple(outputs)


def write_outputs(result_path, stem: str, outputs: Sequence[np.ndarray]) -> List[Path]:
    """Write each network output as raw float32 ``<stem>_<k>.bin`` (what the C++ runner writes)."""
    paths = []
    for index, array in enumerate(outputs):
        path = output_path(result_path, stem, index)
        atomic_write_bytes(path, np.ascontiguousarray(array, dtype="<f4").tobytes())
        paths.append(path)
    return paths
