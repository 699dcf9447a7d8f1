"""CenterFace training run: config -> network, data, loss, optimizer -> engine.Trainer.

The machinery (train step, schedules, checkpoints, logging) lives in `src/engine/` and knows nothing of
faces; this module only wires CenterFace's parts into it. `train.py` at the root calls `run(cfg)`.

Every rank's log (`log_rank{r}.txt`) also records, so that a data-parallel run can be checked after the
fact: per epoch, the sample indices this rank's shard reads; at the start and the end, SHA-256 digests of
the trainable weights, the optimizer state and the BatchNorm moving statistics (`state_digests`). Replicas
in sync have equal weight and optimizer digests; moving statistics are per rank (each rank normalises its
own batches; only gradients are all-reduced), so their digests differ when the ranks read different data.
"""
import hashlib
from pathlib import Path

import numpy as np

from src.model_utils.config import ConfigError, save_config

LOSS_COMPONENTS = ("hm", "wh", "off", "lm")


def default_image_dir(json_path):
    """Without --train_image_dir: `images/` next to the json if it exists (synthetic and WIDER layouts),
    else the json's folder."""
    folder = Path(json_path).parent
    return str(folder / "images") if (folder / "images").is_dir() else str(folder)


def check_inputs(cfg):
    """Paths and sizes, checked before anything heavy starts."""
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


def digest_arrays(named_arrays):
    """SHA-256 hex of (name, dtype, shape, bytes) of each array, in name order: equal digests mean every
    array is bitwise equal. `named_arrays`: iterable of (name, numpy array)."""
    sha = hashlib.sha256()
    for name, array in sorted(named_arrays, key=lambda item: item[0]):
        array = np.ascontiguousarray(array)
        sha.update(f"{name}|{array.dtype.str}|{array.shape}|".encode("utf-8"))
        sha.update(array.tobytes())
    return sha.hexdigest()


def state_digests(network, optimizer=None):
    """{"weights", "optimizer", "moving_stats"}: `digest_arrays` of the network's trainable parameters,
    of the optimizer's own parameters (moments, step, lr; empty without optimizer) and of the network's
    non-trainable parameters (BatchNorm moving mean/variance). Names are checkpoint keys."""
    weights = {p.name: p.asnumpy() for p in network.trainable_params()}
    moving = {p.name: p.asnumpy() for p in network.untrainable_params()}
    own = [] if optimizer is None else [p for p in optimizer.get_parameters() if p.name not in weights]
    return {"weights": digest_arrays(weights.items()),
            "optimizer": digest_arrays((p.name, p.asnumpy()) for p in own),
            "moving_stats": digest_arrays(moving.items())}


def _log_state(logger, when, device, network, optimizer):
    digests = state_digests(network, optimizer)
    logger.info("%s state rank %d/%d: weights sha256 %s, optimizer sha256 %s, moving_stats sha256 %s", when,
                device.rank, device.group_size, digests["weights"], digests["optimizer"], digests["moving_stats"])


def _shard_logger(dataset, source, device, logger, max_listed=64):
    """on_epoch_begin callback: set the source's epoch, and log the image indices this rank reads (all of
    them up to `max_listed`, else the first ones and a digest) when the data are sharded."""
    sampler = getattr(dataset.children[0], "sampler", None) if getattr(dataset, "children", None) else None

    def on_epoch_begin(epoch):
        source.set_epoch(epoch)
        if device.group_size == 1 or not hasattr(sampler, "epoch_indices"):
            return
        indices = [int(i) for i in sampler.epoch_indices(epoch)]
        listed = ",".join(map(str, indices[:max_listed]))
        if len(indices) > max_listed:
            digest = hashlib.sha256(np.asarray(indices, np.int64).tobytes()).hexdigest()[:16]
            listed += f",... (sha256 {digest})"
        logger.info("epoch %d shard %d/%d: %d images: %s", epoch + 1, device.rank, device.group_size,
                    len(indices), listed)
    return on_epoch_begin


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


def calibrate_on_training_data(network, source, num_batches, batch_size, logger):
    """Re-centre BN statistics on the first training samples (the same on every rank, so replicas stay
    identical); see src/models/bn_calibration.py for why the official weights need it."""
    import numpy as np

    from src.models.bn_calibration import recalibrate_batchnorm

    count = min(len(source), num_batches * batch_size)
    images = np.stack([source[i][0] for i in range(count)])
    batches = [images[i:i + batch_size] for i in range(0, count, batch_size)]
    layers = recalibrate_batchnorm(network, batches)
    logger.info("BatchNorm statistics of %d layers re-centred on %d training images", layers, count)


def build_dataset(cfg, device):
    from src.data.augment import TrainAugment
    from src.data.dataset import FaceDetectionSource, create_dataset
    from src.data.targets import CenterFaceTargets

    size = tuple(cfg.train_size)
    augment = TrainAugment(size, anchor_prob=cfg.aug_anchor_prob, crop_scale=tuple(cfg.aug_crop_scale),
                           flip_prob=cfg.aug_flip_prob, color_jitter=cfg.aug_color_jitter,
                           lighting_std=cfg.aug_lighting_std, min_box_size=cfg.aug_min_box_size)
    targets = CenterFaceTargets(size, stride=4, max_objs=cfg.max_objs, min_overlap=cfg.min_overlap,
                                landmark_min_area=cfg.landmark_min_area, legacy_radius=cfg.legacy_radius)
    image_dir = cfg.train_image_dir or default_image_dir(cfg.train_json)
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

    check_inputs(cfg)
    out_dir = Path(cfg.output_path)
    logger = get_logger(out_dir, device.rank)
    if device.is_main:
        logger.info("resolved config saved to %s", save_config(cfg, out_dir))
    network = build_network(cfg, logger)
    source, dataset = build_dataset(cfg, device)
    if cfg.pretrained and cfg.bn_calibration_batches > 0:
        calibrate_on_training_data(network, source, cfg.bn_calibration_batches, cfg.batch_size, logger)
    if cfg.cpu_kernels and device.target == "CPU":
        from src.models.cpu_kernels import enable_cpu_kernels

        # After calibration (which hooks the nn.BatchNorm2d cells); parameters and names are unchanged.
        counts = enable_cpu_kernels(network)
        logger.info("compiled CPU kernels: %d depthwise convs, %d BatchNorm layers", counts["depthwise"],
                    counts["batchnorm"])
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
                      log_interval=cfg.log_interval, logger=logger,
                      on_epoch_begin=_shard_logger(dataset, source, device, logger),
                      component_names=LOSS_COMPONENTS)
    if not cfg.resume:  # with resume the weights come from the checkpoint inside train()
        _log_state(logger, "initial", device, network, optimizer)
    summary = trainer.train(resume=cfg.resume)
    _log_state(logger, "final", device, network, optimizer)
    return summary
