"""CenterNet multi-person pose plugged into the shared machinery (see src/tasks/base.py for each member, and
src/tasks/centernet.py for what it shares with CenterNet detection: network, input, flip test in one batch,
options, training data, COCO evaluation).

What is the pose model's own: its heads (hm, wh, hps, reg, hm_hp, hp_offset, checked against num_joints and the
head switches), the keypoint schema (flip pairs, skeleton), the joint rules of the flip merge and of the decode
(`decode.flip_merge`, `decode.pose_detections`), the person-keypoint records and targets, the loss, and COCO
keypoint (OKS) evaluation.
"""
from pathlib import Path

import numpy as np

from src.data.keypoints import COCO_PERSON, KeypointSchema
from src.model_utils.cli import require
from src.model_utils.config import ConfigError
from src.tasks.centernet import CenterNetTask

__all__ = ["CenterNetPoseTask", "TASK_CLASS"]

HEAD_ORDER = ("hm", "wh", "hps", "reg", "hm_hp", "hp_offset")


class CenterNetPoseTask(CenterNetTask):
    name = "centernet_pose"
    keypoints = COCO_PERSON
    heads = (("hm", 1), ("wh", 2), ("hps", 34), ("reg", 2), ("hm_hp", 17), ("hp_offset", 2))
    loss_components = ("hm", "hp", "hm_hp", "hp_offset", "wh", "off")
    annotation_prefix = "person_keypoints"
    heatmap_heads = ("hm", "hm_hp")

    # ------------------------------------------------------------------ config-derived facts
    def head_list(self, cfg):
        """((name, channels), ...) of `cfg.heads` in the original's order, checked against the options."""
        heads = dict(cfg.heads)
        unknown = sorted(set(heads) - set(HEAD_ORDER))
        if unknown or not {"hm", "wh", "hps"} <= set(heads):
            raise ConfigError(f"--heads {heads}: expected hm, wh, hps and optionally reg, hm_hp, hp_offset")
        joints = cfg.num_joints
        expected = {"hm": 1, "wh": 2, "hps": 2 * joints, "reg": 2, "hm_hp": joints, "hp_offset": 2}
        wrong = {k: v for k, v in heads.items() if v != expected[k]}
        if wrong:
            raise ConfigError(f"--heads {heads}: channels {wrong} do not fit num_joints {joints} (expected "
                              f"{ {k: expected[k] for k in wrong} })")
        for flag, head in (("hm_hp", "hm_hp"), ("reg_offset", "reg"), ("reg_hp_offset", "hp_offset")):
            if getattr(cfg, flag) != (head in heads):
                raise ConfigError(f"--{flag} {getattr(cfg, flag)} but --heads {'has' if head in heads else 'lacks'} "
                                  f"{head!r}; set both")
        return tuple((name, heads[name]) for name in HEAD_ORDER if name in heads)

    def schema(self, cfg):
        """The keypoint schema of `cfg` (COCO names for 17 joints; flip pairs and edges from the config)."""
        joints = cfg.num_joints
        names = COCO_PERSON.names if joints == COCO_PERSON.num_points else tuple(f"joint_{j}" for j in range(joints))
        colors = COCO_PERSON.colors if joints == COCO_PERSON.num_points else None
        try:
            return KeypointSchema(names, tuple(tuple(p) for p in cfg.flip_idx), tuple(tuple(e) for e in cfg.edges),
                                  colors)
        except ValueError as err:
            raise ConfigError(f"--flip_idx / --edges: {err}") from None

    # ------------------------------------------------------------------ training
    def load_records(self, cfg):
        if cfg.mindrecord_dir:
            from src.data.mindrecord import read_mindrecord_records

            return (read_mindrecord_records(cfg.mindrecord_dir, cfg.mindrecord_prefix),
                    str(Path(cfg.mindrecord_dir) / cfg.mindrecord_prefix))
        from src.data.coco_keypoints import load_person_keypoints

        json_path = self.annotation_json(cfg, cfg.train_split)
        return (load_person_keypoints(json_path, Path(cfg.data_dir) / cfg.train_split,
                                      crowd_as_persons=cfg.crowd_as_persons), str(json_path))

    def build_augment(self, cfg, flip_pairs=None):
        return super().build_augment(cfg, self.schema(cfg).flip_pairs if flip_pairs is None else flip_pairs)

    def build_targets(self, cfg, output_res):
        from src.centernet_pose.targets import PoseTargets

        return PoseTargets(output_res, num_joints=cfg.num_joints, max_objs=cfg.max_objs, dense_hp=cfg.dense_hp)

    def build_source(self, cfg, records, augment, targets, name):
        from src.centernet_pose.data import PoseSource

        return PoseSource(records, augment, targets, seed=cfg.seed, name=name)

    def build_loss(self, cfg):
        from src.centernet_pose.loss import CenterNetPoseLoss, PoseHeadsLoss

        loss = CenterNetPoseLoss(cfg.hm_weight, cfg.wh_weight, cfg.off_weight, cfg.hp_weight, cfg.hm_hp_weight,
                                 hm_hp=cfg.hm_hp, reg_offset=cfg.reg_offset, reg_hp_offset=cfg.reg_hp_offset,
                                 dense_hp=cfg.dense_hp, mse_loss=cfg.mse_loss, reg_loss=cfg.reg_loss)
        return PoseHeadsLoss(loss, tuple(name for name, _ in self.head_list(cfg)))

    # ------------------------------------------------------------------ inference
    def pass_maps(self, named):
        from src.centernet_pose.decode import head_maps

        return head_maps(named)

    def flip_maps(self, named):
        from src.centernet_pose.decode import flip_merge

        return flip_merge(named, self.schema(self.bound_cfg).flip_order)

    def decode_maps(self, maps, meta, options):
        from src.centernet_pose.decode import pose_detections

        return pose_detections(maps, meta, K=options.top_k, score_thresh=options.score_thresh,
                               down_ratio=self.output_stride)

    def to_json(self, dets, image_name):
        """{"image", "detections": [{"bbox": [x1, y1, x2, y2], "score", "keypoints": [[x, y, joint_score] * J]}]}
        in original-image pixels, best first (joint_score: the joint-heatmap score, see decode.py)."""
        scores = dets.keypoint_scores if dets.keypoint_scores is not None else np.ones(dets.keypoints.shape[:2])
        items = [{"bbox": box.tolist(), "score": float(score),
                  "keypoints": np.concatenate([points, joint_scores[:, None]], axis=1).tolist()}
                 for box, score, points, joint_scores in zip(dets.boxes.astype(np.float64), dets.scores,
                                                             dets.keypoints.astype(np.float64),
                                                             scores.astype(np.float64))]
        return {"image": str(image_name), "detections": items}

    def draw(self, image, dets):
        from src.inference.draw import draw_detections

        return draw_detections(image, dets, self.schema(self.bound_cfg), min_keypoint_score=0.1)

    # ------------------------------------------------------------------ evaluation
    def eval_set(self, cfg, need_images=True):
        from src.evaluation.coco import CocoEvalSet
        from src.inference.draw import draw_detections

        if need_images:
            require(cfg, "data_dir", hint="the COCO folder: annotations/person_keypoints_val2017.json and val2017/")
        schema = self.schema(cfg)
        return CocoEvalSet(cfg.data_dir, cfg.run_mode, self.annotation_prefix, ("keypoints", "bbox"),
                           draw=lambda image, dets: draw_detections(image, dets, schema), visual=cfg.visual_image)


TASK_CLASS = CenterNetPoseTask
