"""What the CenterNet tasks (object detection, multi-person pose) share on top of `src/tasks/base.py`.

The original project runs both through one `BaseDetector` and one data recipe, and so do we:
* network: `DLASeg` (DLA-34 + DLAUp/IDAUp, DCNv2 optional) with the task's heads; ONNX needs enable_dcn False;
* input: the original's centre/scale affine and BGR mean/std (src/inference/centernet_input.py), 512x512 or
  keep_res;
* flip test in one batch [image, mirrored image] with merged maps (`flip_in_batch`), 3x3 peaks, top K;
  several `test_scales` merged by Gaussian Soft-NMS (`soft_nms` for one scale too);
* training: COCO json or MindRecord records -> CenterNetAugment -> the task's targets (src/data/);
* evaluation: a COCO set (src/evaluation/coco.py).

A CenterNet task fills `name`, `annotation_prefix`, `heatmap_heads`, the config-derived `head_list(cfg)`,
`pass_maps` / `flip_maps` (raw head outputs -> decodable maps), `decode_maps` (maps -> Detections), and its
records, targets and source (`load_records`, `build_targets`, `build_source`) and loss.
"""
from pathlib import Path

from src.model_utils.cli import require
from src.model_utils.config import ConfigError
from src.tasks.base import Task

__all__ = ["CenterNetTask"]


class CenterNetTask(Task):
    """Base of the CenterNet tasks; see the module docstring for what a subclass provides."""

    output_stride = 4
    backbone_prefix = "base."
    checkpoint_prefixes = ()
    flip_in_batch = True
    annotation_prefix = ""  # COCO annotation files: <prefix>_{train,val}2017.json
    heatmap_heads = ("hm",)  # logits: the sigmoid is applied before decoding

    # ------------------------------------------------------------------ config-derived facts
    def head_list(self, cfg):
        """((name, channels), ...) of the network's heads in output order, checked against the config."""
        raise NotImplementedError

    def head_names(self, cfg=None):
        return tuple(name for name, _ in self.head_list(cfg or self.bound_cfg))

    # ------------------------------------------------------------------ network
    def build_network(self, cfg):
        from src.models.dla_seg import DLASeg

        return DLASeg(self.head_list(cfg), head_conv=cfg.head_conv, enable_dcn=cfg.enable_dcn,
                      down_ratio=cfg.down_ratio)

    def onnx_names(self, cfg):
        """Input "input" and the outputs named after the heads, in the network's order (hm, wh, ...)."""
        return "input", self.head_names(cfg)

    def check_export(self, cfg, file_format):
        """ONNX cannot hold the deformable convs: MindSpore 2.10 does not export its DeformableOffsets op, and
        ONNX opset 11 / onnxruntime 1.19 have no deformable convolution."""
        if file_format.upper() == "ONNX" and getattr(cfg, "enable_dcn", False):
            raise ConfigError(f"--file_format ONNX: the deformable convs of {self.name} (enable_dcn True) cannot be "
                              "written to ONNX (MindSpore 2.10 does not export DeformableOffsets; ONNX has no "
                              "deformable conv); use MINDIR, or --enable_dcn False for the plain-conv variant")

    # ------------------------------------------------------------------ training
    def annotation_json(self, cfg, split):
        return Path(cfg.data_dir) / "annotations" / f"{self.annotation_prefix}_{split}.json"

    def check_train_inputs(self, cfg):
        if cfg.mindrecord_dir:
            if not Path(cfg.mindrecord_dir).is_dir():
                raise FileNotFoundError(f"--mindrecord_dir {cfg.mindrecord_dir}: no such folder")
            return
        require(cfg, "data_dir", hint=f"a COCO folder (annotations/{self.annotation_prefix}_train2017.json, "
                                      "train2017/) or --mindrecord_dir from scripts/convert_dataset_to_mindrecord.sh")
        json_path = self.annotation_json(cfg, cfg.train_split)
        if not json_path.is_file():
            raise FileNotFoundError(f"--data_dir {cfg.data_dir}: no {json_path}")
        if not (Path(cfg.data_dir) / cfg.train_split).is_dir():
            raise FileNotFoundError(f"--data_dir {cfg.data_dir}: no image folder {cfg.train_split}/")

    def load_records(self, cfg):
        """(records, name of their source) from cfg.mindrecord_dir or cfg.data_dir's train split."""
        raise NotImplementedError

    def build_targets(self, cfg, output_res):
        """The task's target builder for an output grid of `output_res` (height, width)."""
        raise NotImplementedError

    def build_source(self, cfg, records, augment, targets, name):
        """The training source of the records (a src/data/centernet_source.CenterNetSource)."""
        raise NotImplementedError

    def build_augment(self, cfg, flip_pairs=()):
        """The original's augmentation (src/data/centernet_augment.py) from the config's keys."""
        from src.data.centernet_augment import CenterNetAugment

        height, width = cfg.train_size
        output = (height // cfg.down_ratio, width // cfg.down_ratio)
        return CenterNetAugment(tuple(cfg.train_size), output, rand_crop=cfg.rand_crop, scale=cfg.aug_scale,
                                shift=cfg.aug_shift, aug_rot=cfg.aug_rot, rotate=cfg.rotate,
                                flip_prob=cfg.aug_flip_prob, color_aug=cfg.color_aug, mean=cfg.mean, std=cfg.std,
                                flip_pairs=flip_pairs)

    def training_source(self, cfg, logger):
        records, name = self.load_records(cfg)
        augment = self.build_augment(cfg)
        source = self.build_source(cfg, records, augment, self.build_targets(cfg, augment.output_res), name)
        summary = getattr(records, "summary", None)
        logger.info("training data: %d images, %d objects from %s%s", len(source), source.num_objects, name,
                    f" ({summary})" if summary is not None else "")
        return source

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
        from src.inference.centernet_input import centernet_input

        cfg = self.bound_cfg
        if one_pass.input_size is None:  # keep_res: the image at its size times the scale, padded
            return centernet_input(image, scale=one_pass.scale, keep_res=True, pad=cfg.pad, mean=cfg.mean,
                                   std=cfg.std, max_side=options.max_input_side)
        return centernet_input(image, scale=1.0, keep_res=False, input_res=one_pass.input_size, pad=cfg.pad,
                               mean=cfg.mean, std=cfg.std)

    def pass_maps(self, named):
        """Decodable maps {name: (C, h, w)} of one pass's raw outputs {name: (1, C, h, w)}."""
        from src.inference.head_maps import single_pass_maps

        return single_pass_maps(named, self.heatmap_heads)

    def flip_maps(self, named):
        """Decodable maps of the flip test's raw outputs {name: (2, C, h, w)} ([image, mirrored image])."""
        raise NotImplementedError

    def decode_maps(self, maps, meta, options):
        """Detections in original pixels (no NMS) of one pass's decodable maps."""
        raise NotImplementedError

    def decode(self, heads, meta, options):
        named = {name: h[None] for name, h in zip(self.head_names(), heads)}
        return self.decode_maps(self.pass_maps(named), meta, options)

    def run_pass(self, forward, image, one_pass, options):
        """One scale: the image (and, for the flip test, its mirror in the same batch) through the network,
        the maps merged as the original (`flip_maps`), decoded to original pixels."""
        from src.inference.centernet_input import flip_batch

        chw, meta = self.make_input(image, one_pass, options)
        outputs = forward(flip_batch(chw) if one_pass.flip else chw[None])
        named = dict(zip(self.head_names(), outputs))
        maps = self.flip_maps(named) if one_pass.flip else self.pass_maps(named)
        return self.decode_maps(maps, meta, options)
