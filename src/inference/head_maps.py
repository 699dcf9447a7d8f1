"""CenterNet's head maps at test time, before decoding: the sigmoid of the heatmap heads, and the flip test's merge
of the maps of the batch [image, mirrored image] (the original's detectors, facts only: ``detectors/ctdet.py``
averages ``hm`` and ``wh`` and takes ``reg`` from the unflipped image; ``detectors/multi_pose.py`` adds its joint
rules, given here as remaps by src/centernet_pose/decode.py).

The network returns raw logits; the detectors apply the sigmoid (no clamp at test time). Maps are numpy arrays
(N, C, H, W) per head name; results are (C, H, W) float32, in the order of the given heads.
"""
from __future__ import annotations

from typing import Callable, Dict, Iterable, Mapping, Optional

import numpy as np

__all__ = ["sigmoid", "single_pass_maps", "flip_merge_maps"]


def sigmoid(logits) -> np.ndarray:
    """Logistic function in float32 without overflow warnings (exp of -|x| only)."""
    x = np.asarray(logits, dtype=np.float32)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.float32)


def single_pass_maps(outputs: Mapping[str, np.ndarray], heatmaps: Iterable[str]) -> Dict[str, np.ndarray]:
    """Maps of one pass (batch of 1): the `heatmaps` heads through the sigmoid, the batch dimension dropped."""
    heatmaps = set(heatmaps)
    return {name: (sigmoid(value[0]) if name in heatmaps else value[0].astype(np.float32))
            for name, value in outputs.items()}


def flip_merge_maps(outputs: Mapping[str, np.ndarray], heatmaps: Iterable[str], unflipped: Iterable[str] = (),
                    remaps: Optional[Mapping[str, Callable[[np.ndarray], np.ndarray]]] = None
                    ) -> Dict[str, np.ndarray]:
    """Maps of the flip test from raw outputs {name: (2, C, H, W)} of the batch [image, image mirrored left-right].

    * heads in `heatmaps` go through the sigmoid first;
    * heads in `unflipped` are the unflipped image's only (the original does not average sub-cell offsets);
    * every other head is ``(map[0] + back(map[1])) / 2`` where ``back`` mirrors the width back, then applies
      ``remaps[name]`` (C, H, W) -> (C, H, W) when given: channel swaps and sign changes of a head whose channels
      have a side (pose joints); sizes and class heatmaps need none.
    Returns {name: (C, H, W) float32}, contiguous, in the order of `outputs`.
    """
    heatmaps, unflipped, remaps = set(heatmaps), set(unflipped), dict(remaps or {})
    merged = {}
    for name, value in outputs.items():
        value = sigmoid(value) if name in heatmaps else value.astype(np.float32)
        if name in unflipped:
            merged[name] = value[0]
            continue
        mirrored = value[1][:, :, ::-1]
        if name in remaps:
            mirrored = remaps[name](mirrored)
        merged[name] = (value[0] + mirrored) / 2
    return {name: np.ascontiguousarray(map_, dtype=np.float32) for name, map_ in merged.items()}
