"""Drawing face detections (box, score, 5 landmarks) on an RGB image and saving it atomically."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from .decode import Detections

BOX_COLOR = (0, 255, 0)  # RGB
TEXT_COLOR = (255, 255, 255)
# One colour per landmark (RGB): left eye red, right eye blue, nose yellow, left mouth magenta, right cyan.
LANDMARK_COLORS = ((255, 0, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255))


def draw_detections(image_rgb: np.ndarray, dets: Detections, show_scores: bool = True) -> np.ndarray:
    """A copy of `image_rgb` (h, w, 3) uint8 with boxes, scores and landmarks of `dets` drawn on it."""
    if not isinstance(image_rgb, np.ndarray) or image_rgb.ndim != 3 or image_rgb.shape[2] != 3 \
            or image_rgb.dtype != np.uint8:
        raise ValueError(f"draw_detections: image must be an HxWx3 uint8 RGB array, got "
                         f"{getattr(image_rgb, 'shape', type(image_rgb).__name__)} "
                         f"{getattr(image_rgb, 'dtype', '')}")
    canvas = np.ascontiguousarray(image_rgb).copy()
    # Line width and font size grow with the image so drawings stay visible on large photos.
    thickness = max(1, round(max(canvas.shape[:2]) / 500))
    radius = thickness + 1
    font_scale = 0.4 * thickness
    for box, score, points in zip(dets.boxes, dets.scores, dets.landmarks):
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), BOX_COLOR, thickness)
        if show_scores:
            label = f"{float(score):.2f}"
            (text_w, text_h), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
            top = max(y1 - text_h - baseline, 0)
            cv2.rectangle(canvas, (x1, top), (x1 + text_w, top + text_h + baseline), BOX_COLOR, -1)
            cv2.putText(canvas, label, (x1, top + text_h), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                        TEXT_COLOR, 1, cv2.LINE_AA)
        for (x, y), color in zip(points, LANDMARK_COLORS):
            cv2.circle(canvas, (int(round(float(x))), int(round(float(y)))), radius, color, -1)
    return canvas


def save_image(path, image_rgb: np.ndarray) -> Path:
    """Write an RGB uint8 image to `path` (format from its suffix, e.g. .jpg/.png), atomically.

    The encoded bytes go to a temporary file in the same folder, which then replaces `path`.
    """
    path = Path(path)
    if not isinstance(image_rgb, np.ndarray) or image_rgb.ndim != 3 or image_rgb.shape[2] != 3 \
            or image_rgb.dtype != np.uint8:
        raise ValueError(f"save_image: {path}: image must be an HxWx3 uint8 RGB array, got "
                         f"{getattr(image_rgb, 'shape', type(image_rgb).__name__)}")
    try:
        ok, encoded = cv2.imencode(path.suffix, cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    except cv2.error as err:
        raise ValueError(f"save_image: {path}: cannot encode an image with suffix {path.suffix!r} "
                         f"(expected e.g. .jpg or .png)") from err
    if not ok:
        raise ValueError(f"save_image: {path}: OpenCV failed to encode the image as {path.suffix!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(encoded.tobytes())
        os.chmod(tmp_name, 0o644)  # mkstemp creates 0600; give the usual permissions of a written image
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
        raise
    return path
