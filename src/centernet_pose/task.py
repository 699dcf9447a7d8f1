"""CenterNet multi-person pose plugged into the shared machinery (see src/tasks/base.py for each member).

Differences from CenterFace that the seam carries: the input is BGR `(x/255 - mean)/std` placed by the
original's centre/scale affine (`preprocess.py`); the flip test runs [image, mirrored] in one batch and merges
the maps (`flip_in_batch`, `decode.flip_merge`); the heads are raw logits decoded by `decode.pose_detections`;
results are COCO json (`coco.py`).
"""
from pathlib import Path

import numpy as np

from src.data.keypoints import COCO_PERSON, KeypointSchema
from src.model_utils.cli import require
from src.model_utils.config import ConfigError
from src.tasks.base import Task

__all__ = ["CenterNetPoseTask", "TASK_CLASS"]

HEAD_ORDER = ("hm", "wh", "hps", "reg", "hm_hp", "hp_offset")


class CenterNetPoseTask(Task):
    name = "centernet_pose"
    keypoints = COCO_PERSON
    heads = (("hm", 1), ("wh", 2), ("hps", 34), ("reg", 2), ("hm_hp", 17), ("hp_offset", 2))
    output_stride = 4
    backbone_prefix = "base."
    checkpoint_prefixes = ()
    loss_components = ("hm", "hp", "hm_hp", "hp_offset", "wh", "off")
    flip_in_batch = True

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

    # ------------------------------------------------------------------ network
    def build_network(self, cfg):
        from src.models.dla_seg import DLASeg

        return DLASeg(self.head_list(cfg), head_conv=cfg.head_conv, enable_dcn=cfg.enable_dcn,
                             down_ratio=cfg.down_ratio)

    def check_export(self, cfg, file_format):
        """ONNX cannot hold the deformable convs: MindSpore 2.10 does not export its DeformableOffsets op, and
        ONNX opset 11 / onnxruntime 1.19 have no deformable convolution."""
        if file_format.upper() == "ONNX" and cfg.enable_dcn:
            raise ConfigError("--file_format ONNX: the deformable convs (enable_dcn True) cannot be written to ONNX "
                              "(MindSpore 2.10 does not export DeformableOffsets; ONNX has no deformable conv); "
                              "use MINDIR, or --enable_dcn False for the plain-conv variant")

    # ------------------------------------------------------------------ training
    def check_train_inputs(self, cfg):
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

    def training_source(self, cfg, logger):
        from src.centernet_pose.augment import PoseAugment
        from src.centernet_pose.data import PoseSource
        from src.centernet_pose.targets import PoseTargets

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
        output = (height // cfg.down_ratio, width // cfg.down_ratio)
        augment = PoseAugment(tuple(cfg.train_size), output, rand_crop=cfg.rand_crop, scale=cfg.aug_scale,
                              shift=cfg.aug_shift, aug_rot=cfg.aug_rot, rotate=cfg.rotate,
                              flip_prob=cfg.aug_flip_prob, color_aug=cfg.color_aug, mean=cfg.mean, std=cfg.std,
                              flip_pairs=self.schema(cfg).flip_pairs)
        targets = PoseTargets(output, num_joints=cfg.num_joints, max_objs=cfg.max_objs, dense_hp=cfg.dense_hp)
        source = PoseSource(records, augment, targets, seed=cfg.seed, name=name)
        summary = getattr(records, "summary", None)
        logger.info("training data: %d images, %d persons from %s%s", len(source), source.num_persons, name,
                    f" ({summary})" if summary is not None else "")
        return source

    def training_memory(self, cfg):
        """Fitted to train.py runs at batch 1-2, 128-256 px, with and without DCN (benchmarks/bench_memory.py --model
        pose / pose_nodcn, README "Memory"): within 0.02 GB of each; with DCN at 512x512 batch 8 it predicts 17.0 GB
        where benchmarks/bench_centernet.py measured 16.3 GB."""
        from src.engine.memory import MemoryModel

        if cfg.enable_dcn:
            return MemoryModel(1.535, 7924, "benchmarks/bench_memory.py --part train --model pose")
        return MemoryModel(1.488, 5936, "benchmarks/bench_memory.py --part train --model pose_nodcn")

    def build_loss(self, cfg):
        from src.centernet_pose.loss import CenterNetPoseLoss, PoseHeadsLoss

        loss = CenterNetPoseLoss(cfg.hm_weight, cfg.wh_weight, cfg.off_weight, cfg.hp_weight, cfg.hm_hp_weight,
                                 hm_hp=cfg.hm_hp, reg_offset=cfg.reg_offset, reg_hp_offset=cfg.reg_hp_offset,
                                 dense_hp=cfg.dense_hp, mse_loss=cfg.mse_loss, reg_loss=cfg.reg_loss)
        return PoseHeadsLoss(loss, tuple(name for name, _ in self.head_list(cfg)))

    # ------------------------------------------------------------------ inference
    def inference_options(self, cfg, purpose):
        """keep_res tests at the original size (input_size None); `test_scales` are the original's
        multi_scales (more than one: merged by Soft-NMS); `soft_nms` merges by Gaussian Soft-NMS."""
        from src.inference.passes import InferenceOptions

        scales = tuple(cfg.test_scales)
        nms = "soft_gaussian" if cfg.soft_nms or len(scales) > 1 else cfg.nms
        return InferenceOptions(input_size=None if cfg.keep_res else tuple(cfg.input_size), fit_scale=1.0,
                                scales=scales, flip=cfg.flip_test, score_thresh=cfg.score_thresh, top_k=cfg.top_k,
                                nms=nms, nms_iou=cfg.nms_iou, soft_sigma=cfg.soft_sigma,
                                max_input_side=cfg.max_input_side or None)

    def make_input(self, image, one_pass, options):
        from src.centernet_pose.preprocess import pose_input

        cfg = self.bound_cfg
        if one_pass.input_size is None:  # keep_res: the image at its size times the scale, padded
            return pose_input(image, scale=one_pass.scale, keep_res=True, pad=cfg.pad, mean=cfg.mean, std=cfg.std,
                              max_side=options.max_input_side)
        return pose_input(image, scale=1.0, keep_res=False, input_res=one_pass.input_size, pad=cfg.pad,
                          mean=cfg.mean, std=cfg.std)

    def decode(self, heads, meta, options):
        from src.centernet_pose.decode import head_maps, pose_detections

        maps = head_maps({name: h[None] for (name, _), h in zip(self.head_list(self.bound_cfg), heads)})
        return pose_detections(maps, meta, K=options.top_k, score_thresh=options.score_thresh,
                               down_ratio=self.output_stride)

    def run_pass(self, forward, image, one_pass, options):
        """One scale: the image (and, for the flip test, its mirror in the same batch) through the network,
        the maps merged as the original (`flip_merge`), decoded to original pixels."""
        from src.centernet_pose.decode import flip_merge, head_maps, pose_detections
        from src.centernet_pose.preprocess import flip_batch

        chw, meta = self.make_input(image, one_pass, options)
        outputs = forward(flip_batch(chw) if one_pass.flip else chw[None])
        named = {name: out for (name, _), out in zip(self.head_list(self.bound_cfg), outputs)}
        maps = flip_merge(named, self.schema(self.bound_cfg).flip_order) if one_pass.flip else head_maps(named)
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
        from src.centernet_pose.coco import CocoEvalSet

        if need_images:
            require(cfg, "data_dir", hint="the COCO folder: annotations/person_keypoints_val2017.json and val2017/")
        return CocoEvalSet(cfg.data_dir, cfg.run_mode, self.schema(cfg), cfg.visual_image)


TASK_CLASS = CenterNetPoseTask
