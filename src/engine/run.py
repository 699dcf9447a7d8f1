"""A training run for any task: config -> the task's network, data and loss -> optimizer, schedule -> Trainer.

`train.py` at the root calls `run(task, cfg, device)`. The task (src/tasks/base.py) supplies the network, the
training source and the loss; everything else (initial weights, BatchNorm re-centring, the compiled CPU
kernels, sharding, optimizer, lr schedule, loss scaling, checkpoints, logs) is the same for every model.

Initial weights (`--ckpt_path`, also accepted as the old zoo's `--load_checkpoint_path`): a
checkpoint holding the whole network initialises it (strict: every parameter); one holding only the backbone
(the task's `backbone_prefix`, e.g. a converted ImageNet model) initialises the backbone, as does
`--pretrained_backbone`. Anything else is an error naming what is missing.

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

__all__ = ["check_inputs", "run", "build_network", "digest_arrays", "state_digests"]


def check_inputs(task, cfg):
    """Paths checked before anything heavy starts: the task's training inputs, the initial weights and the output
    folder (`check_output_folder`)."""
    task.check_train_inputs()
    for key in ("ckpt_path", "pretrained_backbone"):
        value = getattr(cfg, key)
        if value and not Path(value).is_file():
            raise FileNotFoundError(f"--{key} {value}: no such file")
    if cfg.ckpt_path and cfg.pretrained_backbone:
        raise ConfigError("--ckpt_path and --pretrained_backbone both set: give one source of initial weights")
    check_output_folder(cfg)


def check_output_folder(cfg):
    """One run per output folder (README "Exit codes and outputs"). Without `--resume True`, a folder whose
    `ckpt/` holds checkpoints (of any rank) belongs to another run: refused (ConfigError, before anything is
    written), since new checkpoints beside the old ones would mix two runs and a later resume would continue the
    wrong one. A folder holding another script's run (its `.run.json`) is refused too. Other files are left alone
    (train.py writes only .run.json, config.yaml, log_rank*.txt, loss_history.json/csv, loss_curve.png and ckpt/;
    the launchers' logs live there too). Then the folder is created and marked as train.py's (`.run.json`), so that a
    read-only place or a file in the way fails here, before MindSpore loads."""
    from dependency.atomic import make_folder
    from src.engine.checkpoint import list_checkpoints
    from src.io_utils import run_manifest_owner, write_run_manifest

    out_dir = Path(cfg.output_path)
    found = list_checkpoints(out_dir / "ckpt", rank=None)
    if found and not cfg.resume:
        raise ConfigError(f"--output_path {out_dir} holds {len(found)} checkpoint(s) of an earlier run (newest "
                          f"{Path(found[-1][2]).name} in {out_dir / 'ckpt'}): continue that run with --resume True, "
                          f"or choose another --output_path")
    owner = run_manifest_owner(out_dir)
    if owner not in (None, "train.py"):
        raise ConfigError(f"--output_path {out_dir} holds a {owner} run (its .run.json): choose another --output_path")
    make_folder(out_dir)
    write_run_manifest(out_dir, "train.py")


def _start_fresh(out_dir, rank):
    """A fresh run (no --resume) in a folder without checkpoints: the files an earlier run that never reached a
    checkpoint left (its log, loss history and curve) are removed, so that they describe this run only. Each
    rank removes its own log; rank 0 the shared files."""
    from src.engine.hooks.history import HISTORY_CSV, HISTORY_JSON, LOSS_CURVE_PNG

    names = [f"log_rank{int(rank)}.txt"] + ([HISTORY_JSON, HISTORY_CSV, LOSS_CURVE_PNG] if int(rank) == 0 else [])
    for name in names:
        path = Path(out_dir) / name
        if path.is_file():
            path.unlink()


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


def build_network(task, cfg, logger):
    """The task's network with its initial weights (see the module docstring); returns (network, whole) where
    `whole` says a whole-network checkpoint was loaded (BatchNorm re-centring applies only then)."""
    from src.engine.checkpoint import CheckpointError, load_weights

    network = task.build_network()
    source = cfg.ckpt_path or cfg.pretrained_backbone
    if not source:
        return network, False
    key = "ckpt_path" if cfg.ckpt_path else "pretrained_backbone"
    report = load_weights(network, source, extra_prefixes=task.checkpoint_prefixes, model=task.name, logger=logger)
    backbone = [n for n, _ in network.parameters_and_names() if n.startswith(task.backbone_prefix)]
    if report.unexpected:
        raise CheckpointError(f"--{key} {source}: {len(report.unexpected)} entries match no parameter of the "
                              f"{task.name} network, e.g. {report.unexpected[:3]}")
    if key == "ckpt_path" and not report.missing:
        logger.info("initialised from %s (%d tensors)", source, len(report.loaded))
        return network, True
    missing_backbone = [n for n in backbone if n not in report.loaded]
    only_backbone = set(report.loaded) <= set(backbone)
    if missing_backbone or (key == "ckpt_path" and not only_backbone):
        missing = missing_backbone or report.missing
        raise CheckpointError(f"--{key} {source}: {len(missing)} parameters missing, e.g. {missing[:3]}; expected "
                              f"a whole {task.name} network or its backbone "
                              f"({', '.join(prefix + '*' for prefix in task.backbone_prefix)})")
    logger.info("backbone initialised from %s (%d tensors); the rest is freshly initialised", source,
                len(report.loaded))
    return network, False


def calibrate_on_training_data(network, source, num_batches, batch_size, logger):
    """Re-centre BN statistics on the first training samples (the same on every rank, so replicas stay
    identical); see src/models/bn_calibration.py for why BN-folded weights need it."""
    from src.models.bn_calibration import recalibrate_batchnorm

    count = min(len(source), num_batches * batch_size)
    images = np.stack([source[i][0] for i in range(count)])
    batches = [images[i:i + batch_size] for i in range(0, count, batch_size)]
    layers = recalibrate_batchnorm(network, batches)
    logger.info("BatchNorm statistics of %d layers re-centred on %d training images", layers, count)


def build_dataset(task, cfg, device, logger, source=None, skip_batches=0):
    """(source, batched dataset) of this rank; `skip_batches`: a dataset for the rest of an epoch (resume)."""
    from src.data.dataset import create_dataset

    source = task.training_source(logger) if source is None else source
    shards = {"num_shards": device.group_size, "shard_id": device.rank} if device.group_size > 1 else {}
    dataset = create_dataset(source, cfg.batch_size, num_workers=cfg.num_workers or None, shuffle=True,
                             skip_batches=skip_batches, **shards)
    return source, dataset


def data_sink_factory(cfg, device, logger):
    """`Trainer(data_sink=...)`: MindSpore's device queue (`mindspore.data_sink`) with `enable_data_sink` on Ascend
    and GPU; None elsewhere (MindSpore 2.10 refuses to sink data on CPU), said in one log line."""
    if not cfg.enable_data_sink:
        return None
    if device.target not in ("Ascend", "GPU"):
        logger.info("data sink: not used on %s (MindSpore 2.10 sinks data on Ascend and GPU only); batches are "
                    "fed from the host", device.target)
        return None
    import mindspore as ms

    logger.info("data sink: on, outputs read every %d steps", cfg.data_sink_steps)
    return lambda step, dataset: ms.data_sink(step, dataset, sink_size=1)


def run(task, cfg, device):
    """Train `task` with the resolved config on the initialised device; returns the trainer's summary."""
    from src.engine.logger import get_logger
    from src.engine.lr_schedule import build_lr_schedule
    from src.engine.optim import build_optimizer, param_groups
    from src.engine.train_step import NetworkWithLoss, build_loss_scaler
    from src.engine.trainer import Trainer

    check_inputs(task, cfg)
    out_dir = Path(cfg.output_path)
    if not cfg.resume:
        _start_fresh(out_dir, device.rank)
    logger = get_logger(out_dir, device.rank, name=f"train.{task.name}")
    if device.is_main:
        logger.info("resolved config saved to %s", save_config(cfg, out_dir))
    network, whole = build_network(task, cfg, logger)
    source, dataset = build_dataset(task, cfg, device, logger)
    if whole and cfg.bn_calibration_batches > 0:
        calibrate_on_training_data(network, source, cfg.bn_calibration_batches, cfg.batch_size, logger)
    if cfg.freeze_bn:
        from src.engine.frozen_bn import freeze_batchnorm

        logger.info("BatchNorm frozen (freeze_bn): %d layers normalise with their moving statistics and keep them",
                    freeze_batchnorm(network))
    loss = task.build_loss()
    if cfg.cpu_kernels and device.target == "CPU":
        from src.models.kernels import enable_cpu_kernels
        from src.models.kernels.focal import enable_fast_focal_loss

        # After calibration (which hooks the nn.BatchNorm2d cells); parameters and names are unchanged.
        counts = enable_cpu_kernels(network)
        counts["focal loss"] = enable_fast_focal_loss(loss)
        logger.info("compiled CPU kernels: %s", ", ".join(f"{n} {k}" for k, n in counts.items()))
    steps_per_epoch = dataset.get_dataset_size()
    if steps_per_epoch < 1:
        raise ValueError(f"{source.name}: {len(source)} images give no batch of {cfg.batch_size} per device on "
                         f"{device.group_size} device(s)")
    lr = build_lr_schedule(cfg.lr_scheduler, cfg.lr, steps_per_epoch, cfg.epochs, milestones=cfg.milestones,
                           gamma=cfg.gamma, eta_min=cfg.eta_min, end_lr=cfg.end_lr, power=cfg.power,
                           warmup_epochs=cfg.warmup_epochs, warmup_steps=cfg.warmup_steps)
    optimizer = build_optimizer(cfg.optimizer, param_groups(network, cfg.weight_decay), lr,
                                weight_decay=cfg.weight_decay, momentum=cfg.momentum, eps=cfg.adam_eps)
    ema = None
    if cfg.ema_decay > 0:
        from src.engine.ema import WeightAverage

        ema = WeightAverage(network, cfg.ema_decay)  # starts at the initial weights (after BatchNorm re-centring)
        logger.info("weight average (ema_decay %g) of %d parameters: checkpoints hold it", cfg.ema_decay,
                    len(ema.names))
    logger.info("training on %d images (%d steps/epoch of %d per device x %d devices), %d epochs",
                len(source), steps_per_epoch, cfg.batch_size, device.group_size, cfg.epochs)
    trainer = Trainer(NetworkWithLoss(network, loss), optimizer, dataset, steps_per_epoch, cfg.epochs,
                      out_dir / "ckpt", loss_scaler=build_loss_scaler(cfg.loss_scale_mode, cfg.loss_scale),
                      amp_level=cfg.amp_level, max_grad_norm=cfg.max_grad_norm or None, output_dir=out_dir,
                      rank=device.rank, group_size=device.group_size,
                      keep_checkpoint_max=cfg.keep_checkpoint_max, ckpt_interval=cfg.ckpt_interval,
                      log_interval=cfg.log_interval, logger=logger,
                      on_epoch_begin=_shard_logger(dataset, source, device, logger),
                      component_names=task.loss_components,
                      checkpoint_extra={"model": task.name, "freeze_bn": bool(cfg.freeze_bn)},
                      save_checkpoint_steps=cfg.save_checkpoint_steps, log_format=cfg.log_format,
                      rest_of_epoch=lambda epoch, done: build_dataset(task, cfg, device, logger, source, done)[1],
                      data_sink=data_sink_factory(cfg, device, logger), sink_steps=cfg.data_sink_steps, ema=ema)
    if not cfg.resume:  # with resume the weights come from the checkpoint inside train()
        _log_state(logger, "initial", device, network, optimizer)
    summary = trainer.train(resume=cfg.resume)
    _log_state(logger, "final", device, network, optimizer)
    summary["unreadable_images"] = unreadable_report(logger)
    return summary


def unreadable_report(logger):
    """How often this process and its data workers met an unreadable image (src/data/dataset.py), said in one log
    line when it happened: train.py then exits 1 (README "Exit codes and outputs")."""
    from src.data.dataset import unreadable_images_seen

    count = unreadable_images_seen()
    if count:
        logger.warning("an image could not be read %d time(s) and was skipped (each named in a warning above); "
                       "training used the others (exit code 1)", count)
    return count
