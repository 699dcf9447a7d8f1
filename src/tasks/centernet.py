"""What the CenterNet tasks (object detection, multi-person pose) share on top of `src/tasks/base.py`.

The original project runs both through one `BaseDetector` and one data recipe, and so do we:
* network: the original's `--arch` (`src/models/centernet_arch.py`: DLA-34 + DLAUp/IDAUp, or ResNet + up-sampling;
  DCNv2 optional) with the task's heads; ONNX needs enable_dcn False (`check_export`);
* input: the original's centre/scale affine and BGR mean/std (src/inference/centernet_input.py), 512x512 or
  keep_res (`pass_options`, `make_input`);
* raw logits: the heatmap heads go through the sigmoid before decoding (`head_maps`); the flip test runs
  [image, mirrored image] in one batch and merges the maps (`flip_in_batch`; the task's `merge_flip`); several
  `test_scales` (or `soft_nms`) are merged by Gaussian Soft-NMS;
* training: COCO json or MindRecord records -> CenterNetAugment -> the task's targets (src/data/), as a
  src/data/centernet_source.CenterNetSource;
* evaluation: a COCO set (src/evaluation/coco.py).

A CenterNet task fills `name`, `annotation_prefix` (its COCO annotation files and MindRecord kind), `object_name`
(what its objects are called in messages), `heatmap_heads`, `head_list()`, `merge_flip`, `decode_maps`, its
records and targets (`load_records`, `build_targets`), its loss, result record and evaluation set;
`network_arch()` when it offers more than DLA-34. The config keys it reads: `head_conv` (-1: the arch's default),
`enable_dcn`, the augmentation keys, `mean`/`std`, `keep_res`, `pad`, `test_scales`, `soft_nms`, `data_dir`,
`mindrecord_dir`, `train_split`.
"""
from pathlib import Path

from src.model_utils.cli import require
from src.model_utils.config import ConfigError
from src.tasks.base import Task

__all__ = ["CenterNetTask"]


class CenterNetTask(Task):
    """Base of the CenterNet tasks; see the module docstring for what a subclass provides."""

    checkpoint_prefixes = ()
    flip_in_batch = True
    annotation_prefix = ""  # COCO annotation files: <prefix>_{train,val}2017.json; the MindRecord kind
    object_name = "object"  # what an object is called in messages (the training log)
    heatmap_heads = ("hm",)  # logits: the sigmoid is applied before decoding

    def __init__(self, cfg):
        from src.models.centernet_arch import backbone_prefixes, default_head_conv

        super().__init__(cfg)
        self.arch = self.network_arch()
        head_conv = int(cfg.head_conv)
        self.head_conv = default_head_conv(self.arch) if head_conv < 0 else head_conv
        self.backbone_prefix = backbone_prefixes(self.arch)

    # ------------------------------------------------------------------ facts of the config
    def check_config(self):
        cfg = self.cfg
        if cfg.head_conv == 0:
            raise ConfigError("--head_conv 0: expected a positive width (or -1: the arch's default)")
        if (cfg.aug_color_jitter > 0) != (cfg.aug_lighting_std > 0):
            raise ConfigError(f"--aug_color_jitter {cfg.aug_color_jitter} with --aug_lighting_std "
                              f"{cfg.aug_lighting_std}: the original's colour augmentation is both or neither "
                              "(0.4 and 0.1, or 0 and 0)")

    def network_arch(self) -> str:
        """The original's `--arch` name of the network (src/models/centernet_arch.py): DLA-34 unless the task's
        config chooses."""
        return "dla_34"

    # ------------------------------------------------------------------ network
    def build_network(self):
        from src.models.centernet_arch import build_centernet_network

        return build_centernet_network(self.arch, self.heads, head_conv=self.head_conv, enable_dcn=self.cfg.enable_dcn,
                                       down_ratio=self.output_stride)

    def check_export(self, file_format):
        """ONNX cannot hold the deformable convs: MindSpore 2.10 does not export its DeformableOffsets op, and
        ONNX opset 11 / onnxruntime 1.19 have no deformable convolution (src/export_utils.py refuses such a network
        too; this says it in the config's words before anything loads)."""
        if file_format.upper() == "ONNX" and self.cfg.enable_dcn:
            raise ConfigError(f"--file_format ONNX: the deformable convs of {self.name} (enable_dcn True) cannot be "
                              "written to ONNX (MindSpore 2.10 does not export DeformableOffsets; ONNX has no "
                              "deformable conv); use MINDIR, or --enable_dcn False for the plain-conv variant")

    # ------------------------------------------------------------------ training
    def annotation_json(self, split):
        return Path(self.cfg.data_dir) / "annotations" / f"{self.annotation_prefix}_{split}.json"

    def check_train_inputs(self):
        cfg = self.cfg
        if cfg.mindrecord_dir:
            if not Path(cfg.mindrecord_dir).is_dir():
                raise FileNotFoundError(f"--mindrecord_dir {cfg.mindrecord_dir}: no such folder")
            return
        require(cfg, "data_dir", hint=f"a COCO folder (annotations/{self.annotation_prefix}_train2017.json, "
                                      "train2017/) or --mindrecord_dir from scripts/convert_dataset_to_mindrecord.sh")
        json_path = self.annotation_json(cfg.train_split)
        if not json_path.is_file():
            raise FileNotFoundError(f"--data_dir {cfg.data_dir}: no {json_path}")
        if not (Path(cfg.data_dir) / cfg.train_split).is_dir():
            raise FileNotFoundError(f"--data_dir {cfg.data_dir}: no image folder {cfg.train_split}/")

    def load_records(self):
        """(records, name of their source) from cfg.mindrecord_dir or cfg.data_dir's train split."""
        raise NotImplementedError

    def build_targets(self, output_res):
        """The task's target builder for an output grid of `output_res` (height, width)."""
        raise NotImplementedError

    def build_augment(self):
        """The original's augmentation (src/data/centernet_augment.py) from the config's keys; flipped images swap
        the keypoint schema's pairs."""
        from src.data.centernet_augment import CenterNetAugment

        cfg = self.cfg
        height, width = cfg.train_size
        output = (height // self.output_stride, width // self.output_stride)
        return CenterNetAugment(tuple(cfg.train_size), output, rand_crop=cfg.rand_crop, scale=cfg.aug_scale,
                                shift=cfg.aug_shift, aug_rot=cfg.aug_rot, rotate=cfg.rotate,
                                flip_prob=cfg.aug_flip_prob, color_aug=cfg.aug_color_jitter > 0, mean=cfg.mean,
                                std=cfg.std, flip_pairs=self.keypoints.flip_pairs)

    def training_source(self, logger):
        """record -> image -> augmentation -> the task's targets (keypoints through both when the task has them)."""
        from src.data.centernet_source import CenterNetSource

        records, name = self.load_records()
        augment = self.build_augment()
        source = CenterNetSource(records, augment, self.build_targets(augment.output_res), seed=self.cfg.seed,
                                 name=name, keypoints=self.keypoints.num_points > 0, what=self.object_name)
        summary = getattr(records, "summary", None)
        logger.info("training data: %d images, %d %ss from %s%s", len(source), source.num_objects, self.object_name,
                    name, f" ({summary})" if summary is not None else "")
        return source

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
        from src.inference.centernet_input import centernet_input

        cfg = self.cfg
        if one_pass.input_size is None:  # keep_res: the image at its size times the scale, padded
            return centernet_input(image, scale=one_pass.scale, keep_res=True, pad=cfg.pad, mean=cfg.mean,
                                   std=cfg.std, max_side=options.max_input_side)
        return centernet_input(image, scale=1.0, keep_res=False, input_res=one_pass.input_size, pad=cfg.pad,
                               mean=cfg.mean, std=cfg.std)

    def head_maps(self, outputs):
        """One pass's maps {name: (C, h, w)}: the heatmap heads through the sigmoid."""
        from src.inference.head_maps import single_pass_maps

        return single_pass_maps(dict(zip(self.head_names, outputs)), self.heatmap_heads)
