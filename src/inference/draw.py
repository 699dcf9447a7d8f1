"""Drawing detections (box, score, keypoints and the schema's skeleton edges) on an RGB image, and saving it
atomically."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from src.io_utils import atomic_write_bytes

from .detections import Detections

BOX_COLOR = (0, 255, 0)  # RGB
TEXT_COLOR = (255, 255, 255)
EDGE_COLOR = (255, 160, 0)
DEFAULT_POINT_COLOR = (255, 0, 0)
MIN_FONT_SCALE = 0.3


def draw_detections(image_rgb: np.ndarray, dets: Detections, schema=None, show_scores: bool = True,
                    min_keypoint_score: float = 0.0) -> np.ndarray:
    """A copy of `image_rgb` (h, w, 3) uint8 with boxes, scores and keypoints of `dets` drawn on it. A score is
    written above its box when the label is not wider than the box (the score is in the JSON anyway).

    schema: the KeypointSchema (point colours, skeleton edges); None draws points in one colour, no edges.
    min_keypoint_score: with keypoint scores, points (and their edges) scoring below it are not drawn.
    """
    if not isinstance(image_rgb, np.ndarray) or image_rgb.ndim != 3 or image_rgb.shape[2] != 3 \
            or image_rgb.dtype != np.uint8:
        raise ValueError(f"draw_detections: image must be an HxWx3 uint8 RGB array, got "
                         f"{getattr(image_rgb, 'shape', type(image_rgb).__name__)} "
                         f"{getattr(image_rgb, 'dtype', '')}")
    canvas = np.ascontiguousarray(image_rgb).copy()
    # Line width and font size grow with the image so drawings stay visible on large photos; below 500 px the font
    # shrinks with the image down to the smallest legible size (OpenCV's Hershey font at 0.3: 7 px digits).
    side = max(canvas.shape[:2])
    thickness = max(1, round(side / 500))
    radius = thickness + 1
    font_scale = 0.4 * thickness if side >= 500 else max(MIN_FONT_SCALE, 0.4 * side / 500)
    colors = schema.colors if schema is not None and schema.colors else None
    edges = schema.edges if schema is not None else ()
    point_scores = dets.keypoint_scores if dets.keypoint_scores is not None else np.ones(dets.keypoints.shape[:2])
    for box, score, points, visible in zip(dets.boxes, dets.scores, dets.keypoints,
                                           point_scores >= min_keypoint_score):
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), BOX_COLOR, thickness)
        if show_scores:
            label = f"{float(score):.2f}"
            (text_w, text_h), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        if show_scores and text_w <= x2 - x1:  # a label wider than its box would hide the image, not label it
            top = max(y1 - text_h - baseline, 0)
            cv2.rectangle(canvas, (x1, top), (x1 + text_w, top + text_h + baseline), BOX_COLOR, -1)
            cv2.putText(canvas, label, (x1, top + text_h), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                        TEXT_COLOR, 1, cv2.LINE_AA)
        pixels = [(int(round(float(x))), int(round(float(y)))) for x, y in points]
        for a, b in edges:
            if visible[a] and visible[b]:
                cv2.line(canvas, pixels[a], pixels[b], EDGE_COLOR, thickness, cv2.LINE_AA)
        for k, pixel in enumerate(pixels):
            if visible[k]:
                cv2.circle(canvas, pixel, radius, colors[k] if colors else DEFAULT_POINT_COLOR, -1)
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
    atomic_write_bytes(path, encoded.tobytes())
    return path
