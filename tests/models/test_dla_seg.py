"""Tests for src/models/dla_seg.py (with dla_up.py and the CenterNet head of layers.py), built with the pose heads
and the ctdet heads: original key layout and parameter counts, head initialisation, the bilinear up-sampling,
output layout, and parity with the PyTorch transcription of the original network (tests/models/torch_reference.py)
through the real converter CLI (tests/models/parity.py: the tolerance 1e-3 of each map's range and why; measured
for pose 2-3e-4 at 64x64, ~1e-4 at 512x512).
"""
import mindspore as ms
import numpy as np
import pytest

from src.models.dla_seg import DLASeg
from src.models.dla_up import IDAUp
from src.models.layers import bilinear_upsample_weight, count_parameters
from src.tasks import get_task
from tests.models.parity import assert_parity, build_reference_checkpoint, execution_mode, write_ctdet_config

POSE_HEADS = get_task("centernet_pose").heads
CTDET_HEADS = (("hm", 80), ("wh", 2), ("reg", 2))

# docs/centernet.md "Network": 20,112,346 parameters (base.fc excluded): backbone 15.27 M, dla_up 3.52 M, ida_up 0.43 M,
# heads 0.90 M; 16 DCN layers.
ORIGINAL_PARAMETERS = 20_112_346
# Input widths of the 16 DCNs (proj_k reads the level's width, node_k the IDA width), from the IDAUp definitions.
DCN_INPUT_CHANNELS = {"dla_up.ida_0": (512, 256), "dla_up.ida_1": (256, 128, 256, 128),
                      "dla_up.ida_2": (128, 64, 128, 64, 128, 64), "ida_up": (128, 64, 256, 64)}


@pytest.fixture(scope="module")
def net():
    network = DLASeg(POSE_HEADS)
    network.set_train(False)
    return network


def shapes_of(network):
    return {name: tuple(p.shape) for name, p in network.parameters_and_names()}


def test_parameter_count_and_breakdown(net):
    assert count_parameters(net) == ORIGINAL_PARAMETERS
    by_part = {}
    for p in net.trainable_params():
        part = p.name.split(".")[0]
        part = part if part in ("base", "dla_up", "ida_up") else "heads"
        by_part[part] = by_part.get(part, 0) + int(np.prod(p.shape))
    assert {k: round(v / 1e6, 2) for k, v in by_part.items()} == {"base": 15.27, "dla_up": 3.52, "ida_up": 0.43,
                                                                  "heads": 0.90}


def test_without_dcn_only_the_offset_convs_go():
    plain = DLASeg(POSE_HEADS, enable_dcn=False)
    offset_params = sum(27 * c * 9 + 27 for widths in DCN_INPUT_CHANNELS.values() for c in widths)
    assert sum(len(v) for v in DCN_INPUT_CHANNELS.values()) == 16
    assert count_parameters(plain) == ORIGINAL_PARAMETERS - offset_params == 19_474_282
    names = set(shapes_of(plain))
    assert not any("conv_offset_mask" in n for n in names)
    assert shapes_of(plain)["dla_up.ida_0.proj_1.conv.weight"] == (256, 512, 3, 3)
    assert shapes_of(plain)["dla_up.ida_0.proj_1.conv.bias"] == (256,)


def test_original_key_names_and_shapes(net):
    shapes = shapes_of(net)
    assert {p.name for p in net.get_parameters()} == set(shapes)  # saved names = attribute paths
    expected = {"base.base_layer.0.weight": (16, 3, 7, 7), "base.level3.tree1.tree1.bn1.gamma": (128,),
                "base.level4.tree2.root.conv.weight": (256, 896, 1, 1),
                "dla_up.ida_0.proj_1.conv.weight": (256, 512, 3, 3), "dla_up.ida_0.proj_1.conv.bias": (256,),
                "dla_up.ida_0.proj_1.conv.conv_offset_mask.weight": (27, 512, 3, 3),
                "dla_up.ida_0.proj_1.conv.conv_offset_mask.bias": (27,),
                "dla_up.ida_0.proj_1.actf.0.moving_variance": (256,), "dla_up.ida_0.up_1.weight": (256, 1, 4, 4),
                "dla_up.ida_1.up_2.weight": (128, 1, 4, 4), "dla_up.ida_2.up_3.weight": (64, 1, 4, 4),
                "dla_up.ida_2.node_3.conv.conv_offset_mask.weight": (27, 64, 3, 3),
                "ida_up.proj_2.conv.weight": (64, 256, 3, 3), "ida_up.up_1.weight": (64, 1, 4, 4),
                "ida_up.up_2.weight": (64, 1, 8, 8), "ida_up.node_2.actf.0.gamma": (64,)}
    for name, shape in expected.items():
        assert shapes.get(name) == shape, name
    for head, channels in POSE_HEADS:
        assert shapes[f"{head}.0.weight"] == (256, 64, 3, 3) and shapes[f"{head}.0.bias"] == (256,)
        assert shapes[f"{head}.2.weight"] == (channels, 256, 1, 1) and shapes[f"{head}.2.bias"] == (channels,)
    offset_convs = sorted(n[:-len(".conv.conv_offset_mask.weight")] for n in shapes
                          if n.endswith("conv_offset_mask.weight"))
    expected_dcns = sorted(f"{ida}.{kind}_{k}" for ida, widths in DCN_INPUT_CHANNELS.items()
                           for k in range(1, len(widths) // 2 + 1) for kind in ("proj", "node"))
    assert offset_convs == expected_dcns
    for ida, widths in DCN_INPUT_CHANNELS.items():
        for idx, width in enumerate(widths):
            kind, k = ("proj", "node")[idx % 2], idx // 2 + 1
            assert shapes[f"{ida}.{kind}_{k}.conv.conv_offset_mask.weight"][1] == width
    assert not any(n.startswith("base.fc") for n in shapes)


def test_head_biases_start_at_the_prior(net):
    for head, channels in POSE_HEADS:
        final_bias = getattr(net, head)[2].bias.asnumpy()
        expected = -2.19 if head in ("hm", "hm_hp") else 0.0
        np.testing.assert_allclose(final_bias, np.full(channels, expected, np.float32), rtol=1e-6)
        assert not getattr(net, head)[0].bias.asnumpy().any()


def test_bilinear_upsample_weight_hand_values(net):
    # k=4: f=2, c=0.75, 1-|i/2-0.75| for i=0..3; k=8: f=4, c=0.875, 1-|i/4-0.875| for i=0..7.
    ramp4 = np.array([0.25, 0.75, 0.75, 0.25])
    ramp8 = np.array([0.125, 0.375, 0.625, 0.875, 0.875, 0.625, 0.375, 0.125])
    w4, w8 = bilinear_upsample_weight(3, 4), bilinear_upsample_weight(2, 8)
    assert w4.shape == (3, 1, 4, 4) and w8.shape == (2, 1, 8, 8)
    np.testing.assert_allclose(w4[2, 0], np.outer(ramp4, ramp4))
    np.testing.assert_allclose(w8[1, 0], np.outer(ramp8, ramp8))
    np.testing.assert_array_equal(net.ida_up.up_2.weight.asnumpy(), bilinear_upsample_weight(64, 8))
    np.testing.assert_array_equal(net.dla_up.ida_0.up_1.weight.asnumpy(), bilinear_upsample_weight(256, 4))


def test_transposed_convs_upsample_exactly_2x_and_4x(net, mode):
    """Output size (in - 1) * f - 2 * (f // 2) + 2f = f * in; the bilinear kernel maps a constant to itself away
    from the borders (its taps at stride f sum to 1)."""
    for up, factor in ((net.ida_up.up_1, 2), (net.ida_up.up_2, 4)):
        height, width = 5, 7
        out = up(ms.Tensor(np.full((1, 64, height, width), 3.0, np.float32))).asnumpy()
        assert out.shape == (1, 64, factor * height, factor * width)
        interior = out[:, :, factor:-factor, factor:-factor]
        np.testing.assert_allclose(interior, 3.0, rtol=1e-6)


def test_output_layout_raw_maps(net):
    """PyNative (GRAPH compilation of the whole network is covered by the 64x64 DCN parity test)."""
    x = ms.Tensor(np.random.default_rng(0).standard_normal((2, 3, 64, 96)).astype(np.float32))
    with execution_mode(ms.PYNATIVE_MODE):
        outputs = net(x)
    assert len(outputs) == len(POSE_HEADS)
    for out, (name, channels) in zip(outputs, POSE_HEADS):
        assert out.shape == (2, channels, 16, 24), name
    heatmap = outputs[0].asnumpy()
    assert heatmap.min() < 0  # raw logits: no sigmoid inside the network


def test_custom_heads_and_bad_arguments():
    det = DLASeg(heads=(("hm", 80), ("wh", 2), ("reg", 2)), head_conv=64, enable_dcn=False)
    assert det.head_names == ("hm", "wh", "reg")
    assert det.hm[2].weight.shape == (80, 64, 1, 1)
    with pytest.raises(ValueError, match="down_ratio=8"):
        DLASeg(POSE_HEADS, down_ratio=8)
    with pytest.raises(ValueError, match="uniquely named"):
        DLASeg(heads=(("hm", 1), ("hm", 2)))
    with pytest.raises(ValueError, match="'wh' has 0 channels"):
        DLASeg(heads=(("hm", 1), ("wh", 0)))
    with pytest.raises(ValueError, match="head name 'base': expected an identifier"):
        DLASeg(heads=(("hm", 1), ("base", 2)))
    with pytest.raises(ValueError, match=r"up_factors\[1\]=3: expected 2, 4 or 8"):
        IDAUp(8, (8, 8), (1, 3))


def test_training_gradients_reach_every_used_parameter():
    """Batch 2 in training mode (BN on batch statistics), non-zero offsets: every gradient finite, and non-zero
    except for the original's dead `level3.project` / `level4.project` (docs/centernet.md "Network")."""
    from mindspore import ops

    with execution_mode(ms.PYNATIVE_MODE):
        network = DLASeg(POSE_HEADS)
        network.set_train(True)
        rng = np.random.default_rng(5)
        for name, param in network.parameters_and_names():
            if name.endswith("conv_offset_mask.weight"):
                param.set_data(ms.Tensor((rng.standard_normal(param.shape) * 0.01).astype(np.float32)))
        params = network.trainable_params()

        def loss_fn(x):
            return sum(ops.mean(out * out) for out in network(x))

        x = ms.Tensor(rng.standard_normal((2, 3, 64, 64)).astype(np.float32))
        _, grads = ms.value_and_grad(loss_fn, None, params)(x)
    grads = {p.name: g.asnumpy() for p, g in zip(params, grads)}
    assert all(np.isfinite(g).all() for g in grads.values())
    zero = sorted(name for name, g in grads.items() if not g.any())
    assert zero == sorted(f"base.level{i}.project.{field}" for i in (3, 4)
                          for field in ("0.weight", "1.gamma", "1.beta"))


# ---------------------------------------------------------------------------------------------- parity
# Through the converter CLI against the PyTorch transcription; tolerance and its reasons: tests/models/parity.py.

def test_parity_with_original_transcription_64_dcn_graph(tmp_path):
    """GRAPH mode: also the check that construct() compiles (the layout test runs in PyNative only)."""
    with execution_mode(ms.GRAPH_MODE):
        ref, x, ckpt = build_reference_checkpoint(tmp_path, 64, True, "dla_34", POSE_HEADS)
        assert_parity(ref, x, ckpt, "dla_34", POSE_HEADS, True)


def test_parity_with_original_transcription_64_plain_convs(tmp_path):
    with execution_mode(ms.PYNATIVE_MODE):
        ref, x, ckpt = build_reference_checkpoint(tmp_path, 64, False, "dla_34", POSE_HEADS)
        assert_parity(ref, x, ckpt, "dla_34", POSE_HEADS, False)


@pytest.mark.slow
def test_ctdet_parity_with_original_transcription_512_graph(tmp_path):
    """ctdet_coco_dla_2x's network (hm 80, wh 2, reg 2) at the original's 512x512, converted with the ctdet config
    check. Measured: 8.3e-5 (hm), 6.9e-5 (wh), 7.5e-5 (reg) of each map's range; PyTorch float32 vs float64:
    5-6e-5."""
    with execution_mode(ms.GRAPH_MODE):
        config = write_ctdet_config(tmp_path)
        ref, x, ckpt = build_reference_checkpoint(tmp_path, 512, True, "dla_34", CTDET_HEADS, config_path=config)
        assert_parity(ref, x, ckpt, "dla_34", CTDET_HEADS, True)
