"""CenterFace training run: config -> network, data, loss, optimizer -> engine.Trainer.

The machinery (train step, schedules, checkpoints, logging) lives in `src/engine/` and knows nothing of
faces; this module only wires CenterFace's parts into it. `train.py` at the root calls `run(cfg)`.
"""
from pathlib import Path

from src.model_utils.config import ConfigError, save_config

LOSS_COMPONENTS = ("hm", "wh", "off", "lm")


def _check_paths(cfg):
    if not cfg.train_json:
        raise ConfigError("--train_json is required (COCO-format faces; see src/data/prepare_widerface.py or "
                          "src/data/synthetic.py)")
    for key in ("train_json", "pretrained_backbone", "pretrained"):
        value = getattr(cfg, key)
        if value and not Path(value).is_file():
            raise FileNotFoundError(f"--{key} {value}: no such file")
    if not Path(cfg.train_image_dir or ".").is_dir():
        raise FileNotFoundError(f"--train_image_dir {cfg.train_image_dir}: no such folder")
    if len(cfg.train_size) != 2 or any(v % 32 for v in cfg.train_size):
        raise ConfigError(f"--train_size {cfg.train_size}: expected H,W, multiples of 32")


def build_network(cfg, logger):
    from src.engine.checkpoint import load_weights
    from src.models.centerface import CenterFace

    network = CenterFace(cfg.neck_width, cfg.activation, cfg.heatmap_prior)
    if cfg.pretrained:
        report = load_weights(network, cfg.pretrained, strict=True, logger=logger)
        logger.info("initialised from %s (%d tensors)", cfg.pretrained, len(report.loaded))
    elif cfg.pretrained_backbone:
        report = load_weights(network, cfg.pretrained_backbone, logger=logger)
        backbone = [n for n, _ in network.parameters_and_names() if n.startswith("backbone.")]
        missing = [n for n in backbone if n not in report.loaded]
        if missing:
            raise ValueError(f"--pretrained_backbone {cfg.pretrained_backbone}: {len(missing)} backbone "
                             f"parameters missing, e.g. {missing[:3]}")
    return network


def build_dataset(cfg, device):
    from src.data.augment import TrainAugment
    from src.data.dataset import FaceDetectionSource, create_dataset
    from src.data.targets import CenterFaceTargets

    size = tuple(cfg.train_size)
    augment = TrainAugment(size, anchor_prob=cfg.aug_anchor_prob, crop_scale=tuple(cfg.aug_crop_scale),
                           flip_prob=cfg.aug_flip_prob, color_jitter=cfg.aug_color_jitter,
                           lighting_std=cfg.aug_lighting_std)
    targets = CenterFaceTargets(size, stride=4, max_objs=cfg.max_objs, min_overlap=cfg.min_overlap)
    image_dir = cfg.train_image_dir or str(Path(cfg.train_json).parent)
    source = FaceDetectionSource(cfg.train_json, image_dir, augment, targets, seed=cfg.seed)
    shards = {"num_shards": device.group_size, "shard_id": device.rank} if device.group_size > 1 else {}
    dataset = create_dataset(source, cfg.batch_size, num_workers=cfg.num_workers or None, shuffle=True, **shards)
    return source, dataset


def run(cfg, device):
    """Train with the resolved config on the initialised device; returns the trainer's summary."""
    from src.engine.logger import get_logger
    from src.engine.lr_schedule import build_lr_schedule
    from src.engine.optim import build_optimizer, param_groups
    from src.engine.train_step import NetworkWithLoss, build_loss_scaler
    from src.engine.trainer import Trainer
    from src.losses import CenterFaceLoss

    _check_paths(cfg)
    out_dir = Path(cfg.output_path)
    logger = get_logger(out_dir, device.rank)
    if device.is_main:
        logger.info("resolved config saved to %s", save_config(cfg, out_dir))
    network = build_network(cfg, logger)
    source, dataset = build_dataset(cfg, device)
    steps_per_epoch = dataset.get_dataset_size()
    if steps_per_epoch < 1:
        raise ValueError(f"--train_json {cfg.train_json}: {len(source)} images give no batch of "
                         f"{cfg.batch_size} per device on {device.group_size} device(s)")
    lr = build_lr_schedule(cfg.lr_scheduler, cfg.lr, steps_per_epoch, cfg.epochs, milestones=cfg.milestones,
                           gamma=cfg.gamma, eta_min=cfg.eta_min, warmup_epochs=cfg.warmup_epochs)
    optimizer = build_optimizer(cfg.optimizer, param_groups(network, cfg.weight_decay), lr,
                                weight_decay=cfg.weight_decay, momentum=cfg.momentum)
    loss = CenterFaceLoss(cfg.hm_weight, cfg.wh_weight, cfg.off_weight, cfg.lm_weight)
    logger.info("training on %d images (%d steps/epoch of %d per device x %d devices), %d epochs",
                len(source), steps_per_epoch, cfg.batch_size, device.group_size, cfg.epochs)
    trainer = Trainer(NetworkWithLoss(network, loss), optimizer, dataset, steps_per_epoch, cfg.epochs,
                      out_dir / "ckpt", loss_scaler=build_loss_scaler(cfg.loss_scale_mode, cfg.loss_scale),
                      amp_level=cfg.amp_level, max_grad_norm=cfg.max_grad_norm or None, output_dir=out_dir,
                      rank=device.rank, group_size=device.group_size,
                      keep_checkpoint_max=cfg.keep_checkpoint_max, ckpt_interval=cfg.ckpt_interval,
                      log_interval=cfg.log_interval, logger=logger, on_epoch_begin=source.set_epoch,
                      component_names=LOSS_COMPONENTS)
    return trainer.train(resume=cfg.resume)
