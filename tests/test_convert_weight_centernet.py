"""Tests for src/convert_weight_centernet.py: value-for-value conversion of every kind of source (pose and ctdet
DLA-34, ctdet ResNet, the ImageNet DLA-34 and torchvision ResNets), what the keys tell (task, arch, heads, DCN),
the check against a config, the source flavours (.npz, .pth, `module.` prefix, {'epoch', 'state_dict'} wrapper),
ignored keys, and one-line errors.

Source state dicts are synthesised here with the original's key names: our parameter names with PyTorch's
BatchNorm names (renamed by `original_key` below, written independently of the converter), plus the extras
an original checkpoint carries (`base.fc.*`, `num_batches_tracked`). That our names are the original ones is
tested against docs/centernet.md and the PyTorch transcriptions in tests/models (test_dla.py, test_dla_seg.py,
test_resnet.py, test_resnet_dcn.py), end to end through this converter in their parity tests.
"""
import os
import subprocess
import sys

import mindspore as ms
import numpy as np
import pytest

from src.convert_weight_centernet import describe_source, main, parse_bool
from src.engine.checkpoint import load_weights
from src.model_utils.config import ConfigError
from src.models.dla import DLA34
from src.models.dla_seg import DLASeg
from src.models.resnet import ResNet
from src.models.resnet_dcn import ResNetDCN
from src.tasks import get_task
from tests.models.parity import write_ctdet_config
from tests.requirements import require

pytestmark = pytest.mark.numerics  # make test-portable (pyproject.toml)

POSE_HEADS = get_task("centernet_pose").heads
CTDET_HEADS = (("hm", 80), ("wh", 2), ("reg", 2))

TORCH_BN = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}


def original_key(ours):
    prefix, _, field = ours.rpartition(".")
    return f"{prefix}.{TORCH_BN[field]}" if field in TORCH_BN else ours


def synthetic_original_state(names_and_shapes, seed, classifier_prefix="base.fc"):
    """{original key: random float32} for our parameters, plus the classifier and BN counters of a real file."""
    rng = np.random.default_rng(seed)
    state = {}
    for ours, shape in names_and_shapes:
        state[original_key(ours)] = rng.standard_normal(shape).astype(np.float32)
        if ours.endswith(".moving_variance"):
            state[original_key(ours).replace("running_var", "num_batches_tracked")] = np.array(5000, np.int64)
    state[f"{classifier_prefix}.weight"] = rng.standard_normal((1000, 512, 1, 1)).astype(np.float32)
    state[f"{classifier_prefix}.bias"] = rng.standard_normal(1000).astype(np.float32)
    return state


@pytest.fixture(scope="module")
def pose_names():
    return {dcn: [(n, tuple(p.shape)) for n, p in DLASeg(POSE_HEADS, enable_dcn=dcn).parameters_and_names()]
            for dcn in (True, False)}


@pytest.fixture(scope="module")
def full_state_npz(pose_names, tmp_path_factory):
    state = synthetic_original_state(pose_names[True], seed=0)
    path = tmp_path_factory.mktemp("src") / "multi_pose_dla.npz"
    np.savez(path, **state)
    return state, path


def read_ckpt(path):
    loaded = ms.load_checkpoint(str(path))
    arrays = {k: v.asnumpy() for k, v in loaded.items() if hasattr(v, "asnumpy")}
    tags = {k: v for k, v in loaded.items() if not hasattr(v, "asnumpy")}
    return arrays, tags


def test_full_npz_moves_every_value_and_tags_the_file(full_state_npz, pose_names, tmp_path, capsys):
    state, npz = full_state_npz
    out = tmp_path / "out" / "pose.ckpt"
    assert main(["--npz", str(npz), "--output_path", str(out)]) == 0
    printed = capsys.readouterr().out
    arrays, tags = read_ckpt(out)
    assert tags == {"model": "centernet_pose", "content": "full", "arch": "dla_34", "enable_dcn": "True"}
    assert sorted(arrays) == sorted(n for n, _ in pose_names[True])
    for ours, value in arrays.items():
        np.testing.assert_array_equal(value, state[original_key(ours)], err_msg=ours)
    # DCN offset convs are copied as they are (the reordering for MindSpore happens in the layer)
    key = "dla_up.ida_0.proj_1.conv.conv_offset_mask.weight"
    np.testing.assert_array_equal(arrays[key], state[key])
    num_bn = sum(1 for n, _ in pose_names[True] if n.endswith(".gamma"))
    assert f"ignored {num_bn + 2} keys" in printed and "20112346 parameters" in printed
    assert os.listdir(out.parent) == ["pose.ckpt"]  # written through a temporary name, nothing left behind
    # The file loads strictly into the network through the project's loader (string tags are skipped).
    network = DLASeg(POSE_HEADS)
    report = load_weights(network, str(out), strict=True)
    assert not report.missing and not report.unexpected
    np.testing.assert_array_equal(network.hps[2].bias.asnumpy(), state["hps.2.bias"])


def test_plain_conv_variant(pose_names, full_state_npz, tmp_path):
    state = synthetic_original_state(pose_names[False], seed=1)
    npz = tmp_path / "plain.npz"
    np.savez(npz, **state)
    out = tmp_path / "plain.ckpt"
    main(["--npz", str(npz), "--output_path", str(out), "--enable_dcn", "False"])
    arrays, tags = read_ckpt(out)
    assert tags["enable_dcn"] == "False" and sorted(arrays) == sorted(n for n, _ in pose_names[False])
    # Told by the keys; --enable_dcn only checks: an original (DCN) checkpoint cannot silently lose its offset convs.
    _, dcn_npz = full_state_npz
    with pytest.raises(ValueError, match=r"--enable_dcn False but .* holds a network with deformable convs "
                                         r"\(conv_offset_mask keys\); convert with --enable_dcn True"):
        main(["--npz", str(dcn_npz), "--output_path", str(tmp_path / "x.ckpt"), "--enable_dcn", "False"])
    with pytest.raises(ValueError, match=r"--enable_dcn True but .* holds a network without deformable convs"):
        main(["--npz", str(npz), "--output_path", str(tmp_path / "x.ckpt"), "--enable_dcn", "True"])
    assert not (tmp_path / "x.ckpt").exists()


def test_imagenet_dla34_becomes_a_backbone_checkpoint(tmp_path):
    """dla34-ba72cf86.pth layout: DLA keys without `base.`, plus `fc.*`; the output holds `base.*` only."""
    backbone = [(n, tuple(p.shape)) for n, p in DLA34().parameters_and_names()]
    state = synthetic_original_state(backbone, seed=2, classifier_prefix="fc")
    assert "base_layer.0.weight" in state and not any(k.startswith("base.") for k in state)
    npz = tmp_path / "dla34.npz"
    np.savez(npz, **state)
    out = tmp_path / "dla34_backbone.ckpt"
    main(["--npz", str(npz), "--output_path", str(out)])
    arrays, tags = read_ckpt(out)
    assert tags == {"content": "backbone", "arch": "dla_34"}  # no task: it initialises pose and ctdet alike
    assert sorted(arrays) == sorted(f"base.{n}" for n, _ in backbone)
    np.testing.assert_array_equal(arrays["base.level3.tree2.root.bn.moving_mean"],
                                  state["level3.tree2.root.bn.running_mean"])
    report = load_weights(DLASeg(POSE_HEADS), str(out))  # what training does with --ckpt_path weights
    assert len(report.loaded) == len(backbone) and all(n.startswith("base.") for n in report.loaded)
    assert report.missing and not any(n.startswith("base.") for n in report.missing) and not report.unexpected


def corrupted(state, tmp_path, name, drop=(), add=None, reshape=None):
    bad = {k: v for k, v in state.items() if k not in drop}
    bad.update(add or {})
    for key, shape in (reshape or {}).items():
        bad[key] = np.zeros(shape, np.float32)
    path = tmp_path / f"{name}.npz"
    np.savez(path, **bad)
    return path


@pytest.mark.parametrize("case, pattern", [
    ("missing", r"missing key 'dla_up\.ida_1\.node_2\.actf\.0\.running_var'"),
    ("unexpected", r"unexpected key 'hm\.3\.weight'"),
    ("misshaped", r"key 'ida_up\.up_2\.weight' has shape \(64, 1, 4, 4\), expected \(64, 1, 8, 8\)"),
])
def test_bad_keys_are_named_and_nothing_is_written(full_state_npz, tmp_path, case, pattern):
    state, _ = full_state_npz
    changes = {"missing": {"drop": ("dla_up.ida_1.node_2.actf.0.running_var",)},
               "unexpected": {"add": {"hm.3.weight": np.zeros(3, np.float32)}},
               "misshaped": {"reshape": {"ida_up.up_2.weight": (64, 1, 4, 4)}}}[case]
    path = corrupted(state, tmp_path, case, **changes)
    out = tmp_path / "bad.ckpt"
    with pytest.raises(ValueError, match=pattern):
        main(["--npz", str(path), "--output_path", str(out)])
    assert not out.exists() and sorted(os.listdir(tmp_path)) == [f"{case}.npz"]


def test_other_input_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="--npz .*nope.npz: no such file"):
        main(["--npz", str(tmp_path / "nope.npz"), "--output_path", str(tmp_path / "o.ckpt")])
    stranger = tmp_path / "resnet.npz"
    np.savez(stranger, **{"conv1.weight": np.zeros((64, 3, 7, 7), np.float32)})
    with pytest.raises(ValueError, match="neither a CenterNet model .* nor an ImageNet DLA-34 or torchvision ResNet"):
        main(["--npz", str(stranger), "--output_path", str(tmp_path / "o.ckpt")])
    with pytest.raises(ValueError, match="--output_path .*o.pth: must end in .ckpt"):
        main(["--npz", str(stranger), "--output_path", str(tmp_path / "o.pth")])
    with pytest.raises(ValueError, match="--enable_dcn 'maybe': expected True or False"):
        main(["--npz", str(stranger), "--output_path", str(tmp_path / "o.ckpt"), "--enable_dcn", "maybe"])
    assert parse_bool("true") is True and parse_bool("FALSE") is False and parse_bool("1") is True


def test_cli_reports_one_line_and_exits_2(tmp_path, repo_root):
    result = subprocess.run([sys.executable, str(repo_root / "src" / "convert_weight_centernet.py"), "--npz",
                             str(tmp_path / "missing.npz"), "--output_path", str(tmp_path / "o.ckpt")],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: --npz {tmp_path / 'missing.npz'}: no such file"


def test_pth_wrapper_and_module_prefix_give_the_same_checkpoint(full_state_npz, tmp_path):
    """The original save_model format ({'epoch', 'state_dict', 'optimizer'}) from a DataParallel model."""
    torch = require("torch")
    state, npz = full_state_npz
    tensors = {k: torch.from_numpy(v) for k, v in state.items()}
    pth = tmp_path / "model_best.pth"
    torch.save({"epoch": 140, "state_dict": {f"module.{k}": v for k, v in tensors.items()},
                "optimizer": {"state": {}, "param_groups": [{"lr": 1.25e-4}]}}, str(pth))
    main(["--pth", str(pth), "--output_path", str(tmp_path / "from_pth.ckpt")])
    main(["--npz", str(npz), "--output_path", str(tmp_path / "from_npz.ckpt")])
    from_pth, _ = read_ckpt(tmp_path / "from_pth.ckpt")
    from_npz, _ = read_ckpt(tmp_path / "from_npz.ckpt")
    assert from_pth.keys() == from_npz.keys()
    for key in from_pth:
        np.testing.assert_array_equal(from_pth[key], from_npz[key], err_msg=key)

    not_a_checkpoint = tmp_path / "junk.pth"
    not_a_checkpoint.write_bytes(b"definitely not a zip or pickle")
    with pytest.raises(ValueError, match="junk.pth: cannot be read by torch.load"):
        main(["--pth", str(not_a_checkpoint), "--output_path", str(tmp_path / "o.ckpt")])
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], str(listed))
    with pytest.raises(ValueError, match="list.pth: holds a list, expected a state dict"):
        main(["--pth", str(listed), "--output_path", str(tmp_path / "o.ckpt")])


def test_imagenet_pth_reproduces_the_torch_backbone(tmp_path):
    """dla34-ba72cf86.pth-style file from the PyTorch transcription -> our DLA34 gives the same 6 maps
    (float32 through up to 35 layers; tolerance 1e-4 of each map's largest value, measured <= 2e-5)."""
    torch = require("torch")
    from tests.models.torch_reference import (
        TorchDLA34,
        calibrate_and_perturb_bn_,
        randomize_,
    )

    torch.manual_seed(3)
    ref = randomize_(TorchDLA34(with_fc=True), seed=3)
    rng = np.random.default_rng(3)
    calibrate_and_perturb_bn_(ref, torch.from_numpy(rng.standard_normal((2, 3, 64, 64)).astype(np.float32)), seed=4)
    pth = tmp_path / "dla34-ba72cf86.pth"
    torch.save(ref.state_dict(), str(pth))
    out = tmp_path / "backbone.ckpt"
    main(["--pth", str(pth), "--output_path", str(out)])
    arrays, _ = read_ckpt(out)
    net = DLA34()
    net.set_train(False)
    not_loaded, _ = ms.load_param_into_net(net, {k[len("base."):]: ms.Parameter(v) for k, v in arrays.items()},
                                           strict_load=True)
    assert not not_loaded
    x = rng.standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        expected = [o.numpy() for o in ref(torch.from_numpy(x))]
    for level, (a, b) in enumerate(zip(net(ms.Tensor(x)), expected)):
        np.testing.assert_allclose(a.asnumpy(), b, rtol=0, atol=1e-4 * np.abs(b).max(), err_msg=f"level{level}")


# ---------------------------------------------------------------------------------------------- ctdet, ResNet

def network_names(network):
    return [(n, tuple(p.shape)) for n, p in network.parameters_and_names()]


@pytest.fixture(scope="module")
def ctdet_names():
    return {"dla_34": network_names(DLASeg(CTDET_HEADS)), "resdcn_18": network_names(ResNetDCN(CTDET_HEADS)),
            "resdcn_18_plain": network_names(ResNetDCN(CTDET_HEADS, enable_dcn=False))}


def write_npz(tmp_path, name, state):
    path = tmp_path / f"{name}.npz"
    np.savez(path, **state)
    return path


@pytest.mark.parametrize("arch", ["dla_34", "resdcn_18"])
def test_ctdet_models_move_every_value_and_name_their_task(ctdet_names, tmp_path, capsys, arch):
    """ctdet_coco_dla_2x / ctdet_coco_resdcn18 layouts (the DLA one with its base.fc, the ResNet one without)."""
    names = ctdet_names[arch]
    state = synthetic_original_state(names, seed=4, classifier_prefix="base.fc" if arch == "dla_34" else "fc")
    if arch == "resdcn_18":
        del state["fc.weight"], state["fc.bias"]  # PoseResNet has no classifier
    out = tmp_path / "ctdet.ckpt"
    assert main(["--npz", str(write_npz(tmp_path, arch, state)), "--output_path", str(out)]) == 0
    arrays, tags = read_ckpt(out)
    assert tags == {"model": "centernet_det", "content": "full", "arch": arch, "enable_dcn": "True"}
    assert sorted(arrays) == sorted(n for n, _ in names)
    for ours, value in arrays.items():
        np.testing.assert_array_equal(value, state[original_key(ours)], err_msg=ours)
    head_conv = 256 if arch == "dla_34" else 64
    assert (f"centernet_det {arch} (DCN; heads hm 80, wh 2, reg 2; head_conv {head_conv})"
            in capsys.readouterr().out)


def test_what_the_keys_tell(ctdet_names):
    """describe_source: arch and ResNet depth, task from the heads, cat_spec_wh, DCN, head_conv; backbones."""
    def keys_of(network_or_names, extra=()):
        names = network_or_names if isinstance(network_or_names, list) else network_names(network_or_names)
        return {**{original_key(n): np.zeros(s, np.float32) for n, s in names}, **dict(extra)}

    dla = describe_source(keys_of(ctdet_names["dla_34"]))
    assert (dla.task, dla.arch, dla.heads, dla.head_conv, dla.enable_dcn, dla.cat_spec_wh) == (
        "centernet_det", "dla_34", CTDET_HEADS, 256, True, False)
    res = describe_source(keys_of(ctdet_names["resdcn_18_plain"]))
    assert (res.task, res.arch, res.enable_dcn, res.head_conv) == ("centernet_det", "resdcn_18", False, 64)
    res101 = describe_source(keys_of(ResNetDCN((("hm", 3), ("wh", 6)), num_layers=101, head_conv=32)))
    assert (res101.arch, res101.heads, res101.head_conv, res101.cat_spec_wh) == (
        "resdcn_101", (("hm", 3), ("wh", 6)), 32, True)  # no reg head (--not_reg_offset), wh per class
    pose = describe_source(keys_of(DLASeg(POSE_HEADS, head_conv=64)))
    assert (pose.task, pose.heads) == ("centernet_pose", POSE_HEADS)
    backbone = describe_source(keys_of(network_names(ResNet(34)), {"fc.weight": np.zeros((1000, 512))}))
    assert (backbone.arch, backbone.content) == ("resdcn_34", "backbone")
    assert describe_source(keys_of(network_names(ResNet(50)))).arch == "resdcn_50"


@pytest.mark.parametrize("change, pattern", [
    ("drop_layer4_block", r"a ResNet with BasicBlocks \[2, 2, 2, 1\] per stage, which is none of ResNet-18, 34"),
    ("strange_head", r"keys extra\.\* are not a CenterNet head"),
    ("unknown_task", r"heads \['hm', 'reg'\]: neither a pose model .* nor a detection model"),
])
def test_sources_the_converter_cannot_place(ctdet_names, tmp_path, change, pattern):
    state = synthetic_original_state(ctdet_names["resdcn_18"], seed=5, classifier_prefix="fc")
    if change == "drop_layer4_block":
        state = {k: v for k, v in state.items() if not k.startswith("layer4.1.")}
    elif change == "strange_head":
        state["extra.weight"] = np.zeros((3, 64, 1, 1), np.float32)
    else:
        state = {k: v for k, v in state.items() if not k.startswith("wh.")}
    with pytest.raises(ValueError, match=pattern):
        main(["--npz", str(write_npz(tmp_path, change, state)), "--output_path", str(tmp_path / "o.ckpt")])
    assert not (tmp_path / "o.ckpt").exists()


def test_torchvision_resnet18_pth_reproduces_the_torch_backbone(tmp_path):
    """resnet18-5c106cde.pth-style file (torchvision keys with fc.*) from the PyTorch transcription -> a backbone
    checkpoint whose ResNet gives the same stride-32 map (tolerance 1e-4 of the largest value, as the DLA-34
    test: float32 through 18 layers) and loads as the backbone of the ctdet ResNet network."""
    torch = require("torch")
    from tests.models.torch_reference import TorchResNet, calibrate_and_perturb_bn_, randomize_

    torch.manual_seed(6)
    ref = randomize_(TorchResNet(18, with_fc=True), seed=6)
    rng = np.random.default_rng(6)
    calibrate_and_perturb_bn_(ref, torch.from_numpy(rng.standard_normal((2, 3, 64, 64)).astype(np.float32)), seed=7)
    state = ref.state_dict()
    assert "fc.weight" in state and "layer2.0.downsample.1.running_var" in state
    pth = tmp_path / "resnet18-5c106cde.pth"
    torch.save(state, str(pth))
    out = tmp_path / "resnet18_backbone.ckpt"
    main(["--pth", str(pth), "--output_path", str(out)])
    arrays, tags = read_ckpt(out)
    assert tags == {"content": "backbone", "arch": "resdcn_18"}
    net = ResNet(18)
    net.set_train(False)
    assert sorted(arrays) == sorted(n for n, _ in net.parameters_and_names())
    report = load_weights(net, str(out), strict=True)
    assert not report.missing and not report.unexpected
    x = rng.standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    got = net(ms.Tensor(x)).asnumpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    report = load_weights(ResNetDCN(CTDET_HEADS), str(out))  # what training does with --pretrained_backbone
    assert len(report.loaded) == len(arrays) and not report.unexpected
    assert all(n.startswith(("deconv_layers.", "hm.", "wh.", "reg.")) for n in report.missing)


def test_content_backbone_keeps_the_backbone_of_a_full_model(ctdet_names, tmp_path):
    """ctdet_coco_dla_2x -> its DLA-34 only (the original started pose training from it); an ImageNet file
    cannot be a full model."""
    state = synthetic_original_state(ctdet_names["dla_34"], seed=8)
    npz = write_npz(tmp_path, "ctdet_dla", state)
    out = tmp_path / "dla_from_ctdet.ckpt"
    main(["--npz", str(npz), "--output_path", str(out), "--content", "backbone"])
    arrays, tags = read_ckpt(out)
    assert tags == {"content": "backbone", "arch": "dla_34"}
    assert sorted(arrays) == sorted(n for n, _ in ctdet_names["dla_34"] if n.startswith("base."))
    np.testing.assert_array_equal(arrays["base.level5.root.conv.weight"], state["base.level5.root.conv.weight"])
    report = load_weights(DLASeg(POSE_HEADS), str(out))
    assert len(report.loaded) == len(arrays) and not report.unexpected
    backbone = synthetic_original_state(network_names(ResNet(18)), seed=9, classifier_prefix="fc")
    with pytest.raises(ValueError, match=r"--content full: .* holds only a resdcn_18 backbone"):
        main(["--npz", str(write_npz(tmp_path, "r18", backbone)), "--output_path", str(out), "--content", "full"])


# ---------------------------------------------------------------------------------------------- --config_path

@pytest.fixture(scope="module")
def ctdet_dla_npz(ctdet_names, tmp_path_factory):
    return write_npz(tmp_path_factory.mktemp("ctdet"), "ctdet_dla", synthetic_original_state(ctdet_names["dla_34"], 10))


def test_config_that_describes_the_file_passes(ctdet_dla_npz, ctdet_names, full_state_npz, tmp_path, repo_root):
    main(["--npz", str(ctdet_dla_npz), "--output_path", str(tmp_path / "a.ckpt"), "--config_path",
          str(write_ctdet_config(tmp_path))])  # the shipped config: head_conv -1 is DLA-34's 256
    resnet = write_npz(tmp_path, "ctdet_r18", synthetic_original_state(ctdet_names["resdcn_18"], 12,
                                                                       classifier_prefix="fc"))
    main(["--npz", str(resnet), "--output_path", str(tmp_path / "r.ckpt"), "--config_path",
          str(write_ctdet_config(tmp_path, arch="resdcn_18"))])  # head_conv -1: ResNet's 64
    _, pose_npz = full_state_npz
    main(["--npz", str(pose_npz), "--output_path", str(tmp_path / "b.ckpt"), "--config_path",
          str(repo_root / "configs" / "centernet_pose.yaml")])  # no `arch` key: DLA-34
    assert read_ckpt(tmp_path / "a.ckpt")[1]["model"] == "centernet_det"


@pytest.mark.parametrize("override, pattern", [
    ({"task": "centernet_pose"}, r"task 'centernet_pose' but .* holds 'centernet_det'"),
    ({"arch": "resdcn_18", "head_conv": 64}, r"arch 'resdcn_18' but .* holds 'dla_34'"),
    ({"num_classes": 20, "category_ids": list(range(1, 21)), "class_names": [f"c{i}" for i in range(20)]},
     r"heads \{'hm': 20, 'wh': 2, 'reg': 2\} but .* holds \{'hm': 80, 'wh': 2, 'reg': 2\}"),
    ({"head_conv": 64}, r"head_conv 64 but .* holds 256"),
    ({"enable_dcn": False}, r"enable_dcn False but .* holds True"),
    ({"cat_spec_wh": True}, r"heads \{'hm': 80, 'wh': 160, 'reg': 2\} but .* holds \{'hm': 80, 'wh': 2, 'reg': 2\}"),
])
def test_config_mismatch_is_one_error_naming_the_key(ctdet_dla_npz, tmp_path, override, pattern):
    config = write_ctdet_config(tmp_path, **override)
    out = tmp_path / "o.ckpt"
    with pytest.raises(ConfigError, match=rf"--config_path {config}: {pattern} \(centernet_det dla_34"):
        main(["--npz", str(ctdet_dla_npz), "--output_path", str(out), "--config_path", str(config)])
    assert not out.exists()


def test_pose_config_heads_are_the_tasks(full_state_npz, tmp_path):
    """A pose config has no `heads` key: its heads are those its task builds from num_joints and the head options,
    so a config without the joint heatmap heads describes another network than the original checkpoint."""
    config = tmp_path / "no_hm_hp.yaml"
    config.write_text("task: centernet_pose\nhm_hp: false\nreg_hp_offset: false\n")
    _, pose_npz = full_state_npz
    out = tmp_path / "o.ckpt"
    with pytest.raises(ConfigError, match=rf"--config_path {config}: heads \{{'hm': 1, 'wh': 2, 'hps': 34, 'reg': 2\}} "
                                          r"but .* holds \{'hm': 1, 'wh': 2, 'hps': 34, 'reg': 2, 'hm_hp': 17, "
                                          r"'hp_offset': 2\} \(centernet_pose dla_34"):
        main(["--npz", str(pose_npz), "--output_path", str(out), "--config_path", str(config)])
    assert not out.exists()


def test_config_check_of_a_backbone_and_the_cli_line(ctdet_names, tmp_path, repo_root):
    backbone = write_npz(tmp_path, "r18", synthetic_original_state(network_names(ResNet(18)), 11,
                                                                   classifier_prefix="fc"))
    main(["--npz", str(backbone), "--output_path", str(tmp_path / "ok.ckpt"), "--config_path",
          str(write_ctdet_config(tmp_path, arch="resdcn_18"))])
    config = write_ctdet_config(tmp_path, "dla.yaml")
    result = subprocess.run([sys.executable, str(repo_root / "src" / "convert_weight_centernet.py"), "--npz",
                             str(backbone), "--output_path", str(tmp_path / "o.ckpt"), "--config_path", str(config)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (f"error: --config_path {config}: arch 'dla_34' but {backbone} "
                                                      f"holds 'resdcn_18' (resdcn_18 backbone)")
    missing = tmp_path / "nope.yaml"
    with pytest.raises(FileNotFoundError, match="--config_path .*nope.yaml: no such file"):
        main(["--npz", str(backbone), "--output_path", str(tmp_path / "o.ckpt"), "--config_path", str(missing)])
