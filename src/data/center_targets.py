"""Centre targets of every CenterNet task on the output grid, as the original ("Objects as Points", Zhou et al.
2019; ``datasets/sample/ctdet.py`` and ``multi_pose.py`` share these rules: facts only, our code).

Input: boxes (N,4) xyxy already in OUTPUT pixels (what :class:`src.data.centernet_augment.CenterNetAugment`
returns), pixel-index convention (integer = pixel centre), and each box's contiguous class (0 for a one-class
task such as multi-person pose). Only the first ``max_objs`` objects are used (the original's ``num_objs =
min(len(anns), max_objs)``); object ``k`` owns slot ``k`` of every per-object array, so a skipped object leaves a
zero slot.

Per object of class ``c``:
  * box clipped to ``[0, W-1] x [0, H-1]``; skipped when its clipped height or width is <= 0;
  * radius ``r = max(0, int(radius_fn(ceil h, ceil w, min_overlap)))`` (CenterNet's published radius by
    default, :func:`src.data.gaussian.legacy_gaussian_radius`);
  * float centre ``ct``, ``ct_int = int(ct)``; ``wh = (w, h)``; ``ind = ct_int_y * W + ct_int_x``;
    ``reg = ct - ct_int``; ``reg_mask = 1``;
  * with ``cat_spec_wh`` (the original's ``--cat_spec_wh``): ``cat_spec_wh[k, 2c:2c+2] = (w, h)`` and
    ``cat_spec_mask[k, 2c:2c+2] = 1`` take the place of ``wh`` (a size head of 2 channels per class);
  * the radius-``r`` Gaussian on ``hm[c]`` at ``ct_int`` (max-merge, peak exactly 1).

Tasks with more per-object targets (pose: joints) call :meth:`CenterTargets.place` and
:meth:`CenterTargets.draw_center` themselves, in between writing their own arrays.

Coordinates are rounded to float32 first and the centre computed in float32 arithmetic, like the original's
float32 arrays, so integer cells agree with it at .5 boundaries. ``int()`` truncates; all truncated values are
>= 0 here (clipped boxes), so it is the floor.
"""
import math
from typing import NamedTuple, Optional

import numpy as np

from src.data.gaussian import draw_gaussian, gaussian_radius, legacy_gaussian_radius

__all__ = ["CENTER_KEYS", "CAT_SPEC_KEYS", "RADIUS_FUNCTIONS", "PlacedObject", "CenterTargets", "size_pair", "as_boxes"]

# Target names in the order the losses take them (after the head maps).
CENTER_KEYS = ("hm", "wh", "reg", "ind", "reg_mask")
CAT_SPEC_KEYS = ("hm", "cat_spec_wh", "cat_spec_mask", "reg", "ind", "reg_mask")
RADIUS_FUNCTIONS = {"legacy": legacy_gaussian_radius, "cornernet": gaussian_radius}


class PlacedObject(NamedTuple):
    """Where :meth:`CenterTargets.place` put an object: its integer centre cell, Gaussian radius and class."""

    col: int
    row: int
    radius: int
    cls: int


def size_pair(value, name, owner):
    """(height, width) of positive ints from a pair or one int; ValueError naming `owner` and `name` otherwise."""
    if isinstance(value, (int, np.integer)):
        value = (int(value), int(value))
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) <= 0:
        raise ValueError(f"{owner}: {name} must be (height, width) > 0, got {value}")
    return value


def as_boxes(boxes, owner, dtype=np.float32):
    """(N, 4) xyxy boxes as `dtype` (an empty input is (0, 4)); ValueError naming `owner` otherwise."""
    boxes = np.asarray(boxes, dtype=dtype)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{owner}: boxes must have shape (N, 4) xyxy, got {boxes.shape}")
    return boxes


class CenterTargets:
    """Map output-pixel boxes of one image (and their classes) to CenterNet's centre target arrays.

    Args:
        output_res: (height, width) of the output grid, or one int.
        num_classes: heatmap channels (80 for COCO detection, 1 for person pose).
        max_objs: object slots; objects beyond the first ``max_objs`` are ignored entirely (as the original).
        radius: "legacy" (CenterNet's published radius, what the original trains with) or "cornernet" (the
            correct CornerNet radius, :func:`src.data.gaussian.gaussian_radius`).
        min_overlap: CornerNet IoU of the radius rule.
        cat_spec_wh: per-class size targets ``cat_spec_wh`` / ``cat_spec_mask`` (M, 2 * num_classes) instead of
            ``wh`` (M, 2).

    ``__call__(boxes_out (N,4) xyxy, labels (N,) int or None)`` returns a dict (keys in the order of :attr:`keys`):
    hm (C,H,W), wh (M,2) [or cat_spec_wh, cat_spec_mask (M,2C)], reg (M,2), ind (M,) int32, reg_mask (M,);
    M = max_objs; everything but ind float32. Labels None means class 0 for every box. Rules: module docstring.
    """

    owner = "CenterTargets"

    def __init__(self, output_res=(128, 128), num_classes=1, max_objs=128, radius="legacy", min_overlap=0.7,
                 cat_spec_wh=False):
        self.output_res = size_pair(output_res, "output_res", self.owner)
        self.num_classes = int(num_classes)
        self.max_objs = int(max_objs)
        if self.num_classes < 1 or self.max_objs < 1:
            raise ValueError(f"{self.owner}: num_classes and max_objs must be >= 1, got {num_classes}, {max_objs}")
        if radius not in RADIUS_FUNCTIONS:
            raise ValueError(f"{self.owner}: radius must be one of {sorted(RADIUS_FUNCTIONS)}, got {radius!r}")
        if not 0.0 < min_overlap < 1.0:
            raise ValueError(f"{self.owner}: min_overlap must be in (0, 1), got {min_overlap}")
        self.radius_fn = RADIUS_FUNCTIONS[radius]
        self.min_overlap = float(min_overlap)
        self.cat_spec_wh = bool(cat_spec_wh)

    @property
    def keys(self):
        """Target names in the order the loss takes them."""
        return CAT_SPEC_KEYS if self.cat_spec_wh else CENTER_KEYS

    def empty(self):
        """All-zero targets (an image without objects)."""
        height, width = self.output_res
        objs = self.max_objs
        out = {"hm": np.zeros((self.num_classes, height, width), np.float32)}
        if self.cat_spec_wh:
            out["cat_spec_wh"] = np.zeros((objs, 2 * self.num_classes), np.float32)
            out["cat_spec_mask"] = np.zeros((objs, 2 * self.num_classes), np.float32)
        else:
            out["wh"] = np.zeros((objs, 2), np.float32)
        out.update({"reg": np.zeros((objs, 2), np.float32), "ind": np.zeros(objs, np.int32),
                    "reg_mask": np.zeros(objs, np.float32)})
        return out

    def radius_for(self, box_h, box_w):
        """Gaussian radius (int >= 0) of a clipped box of ``box_h`` x ``box_w`` output pixels."""
        return max(0, int(self.radius_fn(math.ceil(box_h), math.ceil(box_w), self.min_overlap)))

    def place(self, out, k, box, cls=0) -> Optional[PlacedObject]:
        """Write object ``k``'s size, index, offset and mask into ``out`` for its float32 box (output pixels);
        None (nothing written) when the clipped box is empty. The centre Gaussian is drawn by draw_center."""
        height, width = self.output_res
        box = np.array(box, dtype=np.float32)
        box[0::2] = np.clip(box[0::2], 0, width - 1)
        box[1::2] = np.clip(box[1::2], 0, height - 1)
        box_h, box_w = box[3] - box[1], box[2] - box[0]
        if not (box_h > 0 and box_w > 0):  # also rejects NaN
            return None
        radius = self.radius_for(box_h, box_w)
        center = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], dtype=np.float32)
        col, row = int(center[0]), int(center[1])
        if self.cat_spec_wh:
            out["cat_spec_wh"][k, 2 * cls:2 * cls + 2] = (box_w, box_h)
            out["cat_spec_mask"][k, 2 * cls:2 * cls + 2] = 1.0
        else:
            out["wh"][k] = (box_w, box_h)
        out["ind"][k] = row * width + col
        out["reg"][k] = center - np.array([col, row], np.float32)
        out["reg_mask"][k] = 1.0
        return PlacedObject(col, row, radius, int(cls))

    @staticmethod
    def draw_center(out, placed: PlacedObject):
        """Max-merge the object's centre Gaussian into its class channel of ``out["hm"]``."""
        draw_gaussian(out["hm"][placed.cls], placed.row, placed.col, placed.radius)

    def __call__(self, boxes_out, labels=None):
        boxes, labels = self.validate_boxes(boxes_out, labels)
        out = self.empty()
        for k in range(min(len(boxes), self.max_objs)):
            placed = self.place(out, k, boxes[k], labels[k])
            if placed is not None:
                self.draw_center(out, placed)
        return out

    def validate_boxes(self, boxes, labels=None):
        """(boxes (N,4) float32, labels (N,) int64) checked; labels None -> all 0."""
        boxes = as_boxes(boxes, self.owner)
        if labels is None:
            return boxes, np.zeros(len(boxes), np.int64)
        labels = np.asarray(labels)
        if labels.shape != (len(boxes),) or (labels.size and (labels.dtype.kind not in "iu" or labels.min() < 0
                                                               or labels.max() >= self.num_classes)):
            raise ValueError(f"{self.owner}: labels must be {len(boxes)} integer classes in [0, {self.num_classes}), "
                             f"got {labels.dtype} {labels.shape} {labels.tolist()[:5]}")
        return boxes, labels.astype(np.int64)
