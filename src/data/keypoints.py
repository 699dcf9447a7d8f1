"""Keypoint schemas: how many points an object carries, which swap under a horizontal flip, which are joined.

The models of the repository predict an object centre plus a fixed list of points: CenterFace 5 face
landmarks, CenterNet pose 17 COCO person joints, a plain detector none (`NO_KEYPOINTS`). Everything that depends
on the list (target layout, flip augmentation, flip test, decoding, drawing, result files) reads it from one
`KeypointSchema` (a task's `keypoints`), so the generic code never hard-codes a count or a pair.

    schema = COCO_PERSON
    schema.num_points       # 17
    schema.flip_order       # (0, 2, 1, 4, 3, ...): index of the point that lands on each slot after a flip
    points[:, schema.flip_order]  # swap left/right of an (N, K, 2) array of a flipped image
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

__all__ = ["KeypointSchema", "NO_KEYPOINTS", "FACE_LANDMARKS", "COCO_PERSON"]


@dataclass(frozen=True)
class KeypointSchema:
    """names: one name per point, in channel order (none: objects without points). flip_pairs: (left, right) index pairs that swap under a
    horizontal flip (points not in a pair stay). edges: (a, b) index pairs drawn as a skeleton.
    colors: one RGB colour per point for drawing (None: a default palette)."""

    names: Tuple[str, ...]
    flip_pairs: Tuple[Tuple[int, int], ...] = ()
    edges: Tuple[Tuple[int, int], ...] = ()
    colors: Tuple[Tuple[int, int, int], ...] = None

    def __post_init__(self):
        count = len(self.names)
        if len(set(self.names)) != count or not all(self.names):
            raise ValueError(f"KeypointSchema: names must be unique non-empty strings, got {self.names}")
        seen = set()
        for pair in self.flip_pairs:
            if len(pair) != 2 or pair[0] == pair[1] or not all(0 <= i < count for i in pair) or seen & set(pair):
                raise ValueError(f"KeypointSchema: flip pair {pair} must be two distinct, unused indices in "
                                 f"[0, {count})")
            seen |= set(pair)
        for edge in self.edges:
            if len(edge) != 2 or not all(0 <= i < count for i in edge):
                raise ValueError(f"KeypointSchema: edge {edge} must join two indices in [0, {count})")
        if self.colors is not None and len(self.colors) != count:
            raise ValueError(f"KeypointSchema: {len(self.colors)} colours for {count} points")

    @property
    def num_points(self) -> int:
        return len(self.names)

    @property
    def flip_order(self) -> Tuple[int, ...]:
        """order[i] = the point whose mirror image becomes point i: `flipped[:, order]` swaps each pair."""
        order = list(range(self.num_points))
        for left, right in self.flip_pairs:
            order[left], order[right] = right, left
        return tuple(order)

    def flip_points(self, points: np.ndarray, width: float) -> np.ndarray:
        """(..., K, 2) x, y of a horizontally flipped image of `width` mapped back (x -> width - x), pairs
        swapped so that "left" keeps meaning the same side of the object."""
        points = np.asarray(points)
        flipped = points[..., list(self.flip_order), :].copy()
        flipped[..., 0] = width - flipped[..., 0]
        return flipped


# Objects without points (boxes only).
NO_KEYPOINTS = KeypointSchema(names=())

# WIDER FACE / RetinaFace landmark order; "left" = smaller x in the image. Drawn colours: left eye red, right
# eye blue, nose yellow, left mouth corner magenta, right mouth corner cyan.
FACE_LANDMARKS = KeypointSchema(
    names=("left_eye", "right_eye", "nose", "left_mouth", "right_mouth"),
    flip_pairs=((0, 1), (3, 4)),
    colors=((255, 0, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255)))

# COCO person keypoints (person_keypoints_*.json "categories"[0]); flip pairs and skeleton edges as CenterNet's
# coco_hp.py (flip_idx, edges), which are the COCO left/right pairs and an 18-edge skeleton.
COCO_PERSON = KeypointSchema(
    names=("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
           "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
           "right_knee", "left_ankle", "right_ankle"),
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    edges=((0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (6, 12),
           (5, 11), (11, 12), (12, 14), (14, 16), (11, 13), (13, 15)),
    colors=((255, 255, 0),) + ((255, 0, 0), (0, 0, 255)) * 8)
