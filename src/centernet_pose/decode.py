"""Decoding the CenterNet pose heads of one image into persons (box, score, 17 joints), in numpy.

Follows the original xingyizhou/CenterNet test path (docs/centernet.md "Test path": ``detectors/multi_pose.py``,
``models/decode.py multi_pose_decode``, ``utils/post_process.py``); facts carried over, code our own.

Heads (output stride 4, channel layouts of docs/centernet.md "Network"): ``hm (1,H,W)`` person centres, ``wh (2,H,W) =
(w, h)`` in output cells, ``hps (2J,H,W)``: channel ``2j = dx_j``, ``2j+1 = dy_j`` of joint j relative to the
INTEGER centre cell, ``reg (2,H,W) = (dx, dy)`` sub-cell centre offset, ``hm_hp (J,H,W)`` joint heatmaps,
``hp_offset (2,H,W) = (dx, dy)`` sub-cell joint offset shared by all joints. The network returns hm and hm_hp
as logits; the detector applies the sigmoid (no clamp at test time).

Pipeline:

1. :func:`head_maps` (one pass) or :func:`flip_merge` (flip test: the batch was [image, mirrored image]):
   sigmoid on hm/hm_hp, mirrored pass flipped back and averaged.
2. :func:`multi_pose_decode`: centres = 3x3 peaks of hm, top K; joints regressed from the centre; each joint
   optionally snapped to a joint-heatmap peak (rule in that function's docstring).
3. :func:`pose_detections`: output cells -> original pixels through the InputMeta of
   :mod:`src.inference.centernet_input`, as :class:`~src.inference.detections.Detections`.

The task (``src/centernet_pose/task.py``) runs these per test-time pass; the machinery merges the passes of
several test scales with one Gaussian Soft-NMS (sigma 0.5, scores below 0.001 dropped), as the original's
``merge_outputs`` (``soft_nms_39(Nt=0.5, method=2)``), and otherwise only sorts (``--nms`` none; the author:
"We didn't use soft nms in CenterNet"). Deliberate differences from ``soft_nms_39``: IoU in continuous
coordinates (no +1 pixel, as everywhere in src/inference/nms.py), and persons whose score falls below 0.001 are
DROPPED. The original ignores the keep list it returns, so those stay in its results, and its swap-to-the-end
copies the box and score of another detection while swapping only the joints, pairing dropped joints with a
kept person's box and score (a bug not reproduced).
"""
from __future__ import annotations

from typing import Dict, Mapping, NamedTuple, Optional, Sequence

import numpy as np

from src.inference.detections import Detections
from src.inference.head_maps import flip_merge_maps, sigmoid, single_pass_maps
from src.inference.peaks import top_k_peaks
from src.inference.preprocess import InputMeta, invert_points

__all__ = ["HEAD_NAMES", "SNAP_RULES", "PoseDecoding", "sigmoid", "head_maps", "flip_merge", "multi_pose_decode",
           "pose_detections"]

HEAD_NAMES = ("hm", "wh", "hps", "reg", "hm_hp", "hp_offset")  # the network's output order
HEATMAP_HEADS = ("hm", "hm_hp")  # logits: the sigmoid is applied before decoding
REQUIRED_HEADS = ("hm", "wh", "hps")  # reg, hm_hp, hp_offset can be switched off in the original's config
# decode.py: joint candidates need a heatmap score > 0.1. The original compares float32 tensors, so 0.1 is
# float32(0.1) there (a score of exactly float32(0.1) is rejected); the float32 constant reproduces that.
JOINT_SCORE_THRESH = np.float32(0.1)
SNAP_DISTANCE_RATIO = 0.3  # decode.py: snap only within 0.3 * max(box h, box w)
FAR_AWAY = -10000.0  # decode.py: coordinates given to rejected candidates
SNAP_RULES = ("original", "in_box")


class PoseDecoding(NamedTuple):
    """multi_pose_decode output in output-grid coordinates (float64), best score first, N = min(K, H*W).

    boxes (N, 4) [x1, y1, x2, y2]; scores (N,); keypoints (N, J, 2) (x, y); keypoint_scores (N, J) and
    snapped (N, J) bool, both None without an hm_hp head.
    """

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray
    keypoint_scores: Optional[np.ndarray]
    snapped: Optional[np.ndarray]


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "asnumpy"):  # mindspore.Tensor
        value = value.asnumpy()
    return np.asarray(value)


def _as_head_dict(outputs) -> Dict[str, np.ndarray]:
    """{name: array} from a mapping of head names or a 6-sequence in HEAD_NAMES order (the network's tuple)."""
    if isinstance(outputs, Mapping):
        unknown = sorted(set(outputs) - set(HEAD_NAMES))
        if unknown:
            raise ValueError(f"head outputs: unknown head(s) {unknown}; expected names from {HEAD_NAMES}")
        heads = {name: outputs[name] for name in HEAD_NAMES if outputs.get(name) is not None}
    elif isinstance(outputs, (tuple, list)) and len(outputs) == len(HEAD_NAMES):
        heads = {name: value for name, value in zip(HEAD_NAMES, outputs) if value is not None}
    else:
        raise ValueError(f"head outputs: expected a dict of heads or a {len(HEAD_NAMES)}-tuple in the order "
                         f"{HEAD_NAMES}, got {type(outputs).__name__}")
    missing = [name for name in REQUIRED_HEADS if name not in heads]
    if missing:
        raise ValueError(f"head outputs: missing required head(s) {missing}")
    return {name: _to_numpy(value) for name, value in heads.items()}


def _check_batch(heads: Dict[str, np.ndarray], batch: int, caller: str) -> None:
    for name, value in heads.items():
        if value.ndim != 4 or value.shape[0] != batch:
            raise ValueError(f"{caller}: head {name!r} must have shape ({batch}, C, H, W), got {value.shape}")
    sizes = {value.shape[2:] for value in heads.values()}
    if len(sizes) != 1:
        raise ValueError(f"{caller}: heads disagree in spatial size: "
                         f"{ {name: value.shape for name, value in heads.items()} }")


def head_maps(outputs) -> Dict[str, np.ndarray]:
    """Maps for decoding from one pass (batch of 1): hm and hm_hp through the sigmoid, batch dim dropped.

    outputs: {name: (1, C, H, W)} raw network maps (or the network's 6-tuple in HEAD_NAMES order).
    """
    heads = _as_head_dict(outputs)
    _check_batch(heads, 1, "head_maps")
    return single_pass_maps(heads, HEATMAP_HEADS)


def flip_merge(outputs, flip_order: Sequence[int]) -> Dict[str, np.ndarray]:
    """Maps for decoding from the flip test, exactly as the original's ``MultiPoseDetector.process``.

    outputs: {name: (2, C, H, W)} raw maps of the batch [image, image mirrored left-right] (or the network's
    6-tuple). flip_order: order[i] = the joint whose mirror image is joint i (``COCO_PERSON.flip_order``).

    * hm, hm_hp: sigmoid first, then ``(map[0] + back(map[1])) / 2``; hm ``back`` = mirror W; hm_hp ``back`` =
      mirror W and swap left/right channels (the original's ``flip_lr``).
    * wh: ``(wh[0] + mirror_W(wh[1])) / 2`` (sizes do not change sign).
    * hps: ``back`` = mirror W, view (J, 2, H, W), negate dx, swap left/right joints (``flip_lr_off``).
    * reg, hp_offset: the unflipped image's only (the original does not average sub-cell offsets).
    Returns {name: (C, H, W) float32}.
    """
    heads = _as_head_dict(outputs)
    _check_batch(heads, 2, "flip_merge")
    order = [int(i) for i in flip_order]
    num_joints = len(order)
    if sorted(order) != list(range(num_joints)):
        raise ValueError(f"flip_merge: flip_order must be a permutation of 0..{num_joints - 1}, got {flip_order}")
    if heads["hps"].shape[1] != 2 * num_joints:
        raise ValueError(f"flip_merge: hps has {heads['hps'].shape[1]} channels, flip_order implies "
                         f"{2 * num_joints}")
    if "hm_hp" in heads and heads["hm_hp"].shape[1] != num_joints:
        raise ValueError(f"flip_merge: hm_hp has {heads['hm_hp'].shape[1]} channels, flip_order implies "
                         f"{num_joints}")

    def joint_offsets_back(mirrored):  # (2J, H, W): view (J, 2, H, W), negate dx, swap left/right joints
        height, width = mirrored.shape[1:]
        joints = mirrored.reshape(num_joints, 2, height, width).copy()
        joints[:, 0] *= -1  # dx changes sign under the mirror, dy does not
        return joints[order].reshape(2 * num_joints, height, width)

    return flip_merge_maps(heads, HEATMAP_HEADS, unflipped=("reg", "hp_offset"),
                           remaps={"hps": joint_offsets_back, "hm_hp": lambda mirrored: mirrored[order]})


def _squeeze(value, channels: Optional[int], name: str) -> np.ndarray:
    value = _to_numpy(value)
    if value.ndim == 4 and value.shape[0] == 1:
        value = value[0]
    if value.ndim != 3 or (channels is not None and value.shape[0] != channels):
        want = "C" if channels is None else channels
        raise ValueError(f"multi_pose_decode: {name} must have shape ({want}, H, W) or (1, {want}, H, W), "
                         f"got {value.shape}")
    return value


def multi_pose_decode(hm, wh, hps, reg=None, hm_hp=None, hp_offset=None, K: int = 100,
                      snap: str = "original") -> PoseDecoding:
    """Persons of ONE image from its maps (after sigmoid; see head_maps / flip_merge), as the original.

    * Centres: 3x3 max-pool peaks of hm (a cell is a peak if it equals its neighbourhood maximum, so every cell
      of a plateau is one), the K best (N = min(K, H*W)); when fewer than N cells are positive peaks the rest
      are 0-score cells, as the original's topk on the suppressed map.
    * Joints: ``(col + hps[2j], row + hps[2j+1])`` at the integer centre cell.
    * Box: ``(col + reg_x, row + reg_y) -+ wh / 2``. Without a reg head the original uses ``col + 0.5,
      row + 0.5``, and so do we (the joints always use the integer cell).
    * Snapping (hm_hp given): per joint the K best 3x3 peaks of hm_hp[j] are candidates at
      ``(col + hp_offset_x, row + hp_offset_y)`` (``+ 0.5`` without hp_offset). Candidates with score <= 0.1
      get score -1 and coordinates -10000. ``snap="original"`` (the default, the published model's rule):
      each regressed joint takes its NEAREST candidate (ties: the first in top-K order) unless that candidate
      is outside the box (strictly left/right/above/below), OR its score < 0.1, OR its distance
      > 0.3 * max(box h, box w); then the regressed joint stays. The nearest candidate is chosen before the
      box test, so a nearer candidate outside the box blocks a farther one inside it; the paper's text
      ("considering only joint detections within the bounding box", Zhou et al. 2019, §4.2) reads as
      ``snap="in_box"``: the nearest candidate among those inside the box with score >= 0.1, still within the
      0.3 distance. (xingyizhou/CenterNet issue #452 proposes AND instead of OR; "outside left AND outside
      right" can never hold, so that would snap every joint and is not offered.)
    * Joint score (our addition; the original has none): the snapped candidate's hm_hp score, else hm_hp[j]
      at the regressed joint's cell (floor of x, y, clipped into the map).
    """
    if snap not in SNAP_RULES:
        raise ValueError(f"multi_pose_decode: snap must be one of {SNAP_RULES}, got {snap!r}")
    if int(K) < 1:
        raise ValueError(f"multi_pose_decode: K must be a positive integer, got {K}")
    hm = _squeeze(hm, 1, "hm")[0].astype(np.float64)
    wh = _squeeze(wh, 2, "wh").astype(np.float64)
    hps = _squeeze(hps, None, "hps").astype(np.float64)
    if hps.shape[0] % 2 or hps.shape[0] == 0:
        raise ValueError(f"multi_pose_decode: hps must have 2 * num_joints channels, got {hps.shape[0]}")
    num_joints = hps.shape[0] // 2
    maps = {"wh": wh, "hps": hps}
    if reg is not None:
        maps["reg"] = _squeeze(reg, 2, "reg").astype(np.float64)
    if hm_hp is not None:
        maps["hm_hp"] = _squeeze(hm_hp, num_joints, "hm_hp").astype(np.float64)
        if hp_offset is not None:
            maps["hp_offset"] = _squeeze(hp_offset, 2, "hp_offset").astype(np.float64)
    for name, value in maps.items():
        if value.shape[1:] != hm.shape:
            raise ValueError(f"multi_pose_decode: {name} is {value.shape[1:]} spatially, hm is {hm.shape}")
    height, width = hm.shape

    _, index, scores = top_k_peaks(hm[None], int(K))
    rows, cols = np.divmod(index, width)
    joints = hps[:, rows, cols].T.reshape(-1, num_joints, 2) + np.stack([cols, rows], -1)[:, None, :]
    if "reg" in maps:
        cx, cy = cols + maps["reg"][0, rows, cols], rows + maps["reg"][1, rows, cols]
    else:
        cx, cy = cols + 0.5, rows + 0.5
    half_w, half_h = wh[0, rows, cols] / 2, wh[1, rows, cols] / 2
    boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
    if "hm_hp" not in maps:
        return PoseDecoding(boxes, scores.astype(np.float64), joints, None, None)

    joints, joint_scores, snapped = _snap_joints(joints, boxes, maps["hm_hp"], maps.get("hp_offset"), int(K),
                                                 snap)
    return PoseDecoding(boxes, scores.astype(np.float64), joints, joint_scores, snapped)


def _joint_candidates(hm_hp: np.ndarray, hp_offset: Optional[np.ndarray], k: int):
    """Per joint the k best hm_hp peaks: positions (J, k, 2) and scores (J, k), rejected ones at -10000 / -1."""
    num_joints, height, width = hm_hp.shape
    k = min(k, height * width)
    positions = np.empty((num_joints, k, 2))
    scores = np.empty((num_joints, k))
    for j in range(num_joints):
        _, index, scores[j] = top_k_peaks(hm_hp[j:j + 1], k)
        rows, cols = np.divmod(index, width)
        if hp_offset is not None:
            positions[j] = np.stack([cols + hp_offset[0, rows, cols], rows + hp_offset[1, rows, cols]], -1)
        else:
            positions[j] = np.stack([cols + 0.5, rows + 0.5], -1)
    accepted = scores > JOINT_SCORE_THRESH
    scores = np.where(accepted, scores, -1.0)
    positions = np.where(accepted[..., None], positions, FAR_AWAY)
    return positions, scores


def _snap_joints(joints, boxes, hm_hp, hp_offset, k, snap):
    """Joints (N, J, 2) after snapping, their scores (N, J) and the snapped mask (N, J); see multi_pose_decode."""
    positions, cand_scores = _joint_candidates(hm_hp, hp_offset, k)  # (J, k, 2), (J, k)
    dx = joints[:, :, None, 0] - positions[None, :, :, 0]  # (N, J, k); x and y apart: summing a trailing
    dy = joints[:, :, None, 1] - positions[None, :, :, 1]  # axis of 2 is slow in numpy
    distance = np.sqrt(dx * dx + dy * dy)
    left, top, right, bottom = (boxes[:, i, None, None] for i in range(4))  # (N, 1, 1)
    cand_x, cand_y = positions[None, :, :, 0], positions[None, :, :, 1]  # (1, J, k)
    inside = (cand_x >= left) & (cand_x <= right) & (cand_y >= top) & (cand_y <= bottom)  # (N, J, k)
    reach = SNAP_DISTANCE_RATIO * np.maximum(bottom - top, right - left)[..., 0]  # (N, 1)
    if snap == "in_box":
        eligible = inside & (cand_scores[None] >= JOINT_SCORE_THRESH)
        distance = np.where(eligible, distance, np.inf)
    nearest = np.argmin(distance, axis=2)  # first of equal distances
    nearest_distance = np.take_along_axis(distance, nearest[..., None], 2)[..., 0]  # (N, J)
    joint_ids = np.arange(joints.shape[1])[None, :]
    chosen = positions[joint_ids, nearest]  # (N, J, 2)
    chosen_score = cand_scores[joint_ids, nearest]
    chosen_inside = np.take_along_axis(inside, nearest[..., None], 2)[..., 0]
    keep_regressed = ~chosen_inside | (chosen_score < JOINT_SCORE_THRESH) | (nearest_distance > reach)
    snapped = ~keep_regressed
    out_joints = np.where(snapped[..., None], chosen, joints)

    height, width = hm_hp.shape[1:]
    cell_x = np.clip(np.floor(joints[..., 0]), 0, width - 1).astype(np.int64)
    cell_y = np.clip(np.floor(joints[..., 1]), 0, height - 1).astype(np.int64)
    regressed_score = hm_hp[joint_ids, cell_y, cell_x]
    joint_scores = np.where(snapped, chosen_score, regressed_score)
    return out_joints, joint_scores, snapped


def pose_detections(maps: Mapping[str, np.ndarray], meta: InputMeta, K: int = 100, score_thresh: float = 0.0,
                    down_ratio: int = 4, snap: str = "original") -> Detections:
    """Persons of one image in ORIGINAL-image pixels, best score first.

    maps: from head_maps / flip_merge. meta: from :func:`src.inference.centernet_input.centernet_input` (its
    input size must be the maps' size times down_ratio). Box corners and joints are multiplied by
    down_ratio and mapped through the inverse of meta.affine; boxes through their two corners, as the
    original's transform_preds (no clipping to the image, as the original). Detections with score >=
    score_thresh are kept (0 keeps all K, which the original writes to its COCO results).
    keypoint_scores: see multi_pose_decode (None without an hm_hp head).
    """
    if int(down_ratio) < 1:
        raise ValueError(f"pose_detections: down_ratio must be a positive integer, got {down_ratio}")
    if "hm" not in maps:
        raise ValueError("pose_detections: maps have no 'hm' head")
    hm = _squeeze(maps["hm"], 1, "hm")
    map_hw = tuple(int(v) * int(down_ratio) for v in hm.shape[1:])
    if map_hw != tuple(meta.input_hw):
        raise ValueError(f"pose_detections: maps of {hm.shape[1:]} x down_ratio {down_ratio} = {map_hw} do not "
                         f"match the input size {tuple(meta.input_hw)} of meta")
    unknown = sorted(set(maps) - set(HEAD_NAMES))
    if unknown:
        raise ValueError(f"pose_detections: unknown head(s) {unknown}; expected names from {HEAD_NAMES}")
    decoded = multi_pose_decode(K=K, snap=snap, **maps)
    corners = invert_points(decoded.boxes.reshape(-1, 2, 2) * down_ratio, meta)
    # A negative predicted size (an untrained or diverged network) would give x2 < x1; the original writes such
    # boxes as they are. Ordering the corners changes nothing for w, h >= 0 and keeps every box valid.
    corners = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
    joints = invert_points(decoded.keypoints * down_ratio, meta)
    dets = Detections(corners, decoded.scores, joints, decoded.keypoint_scores)
    return dets.select(dets.scores >= score_thresh).sorted()

