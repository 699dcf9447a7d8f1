"""Reading images, the one way every script does it: decoded with OpenCV, truncated JPEGs refused.

OpenCV decodes a truncated JPEG partially (the missing rows grey) and only libjpeg prints a warning on
stderr, so a broken copy would be scored or trained on as a good image. A JPEG must end with the end-of-image
marker FF D9 (00/FF padding bytes after it are tolerated, as some cameras write them) and a PNG with its IEND
chunk; a file cut short is treated as unreadable.

EXIF orientation: applied by default (what cv2.imread does, and what a photo viewer shows); COCO's sizes and
coordinates describe the stored pixels, so the pose model's COCO readers ask for `ignore_orientation`.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import cv2
import numpy as np

__all__ = ["IMAGE_SUFFIXES", "is_complete_image_file", "decode_image", "read_image", "list_images"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"
PNG_SIGNATURE, PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"
_JPEG_PADDING = b"\x00\xff"


def is_complete_image_file(data: bytes) -> bool:
    """False for a JPEG without its end-of-image marker FF D9 at the end (00/FF padding after it allowed) or a
    PNG without its final IEND chunk, i.e. a file cut short; True otherwise (other formats: not checked).
    Stripping the padding cannot eat the FF of the marker: the strip stops at D9."""
    if data[:2] == JPEG_START:
        return data.rstrip(_JPEG_PADDING).endswith(JPEG_END)
    if data[:8] == PNG_SIGNATURE:
        return data.rstrip(b"\x00").endswith(PNG_END)
    return True


def decode_image(data: bytes, order: str = "RGB", ignore_orientation: bool = False) -> Optional[np.ndarray]:
    """(h, w, 3) uint8 image in `order` ("RGB" or "BGR") from encoded bytes, or None if they are not a
    complete image."""
    if order not in ("RGB", "BGR"):
        raise ValueError(f"decode_image: order must be 'RGB' or 'BGR', got {order!r}")
    if not data or not is_complete_image_file(data):
        return None
    flags = cv2.IMREAD_COLOR | (cv2.IMREAD_IGNORE_ORIENTATION if ignore_orientation else 0)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None or image.size == 0:
        return None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if order == "RGB" else image


def read_image(path, order: str = "RGB", ignore_orientation: bool = False) -> Optional[np.ndarray]:
    """The image at `path` (see decode_image), or None when it is missing, unreadable, not an image or cut
    short."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    return decode_image(data, order, ignore_orientation)


def list_images(path, exclude=None) -> List[Path]:
    """[path] for a file; for a folder every image file under it (recursively, sorted), leaving out anything
    inside `exclude` (an output folder placed inside the input folder). FileNotFoundError naming the path when
    there is nothing to read."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    skip = Path(exclude).resolve() if exclude is not None else None
    images = []
    for item in sorted(path.rglob("*")):
        if item.suffix.lower() not in IMAGE_SUFFIXES or not item.is_file():
            continue
        if skip is not None and (item.resolve() == skip or skip in item.resolve().parents):
            continue
        images.append(item)
    if not images:
        raise FileNotFoundError(f"{path}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return images
