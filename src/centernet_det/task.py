"""CenterNet object detection ("ctdet", COCO's 80 classes) plugged into the shared machinery (see src/tasks/base.py
for each member, and src/tasks/centernet.py for what it shares with CenterNet pose: network, input, sigmoid, flip
test in one batch, options, training data, COCO evaluation).

What is the detection model's own: the arch choice (`arch`: DLA-34 or a ResNet with DCN up-sampling,
src/models/centernet_arch.py), its heads (hm per class, wh, reg: from num_classes, cat_spec_wh and reg_offset), the
class table (category_ids, class_names), the flip merge (hm and wh averaged, reg unflipped), the decode
(`decode.det_detections`), the merge of the passes (per-class NMS, then the original's best 100), the instance
records and centre targets, the loss, and COCO box evaluation over all categories.
"""
from pathlib import Path

import numpy as np

from src.model_utils.cli import require
from src.model_utils.config import ConfigError
from src.tasks.centernet import CenterNetTask

__all__ = ["CenterNetDetTask", "TASK_CLASS"]

DRAWING_MIN_SIDE = 480  # px: smaller images are drawn enlarged (readable labels that do not cover them)


class CenterNetDetTask(CenterNetTask):
    name = "centernet_det"
    loss_components = ("hm", "wh", "off")
    annotation_prefix = "instances"

    # ------------------------------------------------------------------ facts of the config
    def check_config(self):
        super().check_config()
        cfg = self.cfg
        for key in ("category_ids", "class_names"):
            if len(getattr(cfg, key)) != cfg.num_classes:
                raise ConfigError(f"--{key}: {len(getattr(cfg, key))} entries for num_classes {cfg.num_classes}; "
                                  "give one per class")
        if len(set(cfg.category_ids)) != cfg.num_classes:
            raise ConfigError(f"--category_ids {cfg.category_ids}: ids must be distinct")

    def network_arch(self):
        return self.cfg.arch

    def head_list(self):
        """The original's heads in its output order: hm num_classes, wh 2 (2 x num_classes with cat_spec_wh), then
        reg 2 (reg_offset)."""
        cfg = self.cfg
        heads = [("hm", cfg.num_classes), ("wh", 2 * cfg.num_classes if cfg.cat_spec_wh else 2)]
        return heads + ([("reg", 2)] if cfg.reg_offset else [])

    # ------------------------------------------------------------------ training
    def load_records(self):
        cfg = self.cfg
        if cfg.mindrecord_dir:
            from src.data.mindrecord import read_mindrecord_records

            records = read_mindrecord_records(cfg.mindrecord_dir, cfg.mindrecord_prefix, kind=self.annotation_prefix,
                                              category_ids=cfg.category_ids)
            return records, str(Path(cfg.mindrecord_dir) / cfg.mindrecord_prefix)
        from src.data.coco_instances import load_coco_instances

        json_path = self.annotation_json(cfg.train_split)
        try:
            records = load_coco_instances(json_path, Path(cfg.data_dir) / cfg.train_split, check_images=False,
                                          crowd_as_objects=cfg.crowd_as_objects, categories=cfg.category_ids)
        except ValueError as err:
            if "differ from the" in str(err):
                raise ConfigError(f"{err}: set --num_classes, --category_ids and --class_names for this data (an "
                                  "override file holds them)") from None
            raise
        return records, str(json_path)

    def build_targets(self, output_res):
        from src.data.center_targets import CenterTargets

        cfg = self.cfg
        return CenterTargets(output_res, num_classes=cfg.num_classes, max_objs=cfg.max_objs,
                             cat_spec_wh=cfg.cat_spec_wh)

    def training_memory(self):
        """Fitted to train.py runs of 3 steps at batch 1-2, 128-256 px on synthetic objects (benchmarks/bench_memory.py
        --part train --model ctdet / ctdet_nodcn / ctdet_resdcn18 / ctdet_resdcn18_nodcn, docs/performance.md
        "Memory"): each within 0.02 GB of its four points. Another ResNet depth is not estimated (None)."""
        from src.engine.memory import MemoryModel

        source = "benchmarks/bench_memory.py --part train --model "
        lines = {("dla_34", True): MemoryModel(1.386, 7292, source + "ctdet"),
                 ("dla_34", False): MemoryModel(1.333, 5358, source + "ctdet_nodcn"),
                 ("resdcn_18", True): MemoryModel(1.028, 2015, source + "ctdet_resdcn18"),
                 ("resdcn_18", False): MemoryModel(1.017, 1814, source + "ctdet_resdcn18_nodcn")}
        return lines.get((self.arch, bool(self.cfg.enable_dcn)))

    def build_loss(self):
        """The original's CtdetLoss over the heads in order (hm, wh[, reg]) and the targets of build_targets."""
        from src.centernet_det.loss import CenterNetDetLoss

        cfg = self.cfg
        return CenterNetDetLoss(cfg.hm_weight, cfg.wh_weight, cfg.off_weight, reg_offset="reg" in self.head_names,
                                cat_spec_wh=cfg.cat_spec_wh, reg_loss=cfg.reg_loss)

    # ------------------------------------------------------------------ inference
    def merge_flip(self, outputs):
        """The original's flip test: hm (after the sigmoid) and wh averaged with the mirrored pass flipped back
        (no channel swap: classes and sizes have no side), reg from the unflipped image."""
        from src.inference.head_maps import flip_merge_maps

        return flip_merge_maps(dict(zip(self.head_names, outputs)), self.heatmap_heads, unflipped=("reg",))

    def decode_maps(self, maps, meta, options):
        from src.centernet_det.decode import det_detections

        return det_detections(maps, meta, K=options.top_k, score_thresh=options.score_thresh,
                              down_ratio=self.output_stride, cat_spec_wh=self.cfg.cat_spec_wh)

    def merge(self, detections, options):
        """The original's ``merge_outputs``: the passes' detections per class, Soft-NMS (Gaussian) with several
        scales or --soft_nms (options.nms), then the best `top_k` over all classes (ties with the k-th score
        kept, the original's threshold rule)."""
        from src.inference.detections import keep_best, merge_detections

        merged = merge_detections(detections, nms=options.nms, nms_iou=options.nms_iou,
                                  soft_sigma=options.soft_sigma)
        return keep_best(merged, options.top_k)

    # ------------------------------------------------------------------ results
    def to_json(self, dets, image_name):
        """{"image", "detections": [{"bbox": [x1, y1, x2, y2], "score", "category_id": COCO id, "label": name}]}
        in original-image pixels, best first."""
        cfg = self.cfg
        items = [{"bbox": box.tolist(), "score": float(score), "category_id": int(cfg.category_ids[label]),
                  "label": str(cfg.class_names[label])}
                 for box, score, label in zip(dets.boxes.astype(np.float64), dets.scores, dets.labels)]
        return {"image": str(image_name), "detections": items}

    def draw(self, image, dets):
        """Boxes in their class's colour with "name score" labels; an image under 480 px is drawn enlarged (an
        integer factor, nearest-neighbour) so that the labels are readable without covering it."""
        from src.inference.draw import draw_detections

        return draw_detections(image, dets, class_names=self.cfg.class_names, enlarge_below=DRAWING_MIN_SIDE)

    # ------------------------------------------------------------------ evaluation
    def eval_set(self, need_images=True):
        from src.evaluation.coco import CocoEvalSet

        cfg = self.cfg
        if need_images:
            require(cfg, "data_dir", hint="the COCO folder: annotations/instances_val2017.json and val2017/")
        return CocoEvalSet(cfg.data_dir, cfg.run_mode, self.annotation_prefix, ("bbox",), draw=self.draw,
                           visual=cfg.visual_image, category_ids=cfg.category_ids)

    def headline_aps(self, metrics):
        """COCO's box AP (IoU 0.50:0.95) and AP50, the original's first two columns."""
        return {"bbox AP": float(metrics["bbox"]["AP"]), "bbox AP50": float(metrics["bbox"]["AP50"])}

    # ------------------------------------------------------------------ data
    def synthetic_dataset(self, folder, num_train, num_val, image_size, seed=0):
        """src/data/synthetic_objects.py: the COCO 2017 instances layout read by `data_dir`, with its class table
        (6 classes, category ids 1..6) as num_classes, category_ids and class_names."""
        from src.data.synthetic_objects import categories, generate

        generate(str(folder), num_train, num_val, seed, image_size=image_size, progress=False)
        table = sorted(categories(), key=lambda category: category["id"])
        return {"data_dir": str(folder), "mindrecord_dir": "", "train_split": "train2017", "run_mode": "val",
                "num_classes": len(table), "category_ids": ",".join(str(c["id"]) for c in table),
                "class_names": ",".join(str(c["name"]) for c in table)}


TASK_CLASS = CenterNetDetTask
