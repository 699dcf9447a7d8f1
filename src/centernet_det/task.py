"""CenterNet object detection ("ctdet", COCO's 80 classes) plugged into the shared machinery (see
src/tasks/base.py for each member, and src/tasks/centernet.py for what it shares with CenterNet pose: input, flip
test in one batch, options, training data, COCO evaluation).

What is the detection model's own: the arch choice (DLA-34 or ResNet-18 with DCN), its heads (hm per class, wh,
reg; checked against num_classes, cat_spec_wh and reg_offset), the class table (category_ids, class_names), the
flip merge (hm and wh averaged, reg unflipped), the decode (`decode.det_detections`), the merge of several test
scales (per-class Soft-NMS, then the original's best 100), the instance records and centre targets, the loss, and
COCO box evaluation over all categories.
"""
from pathlib import Path

import numpy as np

from src.model_utils.cli import require
from src.model_utils.config import ConfigError
from src.tasks.centernet import CenterNetTask

__all__ = ["CenterNetDetTask", "TASK_CLASS", "ARCHS"]

HEAD_ORDER = ("hm", "wh", "reg")
# --arch -> (network family, depth, the original's default head width: opts.py `256 if 'dla' in arch else 64`)
ARCHS = {"dla_34": ("dla", 34, 256), "resdcn_18": ("resdcn", 18, 64)}
DRAWING_MIN_SIDE = 480  # px: smaller images are drawn enlarged (readable labels that do not cover them)
# parameter names an ImageNet backbone checkpoint fills: DLA-34 under `base.`, torchvision's ResNet at the top
RESNET_BACKBONE_PREFIXES = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")


class CenterNetDetTask(CenterNetTask):
    name = "centernet_det"
    keypoints = None
    loss_components = ("hm", "wh", "off")
    annotation_prefix = "instances"
    heatmap_heads = ("hm",)

    # ------------------------------------------------------------------ config-derived facts
    @property
    def heads(self):
        """((name, channels), ...) of the bound config (they depend on num_classes and the head switches)."""
        return self.head_list(self.bound_cfg)

    @property
    def backbone_prefix(self):
        """Prefixes of the backbone's parameter names for the bound config's arch (str.startswith takes a tuple)."""
        family = ARCHS[self.bound_cfg.arch][0] if self.cfg is not None else "dla"
        return "base." if family == "dla" else RESNET_BACKBONE_PREFIXES

    def head_list(self, cfg):
        """((name, channels), ...) of `cfg.heads` in the original's order, checked against num_classes,
        cat_spec_wh, reg_offset and the class table."""
        classes = cfg.num_classes
        for key in ("category_ids", "class_names"):
            if len(getattr(cfg, key)) != classes:
                raise ConfigError(f"--{key}: {len(getattr(cfg, key))} entries for num_classes {classes}; give one "
                                  f"per class")
        if len(set(cfg.category_ids)) != classes:
            raise ConfigError(f"--category_ids {cfg.category_ids}: ids must be distinct")
        heads = dict(cfg.heads)
        expected = {"hm": classes, "wh": 2 * classes if cfg.cat_spec_wh else 2, "reg": 2}
        if not cfg.reg_offset:
            del expected["reg"]
        if heads != expected:
            raise ConfigError(f"--heads {heads}: expected {expected} for num_classes {classes}, cat_spec_wh "
                              f"{cfg.cat_spec_wh}, reg_offset {cfg.reg_offset} (set --heads to it)")
        return tuple((name, heads[name]) for name in HEAD_ORDER if name in heads)

    def head_conv(self, cfg):
        if cfg.head_conv == 0:
            raise ConfigError("--head_conv 0: expected a positive width, or -1 for the arch's default")
        return ARCHS[cfg.arch][2] if cfg.head_conv < 0 else cfg.head_conv

    # ------------------------------------------------------------------ network
    def build_network(self, cfg):
        family, depth, _ = ARCHS[cfg.arch]
        heads, head_conv = self.head_list(cfg), self.head_conv(cfg)
        if family == "dla":
            from src.models.dla_seg import DLASeg

            return DLASeg(heads, head_conv=head_conv, enable_dcn=cfg.enable_dcn, down_ratio=cfg.down_ratio)
        try:
            from src.models.resnet_dcn import ResNetDCN
        except ImportError as err:
            raise ConfigError(f"--arch {cfg.arch}: its network (src/models/resnet_dcn.py) cannot be imported "
                              f"({err})") from None
        return ResNetDCN(heads, num_layers=depth, head_conv=head_conv, enable_dcn=cfg.enable_dcn,
                         down_ratio=cfg.down_ratio)

    # ------------------------------------------------------------------ training
    def load_records(self, cfg):
        if cfg.mindrecord_dir:
            from src.data.mindrecord import read_mindrecord_records

            records = read_mindrecord_records(cfg.mindrecord_dir, cfg.mindrecord_prefix, kind=self.annotation_prefix,
                                              category_ids=cfg.category_ids)
            return records, str(Path(cfg.mindrecord_dir) / cfg.mindrecord_prefix)
        from src.data.coco_instances import load_coco_instances

        json_path = self.annotation_json(cfg, cfg.train_split)
        try:
            records = load_coco_instances(json_path, Path(cfg.data_dir) / cfg.train_split,
                                          crowd_as_objects=cfg.crowd_as_objects, categories=cfg.category_ids)
        except ValueError as err:
            if "differ from the" in str(err):
                raise ConfigError(f"{err}: set --num_classes, --heads, --category_ids and --class_names for this data "
                                  "(an override file holds them)") from None
            raise
        return records, str(json_path)

    def build_targets(self, cfg, output_res):
        from src.data.center_targets import CenterTargets

        return CenterTargets(output_res, num_classes=cfg.num_classes, max_objs=cfg.max_objs,
                             cat_spec_wh=cfg.cat_spec_wh)

    def build_source(self, cfg, records, augment, targets, name):
        from src.data.centernet_source import CenterNetSource

        return CenterNetSource(records, augment, targets, seed=cfg.seed, name=name)

    def build_loss(self, cfg):
        from src.centernet_det.loss import CenterNetDetLoss

        self.head_list(cfg)  # the loss reads the heads in this order
        return CenterNetDetLoss(cfg.hm_weight, cfg.wh_weight, cfg.off_weight, reg_offset=cfg.reg_offset,
                                cat_spec_wh=cfg.cat_spec_wh, reg_loss=cfg.reg_loss)

    # ------------------------------------------------------------------ inference
    def flip_maps(self, named):
        """The original's flip test: hm (after the sigmoid) and wh averaged with the mirrored pass flipped back
        (no channel swap: classes and sizes have no side), reg from the unflipped image."""
        from src.inference.head_maps import flip_merge_maps

        return flip_merge_maps(named, self.heatmap_heads, unflipped=("reg",))

    def decode_maps(self, maps, meta, options):
        from src.centernet_det.decode import det_detections

        return det_detections(maps, meta, K=options.top_k, score_thresh=options.score_thresh,
                              down_ratio=self.output_stride, cat_spec_wh=self.bound_cfg.cat_spec_wh)

    def merge(self, detections, options):
        """The original's ``merge_outputs``: the passes' detections per class, Soft-NMS (Gaussian) with several
        scales or --soft_nms (options.nms), then the best `top_k` over all classes (ties with the k-th score
        kept, the original's threshold rule)."""
        from src.inference.detections import keep_best, merge_detections

        merged = merge_detections(detections, nms=options.nms, nms_iou=options.nms_iou,
                                  soft_sigma=options.soft_sigma)
        return keep_best(merged, options.top_k)

    def to_json(self, dets, image_name):
        """{"image", "detections": [{"bbox": [x1, y1, x2, y2], "score", "category_id": COCO id, "label": name}]}
        in original-image pixels, best first."""
        cfg = self.bound_cfg
        items = [{"bbox": box.tolist(), "score": float(score), "category_id": int(cfg.category_ids[label]),
                  "label": str(cfg.class_names[label])}
                 for box, score, label in zip(dets.boxes.astype(np.float64), dets.scores, dets.labels)]
        return {"image": str(image_name), "detections": items}

    def draw(self, image, dets):
        """Boxes in their class's colour with "name score" labels; an image under 480 px is drawn enlarged (an
        integer factor, nearest-neighbour) so that the labels are readable without covering it."""
        from src.inference.draw import draw_detections

        return draw_detections(image, dets, class_names=self.bound_cfg.class_names, enlarge_below=DRAWING_MIN_SIDE)

    # ------------------------------------------------------------------ evaluation
    def eval_set(self, cfg, need_images=True):
        from src.evaluation.coco import CocoEvalSet

        if need_images:
            require(cfg, "data_dir", hint="the COCO folder: annotations/instances_val2017.json and val2017/")
        self.head_list(cfg)  # the class table checked before any image is run
        return CocoEvalSet(cfg.data_dir, cfg.run_mode, self.annotation_prefix, ("bbox",), draw=self.draw,
                           visual=cfg.visual_image, category_ids=cfg.category_ids)


TASK_CLASS = CenterNetDetTask
