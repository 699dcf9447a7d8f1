"""CenterNet multi-person pose training targets on the output grid, as the original (docs/centernet.md "Training data
and targets").

Input: boxes (N,4) xyxy and joints (N,J,3) [x, y, v] already in OUTPUT pixels (what
:class:`src.data.centernet_augment.CenterNetAugment` returns), pixel-index convention (integer = pixel centre).
Only the first ``max_objs`` persons are used (the original's ``num_objs = min(len(anns), max_objs)``); person
``k`` owns slot ``k`` of every per-object array, so a skipped person leaves a zero slot.

Per person (the original's rules; our code): the centre targets of every CenterNet task
(:class:`src.data.center_targets.CenterTargets`: clipped box, radius, ``wh``, ``ind``, ``reg``, the centre
Gaussian on ``hm[0]``), with these pose rules:
  * the person's radius ``r`` is shared by its centre and all its joints;
  * a person whose joints are all unlabelled (sum of v == 0) keeps its centre Gaussian (peak 1, a focal-loss
    positive) but gets ``reg_mask = 0``, i.e. no size/offset loss (the original first writes 0.9999 at the
    centre, which the Gaussian drawn afterwards overwrites with 1; xingyizhou/CenterNet issue #957 asks why);
  * joint j with v > 0 and ``0 <= x < W, 0 <= y < H``: ``hps[k, 2j:2j+2] = pt - ct_int`` (x then y) with
    ``hps_mask`` 1, ``hp_offset[k*J + j] = pt - int(pt)``, ``hp_ind[k*J + j] = int(y) * W + int(x)``,
    ``hp_mask`` 1 and a radius-``r`` Gaussian on ``hm_hp[j]`` at ``int(pt)``;
  * dense_hp (the old MindSpore zoo's default, off in the original): BEFORE the person's centre Gaussian is
    drawn, every pixel ``p`` of the ``(2r+1)^2`` window around ``ct_int`` (clipped to the map) where the person's
    centre kernel is >= the centre heatmap so far gets ``dense_hps[2j:2j+2, p] = pt - p`` (offset from that
    pixel to the joint); ``dense_hps_mask[2j] = dense_hps_mask[2j+1]`` = max-merge of the radius-``r`` kernel at
    ``ct_int``. Channels: ``2j`` = x, ``2j+1`` = y, as ``hps``;
  * then the person's centre Gaussian (max-merge, peak exactly 1).

``int()`` of a joint truncates; joints are in the map here, so it is the floor. The original also writes
``hps``/``hps_mask`` only without dense_hp; we always return them (cheap, and the loss chooses). Its ``--mse_loss`` variant draws
different (MSRA) Gaussians with an undefined radius option and crashes; it is not reproduced.
"""
import numpy as np

from src.data.center_targets import CENTER_KEYS, CenterTargets
from src.data.gaussian import draw_gaussian, gaussian_kernel

__all__ = ["TARGET_KEYS", "DENSE_TARGET_KEYS", "PoseTargets"]

# Order of the target arrays as the loss (src/centernet_pose/loss.py) takes them after the 6 head maps.
TARGET_KEYS = CENTER_KEYS + ("hps", "hps_mask", "hm_hp", "hp_offset", "hp_ind", "hp_mask")
DENSE_TARGET_KEYS = ("dense_hps", "dense_hps_mask")


def _draw_dense_offsets(offset_map, center_heatmap, col, row, joint_xy, radius):
    """Write per-pixel offsets to ``joint_xy`` into ``offset_map`` (2,H,W) on the radius window around (row, col)
    where the person's kernel is >= ``center_heatmap`` (the original's draw_dense_reg rule)."""
    kernel = gaussian_kernel(radius)
    height, width = center_heatmap.shape
    top, bottom = min(row, radius), min(height - row, radius + 1)
    left, right = min(col, radius), min(width - col, radius + 1)
    rows = np.arange(row - top, row + bottom)
    cols = np.arange(col - left, col + right)
    window_kernel = kernel[radius - top:radius + bottom, radius - left:radius + right]
    take = window_kernel >= center_heatmap[row - top:row + bottom, col - left:col + right]
    offset_x = (np.float32(joint_xy[0]) - cols.astype(np.float32))[None, :].repeat(len(rows), axis=0)
    offset_y = (np.float32(joint_xy[1]) - rows.astype(np.float32))[:, None].repeat(len(cols), axis=1)
    window = offset_map[:, row - top:row + bottom, col - left:col + right]
    window[0][take] = offset_x[take]
    window[1][take] = offset_y[take]


class PoseTargets(CenterTargets):
    """Map output-pixel boxes and joints of one image to CenterNet pose target arrays.

    Args:
        output_res: (height, width) of the output grid, or one int.
        num_joints: joints per person (17 for COCO).
        max_objs: person slots; persons beyond the first ``max_objs`` are ignored entirely (as the original).
        dense_hp: also build ``dense_hps`` / ``dense_hps_mask`` (34,H,W).
        radius: "legacy" (CenterNet's published radius, what the original trains with) or "cornernet" (the
            correct CornerNet radius, :func:`src.data.gaussian.gaussian_radius`).
        min_overlap: CornerNet IoU of the radius rule.

    ``__call__(boxes_out (N,4) xyxy, keypoints_out (N,J,3) [x, y, v])`` returns a dict (keys in the order of
    :attr:`keys`): hm (1,H,W), wh (M,2), reg (M,2), ind (M,) int32, reg_mask (M,), hps (M,2J), hps_mask (M,2J),
    hm_hp (J,H,W), hp_offset (M*J,2), hp_ind (M*J,) int32, hp_mask (M*J,) [, dense_hps (2J,H,W),
    dense_hps_mask (2J,H,W)], M = max_objs; everything else float32. Rules: module docstring.
    """

    owner = "PoseTargets"

    def __init__(self, output_res=(128, 128), num_joints=17, max_objs=32, dense_hp=False, radius="legacy",
                 min_overlap=0.7):
        super().__init__(output_res, num_classes=1, max_objs=max_objs, radius=radius, min_overlap=min_overlap)
        self.num_joints = int(num_joints)
        if self.num_joints < 1:
            raise ValueError(f"PoseTargets: num_joints must be >= 1, got {num_joints}")
        self.dense_hp = bool(dense_hp)

    @property
    def keys(self):
        """Target names in the order the loss takes them."""
        return TARGET_KEYS + (DENSE_TARGET_KEYS if self.dense_hp else ())

    def empty(self):
        """All-zero targets (an image without persons)."""
        height, width = self.output_res
        objs, joints = self.max_objs, self.num_joints
        out = super().empty()
        out.update({"hps": np.zeros((objs, 2 * joints), np.float32),
                    "hps_mask": np.zeros((objs, 2 * joints), np.float32),
                    "hm_hp": np.zeros((joints, height, width), np.float32),
                    "hp_offset": np.zeros((objs * joints, 2), np.float32), "hp_ind": np.zeros(objs * joints, np.int32),
                    "hp_mask": np.zeros(objs * joints, np.float32)})
        if self.dense_hp:
            out["dense_hps"] = np.zeros((2 * joints, height, width), np.float32)
            out["dense_hps_mask"] = np.zeros((2 * joints, height, width), np.float32)
        return out

    def __call__(self, boxes_out, keypoints_out):
        boxes, keypoints = self._validate(boxes_out, keypoints_out)
        out = self.empty()
        height, width = self.output_res
        joints = self.num_joints
        # dense offsets are written per joint as (J, 2, H, W) = the (2J, H, W) channel layout, x then y
        dense = out["dense_hps"].reshape(joints, 2, height, width) if self.dense_hp else None
        for k in range(min(len(boxes), self.max_objs)):
            placed = self.place(out, k, boxes[k])
            if placed is None:
                continue
            col, row, radius = placed.col, placed.row, placed.radius
            out["reg_mask"][k] = 1.0 if keypoints[k, :, 2].sum() != 0 else 0.0
            for j in range(joints):
                x, y, visibility = keypoints[k, j]
                if not (visibility > 0 and 0 <= x < width and 0 <= y < height):
                    continue
                joint_col, joint_row = int(x), int(y)
                out["hps"][k, 2 * j:2 * j + 2] = (x - col, y - row)
                out["hps_mask"][k, 2 * j:2 * j + 2] = 1.0
                slot = k * joints + j
                out["hp_offset"][slot] = (x - joint_col, y - joint_row)
                out["hp_ind"][slot] = joint_row * width + joint_col
                out["hp_mask"][slot] = 1.0
                if self.dense_hp:
                    # must precede this person's centre Gaussian: the rule compares with earlier persons only
                    _draw_dense_offsets(dense[j], out["hm"][0], col, row, (x, y), radius)
                    draw_gaussian(out["dense_hps_mask"][2 * j], row, col, radius)
                draw_gaussian(out["hm_hp"][j], joint_row, joint_col, radius)
            self.draw_center(out, placed)
        if self.dense_hp:
            out["dense_hps_mask"][1::2] = out["dense_hps_mask"][0::2]
        return out

    def _validate(self, boxes, keypoints):
        boxes, _ = self.validate_boxes(boxes)
        keypoints = np.asarray(keypoints, dtype=np.float32)
        if keypoints.size == 0 and len(boxes) == 0:
            keypoints = keypoints.reshape(0, self.num_joints, 3)
        if keypoints.shape != (len(boxes), self.num_joints, 3):
            raise ValueError(f"PoseTargets: keypoints must have shape ({len(boxes)}, {self.num_joints}, 3) "
                             f"[x, y, v] for {len(boxes)} boxes, got {keypoints.shape}")
        return boxes, keypoints
