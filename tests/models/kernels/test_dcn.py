"""Tests for src/models/kernels/dcn.py and its compiled kernel src/models/kernels/dcn_cpu.cc.

References:
* `im2col_numpy` below: a float64 numpy transcription of DCNv2's modulated deformable im2col written here from the
  sampling rule (docs/centernet.md "Deformable convolution layout"), vectorised over pixels; its central finite
  differences check the kernel's backward (input and raw offset/mask gradients) independently of any MindSpore gradient;
* the scalar float64 transcription of the whole layer in tests/models/dcn_reference.py (`dcnv2_numpy`);
* MindSpore's own `ModulatedDeformConv2d` (`ops.deformable_conv2d`), the layer the kernel replaces: outputs and
  the gradients of every parameter and of the input, batch 2, GRAPH and PYNATIVE.
Tolerances: the kernel computes in float32. Against float64: 2e-5 of the largest |value| (a few ulps of O(1)
values summed over C*9 products, as tests/models/test_dcn.py). Against MindSpore's op: 1e-5 of the largest |value|
(measured 5e-7 for outputs and input gradients, 4e-7 relative for parameter gradients: float32 summation order).
A wrong channel, offset order, tap or sign is off by O(0.1) or more.
"""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn, ops

from src.models.dcn import ModulatedDeformConv2d
from src.models.kernels.dcn import FastModulatedDeformConv2d, deformable_im2col_op, enable_fast_dcn
from src.tasks import get_task
from tests.models.dcn_reference import dcnv2_numpy, random_layer
from tests.models.kernels.gradients import LayerGrads, assert_close
from tests.requirements import require

pytestmark = pytest.mark.numerics  # make test-portable (pyproject.toml)

FLOAT64_RTOL = 2e-5
MINDSPORE_RTOL = 1e-5


def im2col_numpy(x, om):
    """float64 (N, C*9, H*W) columns of x (N,C,H,W) for the raw offset/mask map om (N,27,H,W): row c*9 + k holds
    input channel c sampled at (h - 1 + i + dy_k, w - 1 + j + dx_k), k = 3i + j, dy_k = om[2k], dx_k = om[2k+1],
    bilinear with taps outside the map counting 0, 0 unless -1 < y < H and -1 < x < W, times sigmoid(om[18 + k])."""
    x, om = x.astype(np.float64), om.astype(np.float64)
    n, c, h, w = x.shape
    batch = np.arange(n)[:, None, None]
    rows, cols = np.arange(h)[None, :, None], np.arange(w)[None, None, :]
    out = np.zeros((n, c, 9, h, w))
    for k in range(9):
        i, j = divmod(k, 3)
        y, xx = rows - 1 + i + om[:, 2 * k], cols - 1 + j + om[:, 2 * k + 1]
        inside = (y > -1) & (y < h) & (xx > -1) & (xx < w)
        y0, x0 = np.floor(y), np.floor(xx)
        value = np.zeros((n, h, w, c))
        for dr, wy in ((0, 1 - (y - y0)), (1, y - y0)):
            for dc, wx in ((0, 1 - (xx - x0)), (1, xx - x0)):
                r, q = (y0 + dr).astype(int), (x0 + dc).astype(int)
                valid = inside & (r >= 0) & (r < h) & (q >= 0) & (q < w)
                taps = x[batch, :, np.clip(r, 0, h - 1), np.clip(q, 0, w - 1)]  # (N, H, W, C)
                value += (wy * wx * valid)[..., None] * taps
        mask = 1.0 / (1.0 + np.exp(-om[:, 18 + k]))
        out[:, :, k] = np.moveaxis(value * mask[..., None], -1, 1)
    return out.reshape(n, c * 9, h * w)


def batch_in_columns(cols):
    """(N, C*9, H*W) columns as the kernel lays them out: (C*9, N*H*W), image n in columns n*H*W ... (n+1)*H*W - 1."""
    n, rows, pixels = cols.shape
    return np.moveaxis(cols, 0, 1).reshape(rows, n * pixels)


def random_case(seed, shape=(2, 3, 4, 5), offset_px=2.5):
    """x and a raw offset/mask map whose offsets reach +-offset_px (many samples fall off the map)."""
    rng = np.random.default_rng(seed)
    n, _, h, w = shape
    x = rng.standard_normal(shape).astype(np.float32)
    om = np.concatenate([rng.uniform(-offset_px, offset_px, (n, 18, h, w)), rng.normal(0, 1.5, (n, 9, h, w))], axis=1)
    return x, om.astype(np.float32)


class _Im2col(nn.Cell):
    def __init__(self, library):
        super().__init__()
        self.op = deformable_im2col_op(library)

    def construct(self, x, om):
        return self.op(x, om)


class _Im2colGrad(nn.Cell):
    """(dx, dom) of sum(im2col(x, om) * dcols)."""

    def __init__(self, library):
        super().__init__()
        self.im2col = _Im2col(library)
        self.grad = ops.GradOperation(get_all=True, sens_param=True)

    def construct(self, x, om, dcols):
        return self.grad(self.im2col)(x, om, dcols)


def test_reference_reproduces_a_hand_computed_sample():
    """The reference itself: one channel, centre point shifted by (dy, dx) = (0.25, -0.5), mask logit 0 (0.5)."""
    x = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    om = np.zeros((1, 27, 3, 4), np.float32)
    om[0, 8], om[0, 9] = 0.25, -0.5  # dy, dx of point 4 (the centre)
    cols = im2col_numpy(x, om).reshape(9, 3, 4)
    # pixel (1, 2): y = 1.25, x = 1.5 -> 0.75 (0.5 x[1,1] + 0.5 x[1,2]) + 0.25 (0.5 x[2,1] + 0.5 x[2,2])
    #   = 0.75 * 5.5 + 0.25 * 9.5 = 6.5 (x[r, c] = 4r + c)
    assert cols[4, 1, 2] == pytest.approx(0.5 * 6.5)
    # pixel (2, 0): y = 2.25 (row 3 is outside), x = -0.5 (column -1 is outside) -> 0.75 * 0.5 * x[2, 0] = 3.0
    assert cols[4, 2, 0] == pytest.approx(0.5 * 3.0)
    # point 0 at pixel (0, 0) samples (-1, -1): outside (-1, H) x (-1, W) -> 0
    assert cols[0, 0, 0] == 0.0 and cols[0, 1, 1] == pytest.approx(0.5 * x[0, 0, 0, 0])


def test_im2col_matches_numpy_transcription(library, mode):
    x, om = random_case(0)
    cols = _Im2col(library)(Tensor(x), Tensor(om)).asnumpy()
    reference = im2col_numpy(x, om)
    assert (reference == 0).mean() > 0.1  # the case is meaningful: many samples fall off the map
    assert cols.shape == (3 * 9, 2 * 4 * 5)
    assert_close(cols, batch_in_columns(reference), FLOAT64_RTOL)


def test_im2col_backward_matches_finite_differences(library, mode):
    """Gradients of sum(cols * dcols) w.r.t. x and the raw offset/mask map vs central differences of the float64
    reference (eps 1e-6: bilinear sampling is piecewise linear, so only a kink within 1e-6 px of a sample could
    spoil a difference; improbable with random offsets). Every element is checked; the columns of pixel p depend
    on om only through om[:, :, p], so one offset/mask channel is perturbed at all pixels at once."""
    x, om = random_case(1, shape=(2, 2, 3, 4))
    n, _, h, w = x.shape
    dcols = np.random.default_rng(2).standard_normal((n, 2 * 9, h * w)).astype(np.float32)  # reference layout
    dx, dom = (g.asnumpy() for g in _Im2colGrad(library)(Tensor(x), Tensor(om), Tensor(batch_in_columns(dcols))))
    eps = 1e-6

    def difference(x_plus, om_plus, x_minus, om_minus):
        """(N, H*W) per-pixel central difference of cols * dcols."""
        return ((im2col_numpy(x_plus, om_plus) - im2col_numpy(x_minus, om_minus)) * dcols).sum(axis=1) / (2 * eps)

    dx_ref = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        plus, minus = x.astype(np.float64), x.astype(np.float64)
        plus[index] += eps
        minus[index] -= eps
        dx_ref[index] = difference(plus, om, minus, om).sum()
    dom_ref = np.zeros(om.shape)
    for channel in range(om.shape[1]):
        plus, minus = om.astype(np.float64), om.astype(np.float64)
        plus[:, channel] += eps
        minus[:, channel] -= eps
        dom_ref[:, channel] = difference(x, plus, x, minus).reshape(n, h, w)
    assert_close(dx, dx_ref, 1e-4)
    assert np.abs(dom_ref[:, :18]).max() > 0.1 and np.abs(dom_ref[:, 18:]).max() > 0.1
    assert_close(dom, dom_ref, 1e-4)


def test_layer_matches_scalar_dcnv2_transcription(library, mode):
    layer, values = random_layer(5, 4, seed=0)
    fast = FastModulatedDeformConv2d(layer, library)
    x = np.random.default_rng(1).standard_normal((2, 5, 7, 9)).astype(np.float32)
    reference, _ = dcnv2_numpy(x, values["weight"], values["bias"], values["offset_weight"], values["offset_bias"])
    assert_close(fast(Tensor(x)).asnumpy(), reference, FLOAT64_RTOL)


@pytest.mark.parametrize("shape", [(2, 6, 7, 9), (3, 16, 5, 4)])
def test_layer_outputs_and_every_gradient_match_mindspore(library, mode, shape):
    n, c, h, w = shape
    layer, _ = random_layer(c, 4, seed=c, offset_px=2.0)
    fast = FastModulatedDeformConv2d(layer, library)  # the same Parameters: one set of values for both
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal(shape).astype(np.float32))
    dy = Tensor(rng.standard_normal((n, 4, h, w)).astype(np.float32))
    got, want = LayerGrads(fast)(x, dy), LayerGrads(layer)(x, dy)
    assert len(got) == len(want) == 6  # y, dx, weight, bias, conv_offset_mask.weight, conv_offset_mask.bias
    for name, g, r in zip(("y", "dx", "weight", "bias", "offset weight", "offset bias"), got, want):
        assert np.abs(r.asnumpy()).max() > 0, name
        assert_close(g.asnumpy(), r.asnumpy(), MINDSPORE_RTOL)


@pytest.mark.parametrize("threads", [1, 4])
def test_backward_over_several_pixel_tiles_and_channel_blocks(library, threads):
    """The backward works tile by tile of 256 pixels within each thread's block of channels: 19x17 = 323 pixels
    is one full and one partial tile; 5 channels on 4 threads make 3 blocks of 2, 2 and 1 channels (fewer blocks
    than threads). Compared with MindSpore's op (gradients of every parameter and x)."""
    from src.models.kernels.library import set_kernel_threads

    shape = (2, 5, 19, 17)
    layer, _ = random_layer(shape[1], 3, seed=7, offset_px=2.0)
    fast = FastModulatedDeformConv2d(layer, library)
    rng = np.random.default_rng(8)
    x = Tensor(rng.standard_normal(shape).astype(np.float32))
    dy = Tensor(rng.standard_normal((shape[0], 3) + shape[2:]).astype(np.float32))
    set_kernel_threads(library, threads)
    try:
        got = LayerGrads(fast)(x, dy)
    finally:
        set_kernel_threads(library, ms.get_context("runtime_num_threads") or 0)
    want = LayerGrads(layer)(x, dy)
    for name, g, r in zip(("y", "dx", "weight", "bias", "offset weight", "offset bias"), got, want):
        assert_close(g.asnumpy(), r.asnumpy(), MINDSPORE_RTOL)


def test_one_graph_serves_every_input_size(library):
    """Dynamic input shapes (original-size testing): the kernels' C++ shape functions let one graph run any size."""
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        layer, _ = random_layer(5, 4, seed=2)
        fast = FastModulatedDeformConv2d(layer, library)
        fast.set_inputs(Tensor(shape=[None, 5, None, None], dtype=ms.float32))
        for shape in ((2, 5, 7, 9), (1, 5, 4, 6)):
            x = Tensor(np.random.default_rng(shape[2]).standard_normal(shape).astype(np.float32))
            assert_close(fast(x).asnumpy(), layer(x).asnumpy(), MINDSPORE_RTOL)
        assert len(fast.compile_cache) == 1
    finally:
        ms.set_context(mode=previous)


def test_fresh_layer_with_zero_offsets(library):
    """A freshly initialised layer (offset conv zero: integer sample positions, mask 0.5) equals MindSpore's."""
    ms.set_seed(4)
    layer = ModulatedDeformConv2d(3, 5)
    x = Tensor(np.random.default_rng(4).standard_normal((2, 3, 6, 6)).astype(np.float32))
    assert_close(FastModulatedDeformConv2d(layer, library)(x).asnumpy(), layer(x).asnumpy(), MINDSPORE_RTOL)


def test_swap_keeps_parameters_names_and_checkpoint_keys(library, tmp_path):
    from src.models.dla_up import IDAUp

    ms.set_seed(5)
    ida = IDAUp(4, (4, 6, 8), (1, 2, 4))
    ida.set_train(True)
    before = [(p, p.name) for p in ida.get_parameters()]
    assert enable_fast_dcn(ida, library) == 4  # proj_1, node_1, proj_2, node_2
    assert [(p, p.name) for p in ida.get_parameters()] == before  # the same objects under the same names
    assert all(type(cell.conv) is FastModulatedDeformConv2d and cell.conv.training
               for name, cell in ida.cells_and_names() if name.count(".") == 0 and name[:4] in ("proj", "node"))
    assert enable_fast_dcn(ida, library) == 0  # already swapped
    ms.save_checkpoint(ida, str(tmp_path / "ida.ckpt"))
    plain = IDAUp(4, (4, 6, 8), (1, 2, 4))
    assert set(ms.load_checkpoint(str(tmp_path / "ida.ckpt"))) == {p.name for p in plain.get_parameters()}


def test_rejects_what_it_does_not_compute(library):
    with pytest.raises(ValueError, match="expected a ModulatedDeformConv2d"):
        FastModulatedDeformConv2d(nn.Conv2d(3, 3, 3), library)


class _NetworkStep(nn.Cell):
    """(outputs, gradients of every trainable parameter) of sum_i sum(outputs_i * probes_i)."""

    def __init__(self, network):
        super().__init__(auto_prefix=False)  # keep the network's parameter names
        self.network = network
        self.params = ms.ParameterTuple(network.trainable_params())
        self.grad = ops.GradOperation(get_by_list=True)

    def loss(self, x, probes):
        total = 0.0
        for out, probe in zip(self.network(x), probes):
            total = total + (out * probe).sum()
        return total

    def construct(self, x, probes):
        return self.network(x), self.grad(self.loss, self.params)(x, probes)


CTDET_HEADS = (("hm", 80), ("wh", 2), ("reg", 2))


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["dla_34", "resdcn_18"])
def test_whole_network_with_every_kernel_matches_mindspore_ops(library, tmp_path, arch):
    """A whole CenterNet network (dla_34 with the pose heads: DLA-34, 16 DCNs, BNs in SequentialCells and
    attributes, Winograd 3x3 convs, small heads; resdcn_18 with the ctdet heads: ResNet-18 with the stem max-pool,
    3 DCNs and full ConvTransposes in one SequentialCell) at 64x64, batch 2, GRAPH mode: `enable_cpu_kernels` keeps
    every Parameter and name (and checkpoint keys), and in training mode the outputs, every parameter gradient and
    the BN moving statistics after the step match MindSpore's ops; so do the inference-mode outputs.

    Tolerances. Outputs and moving statistics: 1e-4 of each tensor's largest |value| (measured 3e-5: float32
    differences of ~1e-7 per layer grown through ~60 layers). Gradients: this random network is chaotic at the
    input end: a sample position moved by 1e-5 px across a pixel line changes a DCN's coordinate gradient
    discontinuously, and batch normalisation of 8-value batches at level 5 amplifies it, so MindSpore's own ops
    are 5e-3 away from the same network computed in float64 (the PyTorch twin, `.double()`). The kernels are
    measured 1.6e-3 away; the test requires each gradient to be no farther from the float64 one than twice
    MindSpore's distance (+1e-5), which a wrong gradient term (errors of order 1) cannot meet.
    """
    torch = require("torch")
    from benchmarks.torch_centerface import copy_mindspore_weights, ms_to_torch_key
    from benchmarks.torch_centernet import TorchDLASeg, TorchResNetDCN
    from src.models.centernet_arch import build_centernet_network
    from src.models.kernels import enable_cpu_kernels

    heads = get_task("centernet_pose").heads if arch == "dla_34" else CTDET_HEADS
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        ms.set_seed(6)
        reference, fast = (build_centernet_network(arch, heads, head_conv=16) for _ in range(2))
        rng = np.random.default_rng(6)
        for p, q in zip(reference.get_parameters(), fast.get_parameters()):
            value = p.asnumpy()
            if p.name.endswith("conv_offset_mask.bias"):  # offsets off the grid, masks away from 0.5
                value = np.concatenate([rng.uniform(-1.5, 1.5, 18), rng.normal(0, 1, 9)]).astype(np.float32)
                p.set_data(Tensor(value))
            q.set_data(Tensor(value))
        twin = (TorchDLASeg(heads, head_conv=16, with_fc=False) if arch == "dla_34"
                else TorchResNetDCN(heads, 18, head_conv=16))
        copy_mindspore_weights(twin, reference)
        twin = twin.double().train()
        num_bn = sum(isinstance(cell, nn.BatchNorm2d) for _, cell in reference.cells_and_names())
        names = [p.name for p in fast.get_parameters()]
        for network in (reference, fast):
            network.set_train(True)
        counts = enable_cpu_kernels(fast, library)
        assert counts["batchnorm"] == num_bn
        if arch == "dla_34":
            # the 3x3 stride-1 convs of 32+ channels: BasicBlock conv2s, stride-1 conv1s, heads, DCN offset convs
            assert counts["dcn"] == 16 and counts["winograd"] > 30 and counts["maxpool"] == 0
            # a ReLU after a BN in a SequentialCell runs inside the BN kernel
            assert fast.base.base_layer[1].fuse_relu and isinstance(fast.base.base_layer[2], nn.Identity)
            assert fast.dla_up.ida_0.proj_1.actf[0].fuse_relu
        else:
            # 13 stride-1 block convs, 3 heads, 3 DCN offset convs
            assert counts["dcn"] == 3 and counts["winograd"] == 19 and counts["maxpool"] == 1
            assert fast.deconv_layers[1].fuse_relu and isinstance(fast.deconv_layers[2], nn.Identity)
            assert fast.deconv_layers[4].fuse_relu
            # the blocks' and the stem's declared ReLUs (BN_RELU) too; not bn2, whose output meets the residual
            assert fast.layer1[0].bn1.fuse_relu and isinstance(fast.layer1[0].relu1, nn.Identity)
            assert not fast.layer1[0].bn2.fuse_relu and fast.bn1.fuse_relu and isinstance(fast.relu, nn.Identity)
        assert [p.name for p in fast.get_parameters()] == names
        ms.save_checkpoint(fast, str(tmp_path / "fast.ckpt"))
        assert list(ms.load_checkpoint(str(tmp_path / "fast.ckpt"))) == names

        x = rng.standard_normal((2, 3, 64, 64)).astype(np.float32)
        probes = [rng.standard_normal((2, c, 16, 16)).astype(np.float32) for _, c in reference.heads]
        step_probes = tuple(Tensor(p) for p in probes)
        (out_fast, grads_fast), (out_ref, grads_ref) = (_NetworkStep(net)(Tensor(x), step_probes)
                                                        for net in (fast, reference))
        for got, want in zip(out_fast, out_ref):
            assert_close(got.asnumpy(), want.asnumpy(), 1e-4)
        outputs64 = twin(torch.from_numpy(x).double())
        sum((out * torch.from_numpy(p).double()).sum() for out, p in zip(outputs64, probes)).backward()
        grads64 = {name: param.grad for name, param in twin.named_parameters()}
        largest = max(float(g.abs().max()) for g in grads64.values() if g is not None)
        checked = 0
        for param, got, want in zip(fast.trainable_params(), grads_fast, grads_ref):
            exact = grads64[ms_to_torch_key(param.name)]
            if exact is None or float(exact.abs().max()) < 1e-6 * largest:
                continue  # unused (level3/4.project) or zero in exact arithmetic (a conv bias before a BN)
            exact = exact.numpy()
            error_fast, error_ms = np.abs(got.asnumpy() - exact).max(), np.abs(want.asnumpy() - exact).max()
            assert error_fast <= 2 * error_ms + 1e-5 * np.abs(exact).max(), (param.name, error_fast, error_ms)
            checked += 1
        assert checked > (200 if arch == "dla_34" else 80)
        moving = [(p.asnumpy(), q.asnumpy()) for p, q in zip(fast.get_parameters(), reference.get_parameters())
                  if "moving_" in p.name]
        assert len(moving) == 2 * num_bn
        for got, want in moving:
            assert_close(got, want, 1e-4)
        for network in (reference, fast):
            network.set_train(False)
        for got, want in zip(fast(Tensor(x)), reference(Tensor(x))):
            assert_close(got.asnumpy(), want.asnumpy(), 1e-4)
    finally:
        ms.set_context(mode=previous)


def test_folded_resnet_network_with_kernels_one_graph_every_size(library):
    """The inference path (BN folded, every kernel, input declared (N, 3, None, None)) of the ResNet network: one
    GRAPH compilation serves two sizes, each equal to MindSpore's ops at that size (1e-4 of each map's range, as
    above)."""
    from src.models.fold_bn import fold_batchnorm
    from src.models.kernels import enable_cpu_kernels
    from src.models.kernels.library import supports_dynamic_shape
    from src.models.resnet_dcn import ResNetDCN

    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        ms.set_seed(7)
        reference, fast = ResNetDCN(CTDET_HEADS, head_conv=16), ResNetDCN(CTDET_HEADS, head_conv=16)
        rng = np.random.default_rng(7)
        for p, q in zip(reference.get_parameters(), fast.get_parameters()):
            value = p.asnumpy()
            if p.name.endswith("conv_offset_mask.bias"):
                value = np.concatenate([rng.uniform(-1.5, 1.5, 18), rng.normal(0, 1, 9)]).astype(np.float32)
            p.set_data(Tensor(value))
            q.set_data(Tensor(value))
        for network in (reference, fast):
            network.set_train(False)
            fold_batchnorm(network)
        counts = enable_cpu_kernels(fast, library)
        assert counts["dcn"] == 3 and counts["maxpool"] == 1 and counts["winograd"] == 19
        assert supports_dynamic_shape(fast)
        fast.set_inputs(Tensor(shape=[None, 3, None, None], dtype=ms.float32))
        for shape in ((1, 3, 64, 96), (2, 3, 96, 64)):
            x = Tensor(rng.standard_normal(shape).astype(np.float32))
            for got, want in zip(fast(x), reference(x)):
                assert got.shape == want.shape
                assert_close(got.asnumpy(), want.asnumpy(), 1e-4)
        assert len(fast.compile_cache) == 1
    finally:
        ms.set_context(mode=previous)
