"""A layer's output, input gradient and parameter gradients in one Cell, and the closeness the kernel tests use
(an absolute tolerance of `rtol` times the reference's largest magnitude, at least 1)."""
import mindspore as ms
import numpy as np
from mindspore import nn, ops


class LayerGrads(nn.Cell):
    """(y, dx, grads of the parameters in `trainable_params()` order) of sum(layer(x) * dy)."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer
        self.params = ms.ParameterTuple(layer.trainable_params())
        self.grad = ops.GradOperation(get_all=True, get_by_list=True)

    def loss(self, x, dy):
        return (self.layer(x) * dy).sum()

    def construct(self, x, dy):
        (dx, _), param_grads = self.grad(self.loss, self.params)(x, dy)
        return (self.layer(x), dx) + param_grads


def assert_close(got, want, rtol):
    want = np.asarray(want)
    np.testing.assert_allclose(got, want, rtol=0, atol=rtol * max(1.0, float(np.abs(want).max())))
