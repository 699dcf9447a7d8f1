"""Toy model, loss and deterministic dataset for the engine tests; also a CLI used to resume in a fresh process.

    python tests/engine/toy.py --ckpt_dir D --epochs 2 --resume --out state.npz
    msrun --worker_num=2 ... tests/engine/toy.py --data_parallel --ckpt_dir D --out state_{rank}.npz
"""
import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
os.environ.setdefault("GLOG_v", "3")

import numpy as np  # noqa: E402

import mindspore as ms  # noqa: E402
from mindspore import nn, ops  # noqa: E402

from src.engine.lr_schedule import build_lr_schedule  # noqa: E402
from src.engine.optim import build_optimizer, param_groups  # noqa: E402
from src.engine.train_step import NetworkWithLoss, build_loss_scaler  # noqa: E402

STEPS_PER_EPOCH = 5
BATCH = 4
SPIKE = (1, 2)  # the overflowing batch used by the resume test: epoch index 1, batch 2


class ToyNet(nn.Cell):
    """conv3x3 + BN + ReLU -> spatial mean -> dense: (N,1,6,6) -> (N,2). Has kernels, biases and BN."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, has_bias=True)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.head = nn.Dense(4, 2)

    def construct(self, x):
        y = self.relu(self.bn(self.conv(x)))
        return self.head(y.mean(axis=(2, 3)))


class ToyLoss(nn.Cell):
    """Squared error split into two components; returns (total, first, second)."""

    def construct(self, pred, target):
        first = ops.square(pred[:, 0] - target[:, 0]).mean()
        second = ops.square(pred[:, 1] - target[:, 1]).mean()
        return first + second, first, second


class EpochDataset:
    """Deterministic batches that depend only on (seed, epoch): re-iterable, told the epoch via set_epoch.

    `spike=(epoch, index)` multiplies that batch's targets by 1e30 so its loss overflows float32.
    """

    def __init__(self, seed=0, steps=STEPS_PER_EPOCH, batch=BATCH, spike=None):
        self.seed, self.steps, self.batch, self.spike = seed, steps, batch, spike
        self.epoch = 0
        self.epochs_seen = []

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.epochs_seen.append(epoch)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        for index in range(self.steps):
            x = rng.uniform(0, 1, size=(self.batch, 1, 6, 6)).astype(np.float32)
            m = x.mean(axis=(1, 2, 3))
            y = np.stack([2 * m - 1, 0.5 - m], axis=1).astype(np.float32)
            if self.spike == (self.epoch, index):
                y = y * np.float32(1e30)
            yield x, y


def build(seed, epochs, lr=0.02, loss_scale_mode="dynamic", scale_value=2.0 ** 16, scale_window=3,
          optimizer="adam", weight_decay=1e-4):
    """Network-with-loss, optimizer over a multistep+warm-up schedule, and a loss scaler."""
    ms.set_seed(seed)
    np.random.seed(seed)
    net = NetworkWithLoss(ToyNet(), ToyLoss())
    schedule = build_lr_schedule("multistep", lr, STEPS_PER_EPOCH, epochs, milestones=[1], gamma=0.5,
                                 warmup_steps=2)
    opt = build_optimizer(optimizer, param_groups(net, weight_decay), schedule, weight_decay=weight_decay)
    scaler = build_loss_scaler(loss_scale_mode, scale_value, 2, scale_window)
    return net, opt, scaler


def state_arrays(net, opt, scaler):
    """Every network and optimizer parameter (by name) plus the loss-scaler state, as numpy arrays."""
    out = {p.name: p.asnumpy().copy() for p in net.get_parameters()}
    out.update({"opt/" + p.name: p.asnumpy().copy() for p in opt.get_parameters()})
    out["scaler/scale"] = scaler.scale_value.asnumpy().copy()
    if hasattr(scaler, "counter"):
        out["scaler/counter"] = scaler.counter.asnumpy().copy()
    return out


def main(argv=None):
    from src.engine.trainer import Trainer

    parser = argparse.ArgumentParser()
    parser.add_argument("--ckpt_dir", required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--out", required=True, help="npz of the final state; {rank} is replaced by the rank")
    parser.add_argument("--data_parallel", action="store_true",
                        help="data parallel under msrun: rank r reads seed r; only rank 1 gets the spiked batch")
    args = parser.parse_args(argv)
    rank, group_size, dataset = 0, 1, EpochDataset(spike=SPIKE)
    if args.data_parallel:
        from mindspore.communication import get_group_size, get_rank, init

        init()
        ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True)
        rank, group_size = get_rank(), get_group_size()
        dataset = EpochDataset(seed=rank, spike=SPIKE if rank == 1 else None)
    net, opt, scaler = build(args.seed, args.epochs)
    trainer = Trainer(net, opt, dataset, STEPS_PER_EPOCH, args.epochs, args.ckpt_dir, loss_scaler=scaler,
                      output_dir=Path(args.ckpt_dir) / f"out{rank}", rank=rank, group_size=group_size,
                      log_interval=2, component_names=("first", "second"))
    trainer.train(resume=args.resume)
    np.savez(args.out.format(rank=rank), overflow=np.array(trainer.history["overflow"]),
             **state_arrays(net, opt, scaler))


if __name__ == "__main__":
    main()
