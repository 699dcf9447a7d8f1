"""Independent computations of the CenterNet heatmap targets used by the target tests of every CenterNet task."""
import math

import numpy as np


def gaussian_map(height, width, row, col, radius):
    """Expected radius-r Gaussian centred on (row, col) of a zero map, clipped at the borders:
    exp(-(dx^2 + dy^2) / (2 sigma^2)), sigma = (2r+1)/6, cell by cell."""
    sigma = (2 * radius + 1) / 6.0
    out = np.zeros((height, width), np.float64)
    for y in range(max(0, row - radius), min(height, row + radius + 1)):
        for x in range(max(0, col - radius), min(width, col + radius + 1)):
            out[y, x] = math.exp(-((y - row) ** 2 + (x - col) ** 2) / (2 * sigma * sigma))
    return out
