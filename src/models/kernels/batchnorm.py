"""Training-mode BatchNorm2d (+ the following ReLU) on the compiled CPU kernel (`batchnorm_cpu.cc`).

Why: once the depthwise convs were fast, MindSpore's CPU BatchNorm/BatchNormGrad and the separate ReLU and
ReluGrad passes were the largest part of a CenterFace training step; the fused kernel does the same work
with fewer passes over memory (docs/performance.md "Compiled CPU kernels").

`enable_fast_batchnorm(network)` swaps, in place, every plain `nn.BatchNorm2d` child (affine, NCHW, float32,
`use_batch_statistics=None`) for a `FastBatchNorm2d` carrying the *same* four Parameters. In training mode
it normalises with the batch mean and biased variance and updates the moving statistics with the unbiased
variance and the layer's momentum, exactly as `nn.BatchNorm2d` does; gradients for input, gamma and beta
come from the kernel. In inference mode it runs MindSpore's own BatchNorm on the moving statistics.
In a `ConvBNAct` with ReLU the ReLU is fused into the kernel (`act` becomes None).
Library build, caching and the CPU-only rule: `src/models/kernels/library.py`.
"""
import numpy as np

import mindspore as ms
from mindspore import Tensor, nn, ops

from src.models.kernels.library import DEFAULT_CACHE_DIR, aot_op, swap_cells

__all__ = ["FastBatchNorm2d", "is_fast_batchnorm_candidate", "enable_fast_batchnorm"]


def _batchnorm_op(library, relu):
    """Forward Custom op (x, gamma, beta, eps) -> (y, mean, invstd, unbiased var), with its bprop."""
    name = "BnRelu" if relu else "Bn"
    backward = aot_op(library, f"{name}TrainBackward", lambda dy, x, y, gamma, mean, invstd: (x, gamma, gamma),
                      lambda dy, x, y, gamma, mean, invstd: (x, x, x), num_outputs=3)

    def bprop(x, gamma, beta, eps, out, dout):
        # Only y carries a gradient: the statistics feed the moving averages through stop_gradient.
        dx, dgamma, dbeta = backward(dout[0], x, out[0], gamma, out[1], out[2])
        return dx, dgamma, dbeta, ops.zeros_like(eps)

    return aot_op(library, f"{name}TrainForward", lambda x, gamma, beta, eps: (x, gamma, gamma, gamma),
                  lambda x, gamma, beta, eps: (x, x, x, x), bprop=bprop, num_outputs=4)


def is_fast_batchnorm_candidate(bn):
    """True for a plain affine NCHW float32 `nn.BatchNorm2d` following the training flag."""
    return (type(bn) is nn.BatchNorm2d and bn.use_batch_statistics is None and bn.format == "NCHW"
            and bn.gamma.requires_grad and bn.beta.requires_grad and bn.gamma.dtype == ms.float32)


class FastBatchNorm2d(nn.BatchNorm2d):
    """An `nn.BatchNorm2d` (taken over from `bn`: same Parameters, eps and momentum) whose training-mode
    forward and backward run the compiled kernel; `fuse_relu=True` returns `relu(bn(x))`."""

    def __init__(self, bn, library, fuse_relu=False):
        if not is_fast_batchnorm_candidate(bn):
            raise ValueError(f"FastBatchNorm2d: {bn} is not a plain affine NCHW float32 nn.BatchNorm2d")
        # nn.BatchNorm2d keeps `momentum` as the weight of the new batch value (1 - the constructor's).
        super().__init__(bn.num_features, eps=bn.eps, momentum=1.0 - bn.momentum)
        self.gamma, self.beta = bn.gamma, bn.beta
        self.moving_mean, self.moving_variance = bn.moving_mean, bn.moving_variance
        self.fuse_relu = bool(fuse_relu)
        self.eps_tensor = Tensor(np.array([bn.eps], np.float32))
        self.kernel_op = _batchnorm_op(str(library), self.fuse_relu)

    def construct(self, x):
        if not self.training:
            y = super().construct(x)
            return ops.relu(y) if self.fuse_relu else y
        dtype = x.dtype
        if dtype != ms.float32:
            x = x.astype(ms.float32)
        y, mean, _, var = self.kernel_op(x, self.gamma, self.beta, self.eps_tensor)
        mean, var = ops.stop_gradient(mean), ops.stop_gradient(var)
        keep = 1.0 - self.momentum
        y = ops.depend(y, ops.assign(self.moving_mean, self.moving_mean * keep + mean * self.momentum))
        y = ops.depend(y, ops.assign(self.moving_variance, self.moving_variance * keep + var * self.momentum))
        if dtype != ms.float32:
            y = y.astype(dtype)
        return y

    def extend_repr(self):
        return super().extend_repr() + f", kernel=batchnorm_cpu, fuse_relu={self.fuse_relu}"


def enable_fast_batchnorm(network, library=None, num_threads=None, fuse_relu=True, cache_dir=DEFAULT_CACHE_DIR):
    """Swap every eligible BatchNorm2d child of `network`'s cells for a `FastBatchNorm2d`, in place.

    library, num_threads, cache_dir: as `fast_depthwise.enable_fast_depthwise`.
    fuse_relu: in a SequentialCell where a ReLU follows the BN, or a cell whose `BN_RELU` names the ReLU cell
        applied to a BN's output and nowhere else (`ConvBNAct`, the ResNet and DLA blocks), run the ReLU inside the
        kernel (that ReLU's place is taken by None in a ConvBNAct, which skips a None activation, else an
        Identity).
    Returns the count; 0, leaving the network unchanged, when not on CPU or the library cannot be built.
    """
    from src.models.layers import ConvBNAct

    def swap_in_sequence(cell, library):
        # [.., BN, ReLU, ..] in a SequentialCell (DLA-34's base_layer, levelN, project, actf): the BN is swapped
        # and a ReLU right after it runs inside the kernel, its place taken by an Identity
        items, count = list(cell), 0
        for i, child in enumerate(items):
            if is_fast_batchnorm_candidate(child):
                fuse = fuse_relu and i + 1 < len(items) and type(items[i + 1]) is nn.ReLU
                fast = FastBatchNorm2d(child, library, fuse_relu=fuse)
                fast.set_train(child.training)
                cell[i] = fast
                if fuse:
                    cell[i + 1] = nn.Identity()
                count += 1
        return count

    def swap(cell, library):
        if isinstance(cell, nn.SequentialCell):
            return swap_in_sequence(cell, library)
        if isinstance(cell, nn.CellList):
            return 0  # its children are indexed, not attributes: a BN directly in a list stays as is
        count = 0
        # {BN attribute: the ReLU attribute applied to its output and nowhere else}, as the cell declares it
        # (ConvBNAct, the ResNet and DLA blocks)
        pairs = dict(getattr(cell, "BN_RELU", {}))
        for attr, child in list(cell.name_cells().items()):
            if not is_fast_batchnorm_candidate(child):
                continue
            fuse = fuse_relu and attr in pairs and type(getattr(cell, pairs[attr], None)) is nn.ReLU
            fast = FastBatchNorm2d(child, library, fuse_relu=fuse)
            fast.set_train(child.training)  # a new Cell starts in inference mode; keep the network's mode
            setattr(cell, attr, fast)
            if fuse:
                setattr(cell, pairs[attr], None if isinstance(cell, ConvBNAct) else nn.Identity())
            count += 1
        return count

    return swap_cells(network, swap, library, num_threads, cache_dir)
