"""CenterNet multi-person pose plugged into the shared machinery (see src/tasks/base.py for each member, and
src/tasks/centernet.py for what it shares with CenterNet detection: network, input, sigmoid, flip test in one
batch, options, training data, COCO evaluation).

What is the pose model's own: its heads (they follow from the config's options as in the original, `head_list`),
the keypoint schema (flip pairs, skeleton), the joint rules of the flip merge and of the decode
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


class CenterNetPoseTask(CenterNetTask):
    name = "centernet_pose"
    loss_components = ("hm", "hp", "hm_hp", "hp_offset", "wh", "off")
    min_keypoint_score = 0.1  # the original's joint-candidate threshold (decode.JOINT_SCORE_THRESH)
    annotation_prefix = "person_keypoints"
    object_name = "person"
    heatmap_heads = ("hm", "hm_hp")

    # ------------------------------------------------------------------ facts of the config
    def check_config(self):
        super().check_config()
        if self.cfg.reg_hp_offset and not self.cfg.hm_hp:
            raise ConfigError("--reg_hp_offset True needs --hm_hp True (the joint offset is read at joint-heatmap "
                              "peaks); set --reg_hp_offset False too")

    def head_list(self):
        """The original's heads in its output order: hm 1, wh 2, hps 2J, then reg 2 (reg_offset), hm_hp J
        (hm_hp) and hp_offset 2 (reg_hp_offset, which reads joint-heatmap peaks and so needs hm_hp)."""
        cfg = self.cfg
        joints = self.keypoints.num_points
        heads = [("hm", 1), ("wh", 2), ("hps", 2 * joints)]
        heads += [("reg", 2)] if cfg.reg_offset else []
        heads += [("hm_hp", joints)] if cfg.hm_hp else []
        heads += [("hp_offset", 2)] if cfg.reg_hp_offset else []
        return heads

    def keypoint_schema(self):
        """The joints of `num_joints` (COCO names and colours for 17), flip pairs and edges from the config."""
        cfg = self.cfg
        joints = cfg.num_joints
        coco = joints == COCO_PERSON.num_points
        names = COCO_PERSON.names if coco else tuple(f"joint_{j}" for j in range(joints))
        try:
            return KeypointSchema(names, tuple(tuple(p) for p in cfg.flip_idx), tuple(tuple(e) for e in cfg.edges),
                                  COCO_PERSON.colors if coco else None)
        except ValueError as err:
            raise ConfigError(f"--flip_idx / --edges: {err}") from None

    # ------------------------------------------------------------------ training
    def load_records(self):
        cfg = self.cfg
        if cfg.mindrecord_dir:
            from src.data.mindrecord import read_mindrecord_records

            return (read_mindrecord_records(cfg.mindrecord_dir, cfg.mindrecord_prefix),
                    str(Path(cfg.mindrecord_dir) / cfg.mindrecord_prefix))
        from src.data.coco_keypoints import load_person_keypoints

        json_path = self.annotation_json(cfg.train_split)
        return (load_person_keypoints(json_path, Path(cfg.data_dir) / cfg.train_split,
                                      crowd_as_persons=cfg.crowd_as_persons, check_images=False), str(json_path))

    def build_targets(self, output_res):
        from src.centernet_pose.targets import PoseTargets

        cfg = self.cfg
        return PoseTargets(output_res, num_joints=self.keypoints.num_points, max_objs=cfg.max_objs,
                           dense_hp=cfg.dense_hp)

    def training_memory(self):
        """Fitted to train.py runs at batch 1-2, 128-256 px, with and without DCN (benchmarks/bench_memory.py --model
        pose / pose_nodcn, docs/performance.md "Memory"): within 0.02 GB of each; with DCN at 512x512 batch 8 it
        predicts 17.0 GB where benchmarks/bench_centernet.py measured 16.3 GB."""
        from src.engine.memory import MemoryModel

        if self.cfg.enable_dcn:
            return MemoryModel(1.535, 7924, "benchmarks/bench_memory.py --part train --model pose")
        return MemoryModel(1.488, 5936, "benchmarks/bench_memory.py --part train --model pose_nodcn")

    def build_loss(self):
        """The original's loss; its terms follow the heads (a head that is off has no term)."""
        from src.centernet_pose.loss import CenterNetPoseLoss, PoseHeadsLoss

        cfg, names = self.cfg, self.head_names
        loss = CenterNetPoseLoss(cfg.hm_weight, cfg.wh_weight, cfg.off_weight, cfg.hp_weight, cfg.hm_hp_weight,
                                 hm_hp="hm_hp" in names, reg_offset="reg" in names,
                                 reg_hp_offset="hp_offset" in names, dense_hp=cfg.dense_hp, mse_loss=cfg.mse_loss,
                                 reg_loss=cfg.reg_loss)
        return PoseHeadsLoss(loss, names)

    # ------------------------------------------------------------------ inference
    def merge_flip(self, outputs):
        """The original's flip test with its joint rules (decode.flip_merge)."""
        from src.centernet_pose.decode import flip_merge

        return flip_merge(dict(zip(self.head_names, outputs)), self.keypoints.flip_order)

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

    # ------------------------------------------------------------------ evaluation
    def eval_set(self, need_images=True):
        from src.evaluation.coco import CocoEvalSet

        cfg = self.cfg
        if need_images:
            require(cfg, "data_dir", hint="the COCO folder: annotations/person_keypoints_val2017.json and val2017/")
        return CocoEvalSet(cfg.data_dir, cfg.run_mode, self.annotation_prefix, ("keypoints", "bbox"), draw=self.draw,
                           visual=cfg.visual_image)

    def headline_aps(self, metrics):
        """COCO's keypoint AP (OKS 0.50:0.95) and person box AP, in the original's table order."""
        return {"keypoints AP": float(metrics["keypoints"]["AP"]), "bbox AP": float(metrics["bbox"]["AP"])}

    # ------------------------------------------------------------------ data
    def synthetic_dataset(self, folder, num_train, num_val, image_size, seed=0):
        """src/data/synthetic_pose.py: the COCO 2017 person-keypoint layout (17 COCO joints) read by `data_dir`."""
        from src.data.synthetic_pose import generate

        if self.keypoints.num_points != COCO_PERSON.num_points:
            raise ConfigError(f"--num_joints {self.keypoints.num_points}: the synthetic persons carry the "
                              f"{COCO_PERSON.num_points} COCO joints")
        generate(str(folder), num_train, num_val, seed, image_size=image_size, progress=False)
        return {"data_dir": str(folder), "mindrecord_dir": "", "train_split": "train2017", "run_mode": "val"}


TASK_CLASS = CenterNetPoseTask
