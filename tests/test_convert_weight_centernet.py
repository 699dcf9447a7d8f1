"""Tests for src/convert_weight_centernet.py: value-for-value conversion, the source flavours (.npz, .pth,
`module.` prefix, {'epoch', 'state_dict'} wrapper, ImageNet DLA-34), ignored keys, and one-line errors.

Source state dicts are synthesised here with the original's key names: our parameter names with PyTorch's
BatchNorm names (renamed by `original_key` below, written independently of the converter), plus the extras
an original checkpoint carries (`base.fc.*`, `num_batches_tracked`). That our names are the original ones is
tested against CENTERNET.md in tests/models/test_dla.py and tests/models/test_dla_seg.py, and end to end
against the PyTorch transcription in test_dla_seg.py's parity tests.
"""
import os
import subprocess
import sys

import mindspore as ms
import numpy as np
import pytest

from src.centernet_pose.task import CenterNetPoseTask
from src.models.dla_seg import DLASeg
from src.convert_weight_centernet import main, parse_bool
from src.engine.checkpoint import load_weights
from src.models.dla import DLA34
from tests.requirements import require

pytestmark = pytest.mark.numerics  # make test-portable (pyproject.toml)

POSE_HEADS = CenterNetPoseTask.heads

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
    assert main(["--npz", str(npz), "--out_ckpt", str(out)]) == 0
    printed = capsys.readouterr().out
    arrays, tags = read_ckpt(out)
    assert tags == {"model": "centernet_pose", "content": "full", "enable_dcn": "True"}
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
    main(["--npz", str(npz), "--out_ckpt", str(out), "--enable_dcn", "False"])
    arrays, tags = read_ckpt(out)
    assert tags["enable_dcn"] == "False" and sorted(arrays) == sorted(n for n, _ in pose_names[False])
    # An original (DCN) checkpoint cannot silently lose its offset convs.
    _, dcn_npz = full_state_npz
    with pytest.raises(ValueError, match=r"unexpected key '.*conv_offset_mask\.(weight|bias)'.*--enable_dcn True"):
        main(["--npz", str(dcn_npz), "--out_ckpt", str(tmp_path / "x.ckpt"), "--enable_dcn", "False"])
    assert not (tmp_path / "x.ckpt").exists()


def test_imagenet_dla34_becomes_a_backbone_checkpoint(tmp_path):
    """dla34-ba72cf86.pth layout: DLA keys without `base.`, plus `fc.*`; the output holds `base.*` only."""
    backbone = [(n, tuple(p.shape)) for n, p in DLA34().parameters_and_names()]
    state = synthetic_original_state(backbone, seed=2, classifier_prefix="fc")
    assert "base_layer.0.weight" in state and not any(k.startswith("base.") for k in state)
    npz = tmp_path / "dla34.npz"
    np.savez(npz, **state)
    out = tmp_path / "dla34_backbone.ckpt"
    main(["--npz", str(npz), "--out_ckpt", str(out)])
    arrays, tags = read_ckpt(out)
    assert tags["content"] == "backbone" and tags["model"] == "centernet_pose"
    assert sorted(arrays) == sorted(f"base.{n}" for n, _ in backbone)
    np.testing.assert_array_equal(arrays["base.level3.tree2.root.bn.moving_mean"],
                                  state["level3.tree2.root.bn.running_mean"])
    report = load_weights(DLASeg(POSE_HEADS), str(out))  # what training does with --pretrained weights
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
        main(["--npz", str(path), "--out_ckpt", str(out)])
    assert not out.exists() and sorted(os.listdir(tmp_path)) == [f"{case}.npz"]


def test_other_input_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="--npz .*nope.npz: no such file"):
        main(["--npz", str(tmp_path / "nope.npz"), "--out_ckpt", str(tmp_path / "o.ckpt")])
    stranger = tmp_path / "resnet.npz"
    np.savez(stranger, **{"conv1.weight": np.zeros((64, 3, 7, 7), np.float32)})
    with pytest.raises(ValueError, match="neither a CenterNet DLA-34 model"):
        main(["--npz", str(stranger), "--out_ckpt", str(tmp_path / "o.ckpt")])
    with pytest.raises(ValueError, match="--out_ckpt .*o.pth: must end in .ckpt"):
        main(["--npz", str(stranger), "--out_ckpt", str(tmp_path / "o.pth")])
    with pytest.raises(ValueError, match="--enable_dcn 'maybe': expected True or False"):
        main(["--npz", str(stranger), "--out_ckpt", str(tmp_path / "o.ckpt"), "--enable_dcn", "maybe"])
    assert parse_bool("true") is True and parse_bool("FALSE") is False and parse_bool("1") is True


def test_cli_reports_one_line_and_exits_2(tmp_path, repo_root):
    result = subprocess.run([sys.executable, str(repo_root / "src" / "convert_weight_centernet.py"), "--npz",
                             str(tmp_path / "missing.npz"), "--out_ckpt", str(tmp_path / "o.ckpt")],
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
    main(["--pth", str(pth), "--out_ckpt", str(tmp_path / "from_pth.ckpt")])
    main(["--npz", str(npz), "--out_ckpt", str(tmp_path / "from_npz.ckpt")])
    from_pth, _ = read_ckpt(tmp_path / "from_pth.ckpt")
    from_npz, _ = read_ckpt(tmp_path / "from_npz.ckpt")
    assert from_pth.keys() == from_npz.keys()
    for key in from_pth:
        np.testing.assert_array_equal(from_pth[key], from_npz[key], err_msg=key)

    not_a_checkpoint = tmp_path / "junk.pth"
    not_a_checkpoint.write_bytes(b"definitely not a zip or pickle")
    with pytest.raises(ValueError, match="junk.pth: cannot be read by torch.load"):
        main(["--pth", str(not_a_checkpoint), "--out_ckpt", str(tmp_path / "o.ckpt")])
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], str(listed))
    with pytest.raises(ValueError, match="list.pth: holds a list, expected a state dict"):
        main(["--pth", str(listed), "--out_ckpt", str(tmp_path / "o.ckpt")])


def test_imagenet_pth_reproduces_the_torch_backbone(tmp_path):
    """dla34-ba72cf86.pth-style file from the PyTorch transcription -> our DLA34 gives the same 6 maps
    (float32 through up to 35 layers; tolerance 1e-4 of each map's largest value, measured <= 2e-5)."""
    torch = require("torch")
    from tests.centernet_pose.torch_reference import (
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
    main(["--pth", str(pth), "--out_ckpt", str(out)])
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
