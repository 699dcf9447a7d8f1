"""Weights set for tests: BatchNorm statistics far from the identity, and one network's values copied into its
twin (tests of BatchNorm folding, calibration and export)."""
import numpy as np
from mindspore import Tensor, nn


def randomise_batchnorm(network, rng, min_variance=0.2):
    """Give every BatchNorm2d in `network` arbitrary inference statistics: |gamma| in [0.5, 2] with random signs,
    beta ~ N(0, 0.5), mean ~ N(0, 1), variance log-uniform in [min_variance, 3].

    Keep `min_variance` ~0.2 for deep networks: a BN gains up to 2 / sqrt(min_variance), compounded per layer.
    """
    for _, cell in network.cells_and_names():
        if isinstance(cell, nn.BatchNorm2d):
            n = cell.gamma.shape[0]
            gamma = rng.uniform(0.5, 2.0, n) * rng.choice([-1.0, 1.0], n)
            variance = np.exp(rng.uniform(np.log(min_variance), np.log(3.0), n))
            for param, value in ((cell.gamma, gamma), (cell.beta, rng.normal(0, 0.5, n)),
                                 (cell.moving_mean, rng.normal(0, 1, n)), (cell.moving_variance, variance)):
                param.set_data(Tensor(value.astype(np.float32)))


def copy_parameters(source, target):
    """Give `target` (built like `source`) the values of all of `source`'s parameters."""
    pairs = list(zip(source.parameters_and_names(), target.parameters_and_names()))
    assert [name for (name, _), _ in pairs] == [name for _, (name, _) in pairs]
    for (_, value), (_, param) in pairs:
        param.set_data(Tensor(value.asnumpy()))
