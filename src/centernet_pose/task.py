"""CenterNet multi-person pose plugged into the shared machinery (see src/tasks/base.py for each member).

What the seam carries for this model: the heads follow from the config's options as in the original
(`head_list`); the input is BGR `(x/255 - mean)/std` placed by the original's centre/scale affine
(`preprocess.py`); the heads are raw logits, turned into maps by `decode.head_maps` (sigmoid) or, for the flip
test of [image, mirrored image] in one batch, merged by `decode.flip_merge`; `decode.pose_detections` finds the
persons; results are COCO json (`coco.py`).
"""
from pathlib import Path

import numpy as np

from src.data.keypoints import COCO_PERSON, KeypointSchema
from src.model_utils.cli import require
from src.model_utils.config import ConfigError
from src.tasks.base import Task

__all__ = ["CenterNetPoseTask", "TASK_CLASS"]


class CenterNetPoseTask(Task):
    name = "centernet_pose"
    backbone_prefix = "base."
    checkpoint_prefixes = ()
    loss_components = ("hm", "hp", "hm_hp", "hp_offset", "wh", "off")
    flip_in_batch = True
    min_keypoint_score = 0.1  # the original's joint-candidate threshold (decode.JOINT_SCORE_THRESH)

    # ------------------------------------------------------------------ facts of the config
    def check_config(self):
        cfg = self.cfg
        if cfg.reg_hp_offset and not cfg.hm_hp:
            raise ConfigError("--reg_hp_offset True needs --hm_hp True (the joint offset is read at joint-heatmap "
                              "peaks); set --reg_hp_offset False too")
        if (cfg.aug_color_jitter > 0) != (cfg.aug_lighting_std > 0):
            raise ConfigError(f"--aug_color_jitter {cfg.aug_color_jitter} with --aug_lighting_std "
                              f"{cfg.aug_lighting_std}: the original's colour augmentation is both or neither "
                              "(0.4 and 0.1, or 0 and 0)")

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

    # ------------------------------------------------------------------ network
    def build_network(self):
        from src.models.dla_seg import DLASeg

        cfg = self.cfg
        return DLASeg(self.heads, head_conv=cfg.head_conv, enable_dcn=cfg.enable_dcn, down_ratio=self.output_stride)

    def check_export(self, file_format):
        """ONNX cannot hold the deformable convs: MindSpore 2.10 does not export its DeformableOffsets op, and
        ONNX opset 11 / onnxruntime 1.19 have no deformable convolution."""
        if file_format.upper() == "ONNX" and self.cfg.enable_dcn:
            raise ConfigError("--file_format ONNX: the deformable convs (enable_dcn True) cannot be written to ONNX "
                              "(MindSpore 2.10 does not export DeformableOffsets; ONNX has no deformable conv); "
                              "use MINDIR, or --enable_dcn False for the plain-conv variant")

    # ------------------------------------------------------------------ training
    def check_train_inputs(self):
        cfg = self.cfg
        if cfg.mindrecord_dir:
            if not Path(cfg.mindrecord_dir).is_dir():
                raise FileNotFoundError(f"--mindrecord_dir {cfg.mindrecord_dir}: no such folder")
            return
        require(cfg, "data_dir", hint="a COCO folder (annotations/person_keypoints_train2017.json, train2017/) or "
                                      "--mindrecord_dir from scripts/convert_dataset_to_mindrecord.sh")
        json_path = Path(cfg.data_dir) / "annotations" / f"person_keypoints_{cfg.train_split}.json"
        if not json_path.is_file():
            raise FileNotFoundError(f"--data_dir {cfg.data_dir}: no {json_path}")
        if not (Path(cfg.data_dir) / cfg.train_split).is_dir():
            raise FileNotFoundError(f"--data_dir {cfg.data_dir}: no image folder {cfg.train_split}/")

    def training_source(self, logger):
        from src.centernet_pose.augment import PoseAugment
        from src.centernet_pose.data import PoseSource
        from src.centernet_pose.targets import PoseTargets

        cfg = self.cfg
        if cfg.mindrecord_dir:
            from src.data.mindrecord import read_mindrecord_records

            records = read_mindrecord_records(cfg.mindrecord_dir, cfg.mindrecord_prefix)
            name = str(Path(cfg.mindrecord_dir) / cfg.mindrecord_prefix)
        else:
            from src.data.coco_keypoints import load_person_keypoints

            json_path = Path(cfg.data_dir) / "annotations" / f"person_keypoints_{cfg.train_split}.json"
            records = load_person_keypoints(json_path, Path(cfg.data_dir) / cfg.train_split,
                                            crowd_as_persons=cfg.crowd_as_persons, check_images=False)
            name = str(json_path)
        height, width = cfg.train_size
        output = (height // self.output_stride, width // self.output_stride)
        augment = PoseAugment(tuple(cfg.train_size), output, rand_crop=cfg.rand_crop, scale=cfg.aug_scale,
                              shift=cfg.aug_shift, aug_rot=cfg.aug_rot, rotate=cfg.rotate,
                              flip_prob=cfg.aug_flip_prob, color_aug=cfg.aug_color_jitter > 0, mean=cfg.mean,
                              std=cfg.std,
                              flip_pairs=self.keypoints.flip_pairs)
        targets = PoseTargets(output, num_joints=self.keypoints.num_points, max_objs=cfg.max_objs,
                              dense_hp=cfg.dense_hp)
        source = PoseSource(records, augment, targets, seed=cfg.seed, name=name)
        summary = getattr(records, "summary", None)
        logger.info("training data: %d images, %d persons from %s%s", len(source), source.num_persons, name,
                    f" ({summary})" if summary is not None else "")
        return source

    def training_memory(self):
        """Fitted to train.py runs at batch 1-2, 128-256 px, with and without DCN (benchmarks/bench_memory.py --model
        pose / pose_nodcn, README "Memory"): within 0.02 GB of each; with DCN at 512x512 batch 8 it predicts 17.0 GB
        where benchmarks/bench_centernet.py measured 16.3 GB."""
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
    def pass_options(self, purpose):
        """keep_res tests at the original size (input_size None); `test_scales` are the original's
        multi_scales (more than one: merged by Soft-NMS); `soft_nms` merges by Gaussian Soft-NMS."""
        cfg = self.cfg
        scales = tuple(cfg.test_scales)
        options = {"input_size": None if cfg.keep_res else tuple(cfg.input_size), "fit_scale": 1.0,
                   "scales": scales}
        if cfg.soft_nms or len(scales) > 1:
            options["nms"] = "soft_gaussian"
        return options

    def make_input(self, image, one_pass, options):
        from src.centernet_pose.preprocess import pose_input

        cfg = self.cfg
        if one_pass.input_size is None:  # keep_res: the image at its size times the scale, padded
            return pose_input(image, scale=one_pass.scale, keep_res=True, pad=cfg.pad, mean=cfg.mean, std=cfg.std,
                              max_side=options.max_input_side)
        return pose_input(image, scale=1.0, keep_res=False, input_res=one_pass.input_size, pad=cfg.pad,
                          mean=cfg.mean, std=cfg.std)

    def head_maps(self, outputs):
        from src.centernet_pose.decode import head_maps

        return head_maps(dict(zip(self.head_names, outputs)))

    def merge_flip(self, outputs):
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
        from src.centernet_pose.coco import CocoEvalSet

        cfg = self.cfg
        if need_images:
            require(cfg, "data_dir", hint="the COCO folder: annotations/person_keypoints_val2017.json and val2017/")
        return CocoEvalSet(cfg.data_dir, cfg.run_mode, self.keypoints, cfg.visual_image)

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
