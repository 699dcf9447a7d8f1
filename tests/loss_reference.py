"""Independent float64 numpy computations of the shared losses, used by the loss tests of both models."""
import numpy as np


def np_focal(pred, gt, eps=1e-4, alpha=2.0, beta=4.0):
    p = np.clip(pred.astype(np.float64), eps, 1 - eps)
    gt = gt.astype(np.float64)
    total, num_pos = 0.0, 0
    for pv, gv in zip(p.ravel(), gt.ravel()):
        if gv == 1.0:
            total += np.log(pv) * (1 - pv) ** alpha
            num_pos += 1
        else:
            total += np.log(1 - pv) * pv ** alpha * (1 - gv) ** beta
    return -total / max(num_pos, 1)


def np_reg(pred, ind, mask, target, weight=None, kind="smooth_l1"):
    n, c, h, w = pred.shape
    k = ind.shape[1]
    mask = mask.astype(np.float64)
    total = 0.0
    for b in range(n):
        for j in range(k):
            row, col = divmod(int(ind[b, j]), w)
            for ch in range(c):
                m = mask[b, j] if mask.ndim == 2 else mask[b, j, ch]
                if m == 0:
                    continue
                d = float(pred[b, ch, row, col]) - float(target[b, j, ch])
                if kind == "smooth_l1":
                    v = 0.5 * d * d if abs(d) < 1 else abs(d) - 0.5
                else:
                    v = abs(d)
                wgt = 1.0 if weight is None else float(weight[b, j])
                total += v * m * wgt
    return total / (mask.sum() + 1e-4)


def make_heatmap_case():
    gt = np.array([[[[0.0, 0.2, 0.0, 0.0],
                     [0.5, 1.0, 0.5, 0.0],
                     [0.0, 0.3, 0.0, 0.8],
                     [0.0, 0.0, 0.8, 1.0]]]], np.float32)
    pred = np.array([[[[0.1, 0.3, 0.05, 0.01],
                       [0.4, 0.7, 0.2, 0.02],
                       [0.03, 0.25, 0.1, 0.6],
                       [0.01, 0.02, 0.5, 0.9]]]], np.float32)
    return pred, gt
