"""Frozen BatchNorm statistics for fine-tuning (config key `freeze_bn`).

A BatchNorm layer in training mode normalises each batch with that batch's own mean and variance and moves its
moving statistics towards them (MindSpore's momentum 0.9: the last ~10 batches make them). Fine-tuning with small
per-device batches (CenterFace's 8 images) has two costs: the function trained (batch statistics) is not the one
evaluated (moving statistics), and the moving statistics the checkpoint keeps are those of its last ~10 batches,
so two runs that differ only in float rounding end with visibly different inference networks.
`freeze_batchnorm(network)` makes every BatchNorm layer normalise with its moving statistics in training too,
and leaves them unchanged: the network trained is the network evaluated, an affine map per channel whose gamma and
beta still train (as detectron2's FrozenBatchNorm2d and mmdetection's `norm_eval` do for detection fine-tuning).
Use it to fine-tune weights whose statistics fit the data (e.g. after `bn_calibration_batches`), not to train
from random initialisation.

The compiled CPU BatchNorm kernel is a training-mode (batch statistics) kernel; frozen layers keep MindSpore's
inference BatchNorm op (`src/models/kernels/batchnorm.py` leaves them alone).
"""
from mindspore import nn

__all__ = ["freeze_batchnorm"]

_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d)  # nn.BatchNorm3d holds an nn.BatchNorm2d, found by the walk


def freeze_batchnorm(network):
    """Make every BatchNorm layer of `network` use (and keep) its moving statistics in training too; returns the
    number of layers. Parameters, names and checkpoints are unchanged."""
    count = 0
    for _, cell in network.cells_and_names():
        if isinstance(cell, _BATCHNORMS):
            cell.use_batch_statistics = False
            count += 1
    return count

