"""Drawing detections (box, score, class name, keypoints and the schema's skeleton edges) on an RGB image, and
saving it atomically."""
from __future__ import annotations

import colorsys
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from src.io_utils import atomic_write_bytes

from .detections import Detections

BOX_COLOR = (0, 255, 0)  # RGB
TEXT_COLOR = (255, 255, 255)
EDGE_COLOR = (255, 160, 0)
DEFAULT_POINT_COLOR = (255, 0, 0)
MIN_FONT_SCALE = 0.3


def class_color(label: int):
    """A distinct, saturated RGB colour for class `label` (hues spread by the golden ratio)."""
    red, green, blue = colorsys.hsv_to_rgb((int(label) * 0.618033988749895 + 0.1) % 1.0, 0.85, 1.0)
    return int(red * 255), int(green * 255), int(blue * 255)


def _class_label(canvas, box, text, short_text, color, font_scale):
    """The label of a class detection on a filled band above the box (inside it when the box touches the top),
    kept inside the image. On a small image a long label would cover it: a label wider than a third of the image
    (and than its box) falls back to `short_text` (the name alone); one still wider than half the image is left
    out (the box colour names the class)."""
    height, width = canvas.shape[:2]
    x1, y1, x2, _ = box
    for candidate in (text, short_text):
        (text_w, text_h), baseline = cv2.getTextSize(candidate, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        if text_w <= max(width / 3, x2 - x1):
            break
    if text_w > width / 2:
        return
    left = min(max(x1, 0), max(width - text_w, 0))
    top = y1 - text_h - baseline if y1 - text_h - baseline >= 0 else max(y1, 0)
    top = min(top, max(height - text_h - baseline, 0))
    cv2.rectangle(canvas, (left, top), (left + text_w, top + text_h + baseline), color, -1)
    luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    cv2.putText(canvas, candidate, (left, top + text_h), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                (0, 0, 0) if luminance > 150 else TEXT_COLOR, 1, cv2.LINE_AA)


def draw_detections(image_rgb: np.ndarray, dets: Detections, schema=None, show_scores: bool = True,
                    min_keypoint_score: float = 0.0, class_names: Optional[Sequence[str]] = None,
                    enlarge_below: int = 0) -> np.ndarray:
    """A copy of `image_rgb` (h, w, 3) uint8 with boxes, scores and keypoints of `dets` drawn on it. A score is
    written above its box when the label is not wider than the box (the score is in the JSON anyway).

    schema: the KeypointSchema (point colours, skeleton edges); None draws points in one colour, no edges.
    min_keypoint_score: with keypoint scores, points (and their edges) scoring below it are not drawn.
    class_names: for detections with labels, the name of each class: boxes take their class's colour and the
    label reads "name score" (shortened or left out where it would cover the image, see _class_label).
    enlarge_below: an image whose longer side is below this is drawn enlarged by the smallest integer factor
    reaching it (nearest-neighbour: its pixels stay visible as they are), so that labels are readable without
    covering it (a 120 px image gets a 480 px drawing); 0 keeps every image's size.
    """
    if not isinstance(image_rgb, np.ndarray) or image_rgb.ndim != 3 or image_rgb.shape[2] != 3 \
            or image_rgb.dtype != np.uint8:
        raise ValueError(f"draw_detections: image must be an HxWx3 uint8 RGB array, got "
                         f"{getattr(image_rgb, 'shape', type(image_rgb).__name__)} "
                         f"{getattr(image_rgb, 'dtype', '')}")
    canvas = np.ascontiguousarray(image_rgb).copy()
    factor = -(-int(enlarge_below) // max(canvas.shape[:2])) if max(canvas.shape[:2]) < enlarge_below else 1
    if factor > 1:
        canvas = cv2.resize(canvas, (canvas.shape[1] * factor, canvas.shape[0] * factor),
                            interpolation=cv2.INTER_NEAREST)
        dets = Detections(dets.boxes * factor, dets.scores, dets.keypoints * factor, dets.keypoint_scores,
                          dets.labels)
    # Line width and font size grow with the image so drawings stay visible on large photos; below 500 px the font
    # shrinks with the image down to the smallest legible size (OpenCV's Hershey font at 0.3: 7 px digits).
    side = max(canvas.shape[:2])
    thickness = max(1, round(side / 500))
    radius = thickness + 1
    font_scale = 0.4 * thickness if side >= 500 else max(MIN_FONT_SCALE, 0.4 * side / 500)
    colors = schema.colors if schema is not None and schema.colors else None
    edges = schema.edges if schema is not None else ()
    point_scores = dets.keypoint_scores if dets.keypoint_scores is not None else np.ones(dets.keypoints.shape[:2])
    labels = dets.labels if dets.labels is not None else [None] * len(dets)
    # the best drawn last: on top of the boxes and labels it overlaps
    order = np.argsort(dets.scores, kind="stable")
    for box, score, points, visible, label in zip(dets.boxes[order], dets.scores[order], dets.keypoints[order],
                                                  (point_scores >= min_keypoint_score)[order],
                                                  [labels[i] for i in order]):
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        color = BOX_COLOR if label is None else class_color(label)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness)
        if show_scores and label is not None:
            name = class_names[label] if class_names is not None and label < len(class_names) else str(label)
            _class_label(canvas, (x1, y1, x2, y2), f"{name} {float(score):.2f}", name, color, font_scale)
        elif show_scores:
            label_text = f"{float(score):.2f}"
            (text_w, text_h), baseline = cv2.getTextSize(label_text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
            if text_w <= x2 - x1:  # a label wider than its box would hide the image, not label it
                top = max(y1 - text_h - baseline, 0)
                cv2.rectangle(canvas, (x1, top), (x1 + text_w, top + text_h + baseline), BOX_COLOR, -1)
                cv2.putText(canvas, label_text, (x1, top + text_h), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
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
