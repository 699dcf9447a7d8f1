"""CenterFace plugged into the shared machinery (see src/tasks/base.py for what each member means).

What the seam carries for this model: the input is raw RGB 0..255 fitted into a canvas (or the image at its
size, padded to multiples of 32) by `src.inference.preprocess.make_input`; the network applies the heatmap's
sigmoid itself, so its outputs decode as they are (`decode.py`); a flipped pass runs the mirrored image and
its faces are mirrored back; results are WIDER FACE files (`wider.py`).
"""
from pathlib import Path

from src.data.keypoints import FACE_LANDMARKS
from src.model_utils.cli import require
from src.model_utils.config import ConfigError
from src.tasks.base import Task

__all__ = ["CenterFaceTask", "TASK_CLASS", "default_image_dir"]


def default_image_dir(json_path):
    """Without --train_image_dir: `images/` next to the json if it exists (synthetic and WIDER layouts),
    else the json's folder."""
    folder = Path(json_path).parent
    return str(folder / "images") if (folder / "images").is_dir() else str(folder)


class CenterFaceTask(Task):
    name = "centerface"
    backbone_prefix = ("backbone.",)
    # The old MindSpore zoo saved its network under this wrapper attribute.
    checkpoint_prefixes = ("centerface_network.",)
    loss_components = ("hm", "wh", "off", "lm")

    # ------------------------------------------------------------------ facts of the config
    def keypoint_schema(self):
        return FACE_LANDMARKS

    def head_list(self):
        """The official layout: heatmap 1, scale 2, offset 2, landmarks 2 per landmark."""
        return (("heatmap", 1), ("scale", 2), ("offset", 2), ("landmarks", 2 * self.keypoints.num_points))

    def graph_names(self):
        """The official centerface.onnx names (input.1, outputs 537..540) unless `official_names` is off."""
        from src.pretrained import OFFICIAL_INPUT, OFFICIAL_OUTPUTS

        return (OFFICIAL_INPUT, OFFICIAL_OUTPUTS) if self.cfg.official_names else super().graph_names()

    # ------------------------------------------------------------------ network
    def build_network(self):
        from src.centerface.network import CenterFace

        cfg = self.cfg
        return CenterFace(self.heads, cfg.neck_width, cfg.activation, cfg.heatmap_prior)

    # ------------------------------------------------------------------ training
    def check_train_inputs(self):
        cfg = self.cfg
        if not cfg.train_json:
            raise ConfigError("--train_json is required (COCO-format faces; see src/data/prepare_widerface.py or "
                              "src/data/synthetic.py)")
        if not Path(cfg.train_json).is_file():
            raise FileNotFoundError(f"--train_json {cfg.train_json}: no such file")
        if not Path(cfg.train_image_dir or ".").is_dir():
            raise FileNotFoundError(f"--train_image_dir {cfg.train_image_dir}: no such folder")

    def training_source(self, logger):
        from src.centerface.augment import TrainAugment
        from src.centerface.data import FaceDetectionSource
        from src.centerface.targets import CenterFaceTargets

        cfg = self.cfg
        size = tuple(cfg.train_size)
        augment = TrainAugment(size, anchor_prob=cfg.aug_anchor_prob, crop_scale=tuple(cfg.aug_crop_scale),
                               flip_prob=cfg.aug_flip_prob, color_jitter=cfg.aug_color_jitter,
                               lighting_std=cfg.aug_lighting_std, min_box_size=cfg.aug_min_box_size)
        targets = CenterFaceTargets(size, stride=self.output_stride, max_objs=cfg.max_objs,
                                    min_overlap=cfg.min_overlap, landmark_min_area=cfg.landmark_min_area,
                                    legacy_radius=cfg.legacy_radius)
        image_dir = cfg.train_image_dir or default_image_dir(cfg.train_json)
        source = FaceDetectionSource(cfg.train_json, image_dir, augment, targets, seed=cfg.seed)
        logger.info("training data: %d images, %d face boxes from %s", len(source), source.num_faces,
                    cfg.train_json)
        return source

    def training_memory(self):
        """Fitted to train.py runs at batch 2-8, 128-256 px (benchmarks/bench_memory.py --model centerface, README
        "Memory"): within 0.01 GB of each."""
        from src.engine.memory import MemoryModel

        return MemoryModel(1.092, 1196, "benchmarks/bench_memory.py --part train --model centerface")

    def build_loss(self):
        from src.centerface.loss import CenterFaceLoss

        cfg = self.cfg
        return CenterFaceLoss(cfg.hm_weight, cfg.wh_weight, cfg.off_weight, cfg.lm_weight)

    # ------------------------------------------------------------------ inference
    def pass_options(self, purpose):
        """predict.py fits a fixed input_size canvas exactly (scale 1.0), as the official demo; test.py and the
        offline chain at `test_scale` (the old zoo's 0.999); `multi_scale` switches to the `test_scales`."""
        cfg = self.cfg
        return {"input_size": tuple(cfg.input_size) or None,
                "fit_scale": 1.0 if purpose == "predict" else cfg.test_scale,
                "scales": tuple(cfg.test_scales) if cfg.multi_scale else (1.0,)}

    def make_input(self, image, one_pass, options):
        from src.inference.preprocess import make_input

        return make_input(image, input_size=one_pass.input_size, scale=one_pass.scale,
                          max_side=options.max_input_side)

    def decode_maps(self, maps, meta, options):
        from src.centerface.decode import decode

        return decode(*maps, meta=meta, score_thresh=options.score_thresh, top_k=options.top_k,
                      stride=self.output_stride)

    def to_json(self, dets, image_name):
        from src.centerface.decode import detections_to_json

        return detections_to_json(dets, image_name)

    # ------------------------------------------------------------------ evaluation
    def eval_set(self, need_images=True):
        """WIDER FACE val: images need `data_dir` and `ground_truth_path` (the list); evaluating needs the
        ground truth; writing results needs neither."""
        from src.centerface.wider import WiderEvalSet

        cfg = self.cfg
        if need_images:
            require(cfg, "data_dir", hint="WIDER val images laid out <data_dir>/<event>/<name>.jpg")
            require(cfg, "ground_truth_path", hint="the folder of wider_face_val.mat (it lists the images)")
        return WiderEvalSet(cfg.data_dir, cfg.ground_truth_path, cfg.eval_iou, cfg.eval_json, cfg.eval_plot)

    def headline_aps(self, metrics):
        """WIDER FACE's three settings (easy within medium within hard)."""
        return {setting: float(metrics[setting]) for setting in ("easy", "medium", "hard")}

    # ------------------------------------------------------------------ data
    def synthetic_dataset(self, folder, num_train, num_val, image_size, seed=0):
        """src/data/synthetic.py: COCO-format training faces and WIDER-layout validation with its .mat files;
        faces from 8 px (or 1/16 of the image) to 0.7 x the image size."""
        from src.data.synthetic import generate

        min_face = max(8.0, image_size / 16)
        paths = generate(str(folder), num_train, num_val, seed, image_size=image_size, min_face=min_face,
                         max_face=max(min_face, 0.7 * image_size), progress=False)
        values = {}
        if num_train:
            values.update(train_json=paths["train_json"], train_image_dir=paths["train_images"])
        if num_val:
            values.update(data_dir=paths["val_images"], ground_truth_path=paths["val_gt_dir"])
        return values


TASK_CLASS = CenterFaceTask
