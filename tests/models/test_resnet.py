"""Tests for src/models/resnet.py: torchvision's key layout and published parameter counts, the stem's max-pool
against PyTorch's, output strides and widths, and output parity with the PyTorch transcription
(benchmarks/torch_centernet.py `TorchResNet`) for BasicBlock and Bottleneck networks.

Parity tolerance: 1e-4 of the output's largest |value| (float32 through 18-50 layers; measured <= 2e-6 at 64x64).
"""
import numpy as np
import pytest
from mindspore import Tensor

from benchmarks.torch_centerface import ms_to_torch_key
from src.models.layers import count_parameters
from src.models.resnet import ResNet, StemMaxPool
from tests.requirements import require

# torchvision's published parameter counts (resnet18: 11,689,512, ...) minus the classifier fc (512 or 2048 -> 1000)
TORCHVISION_PARAMETERS = {18: 11_689_512 - 513_000, 34: 21_797_672 - 513_000, 50: 25_557_032 - 2_049_000,
                          101: 44_549_160 - 2_049_000}


@pytest.mark.parametrize("depth", [18, 34, 50, 101])
def test_parameter_counts_and_key_layout_are_torchvisions(depth):
    torch = require("torch")
    from tests.models.torch_reference import TorchResNet

    net = ResNet(depth)
    assert count_parameters(net) == TORCHVISION_PARAMETERS[depth]
    ours = {ms_to_torch_key(name): tuple(p.shape) for name, p in net.parameters_and_names()}
    with torch.no_grad():
        theirs = {k: tuple(v.shape) for k, v in TorchResNet(depth, with_fc=True).state_dict().items()
                  if not k.endswith("num_batches_tracked") and not k.startswith("fc.")}
    assert ours == theirs
    assert {p.name for p in net.get_parameters()} == {n for n, _ in net.parameters_and_names()}
    if depth == 18:
        assert ours["layer2.0.downsample.0.weight"] == (128, 64, 1, 1) and "layer1.0.downsample.0.weight" not in ours
    if depth == 50:  # Bottleneck: the stride on the 3x3 conv, a projection already in layer1 (64 -> 256)
        assert ours["layer1.0.downsample.0.weight"] == (256, 64, 1, 1)
        assert ours["layer2.0.conv2.weight"] == (128, 128, 3, 3) and ours["layer2.0.conv3.weight"] == (512, 128, 1, 1)


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 4, 9, 7), (1, 2, 1, 1), (1, 1, 2, 3)])
def test_stem_max_pool_equals_pytorchs_for_non_negative_input(mode, shape):
    """Zero border + valid 3x3/2 pool == max_pool2d(3, 2, padding=1) (an implicit -inf border) when x >= 0, at even,
    odd and tiny sizes; zeros included (the ReLU before it produces many)."""
    torch = require("torch")
    x = np.maximum(np.random.default_rng(sum(shape)).standard_normal(shape), 0).astype(np.float32)
    expected = torch.nn.functional.max_pool2d(torch.from_numpy(x), 3, 2, 1).numpy()
    np.testing.assert_array_equal(StemMaxPool()(Tensor(x)).asnumpy(), expected)


def test_output_stride_and_width(mode):
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 64, 96)).astype(np.float32))
    net18 = ResNet(18)
    net18.set_train(False)
    assert net18(x).shape == (2, 512, 2, 3) and net18.out_channels == 512
    assert ResNet(50).out_channels == 2048
    with pytest.raises(ValueError, match=r"ResNet num_layers=20: expected one of \[18, 34, 50, 101, 152\]"):
        ResNet(20)


@pytest.mark.parametrize("depth", [18, 50])
def test_outputs_equal_the_torch_transcription(depth):
    """Random weights and perturbed BN statistics (tests/models/torch_reference.py), eval mode, 64x64."""
    torch = require("torch")
    from tests.models.torch_reference import TorchResNet, calibrate_and_perturb_bn_, randomize_

    torch.manual_seed(depth)
    ref = randomize_(TorchResNet(depth), seed=depth)
    rng = np.random.default_rng(depth)
    calibrate_and_perturb_bn_(ref, torch.from_numpy(rng.standard_normal((2, 3, 64, 64)).astype(np.float32)), depth)
    net = ResNet(depth)
    net.set_train(False)
    state = ref.state_dict()
    for name, param in net.parameters_and_names():
        param.set_data(Tensor(state[ms_to_torch_key(name)].numpy()))
    x = rng.standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    got = net(Tensor(x)).asnumpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
