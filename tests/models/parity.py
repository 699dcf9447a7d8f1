"""Parity of our CenterNet networks with the PyTorch transcriptions of the originals, through the real converter.

A random twin (tests/models/torch_reference.py: random weights, BN statistics measured then perturbed, DCN offsets
of pixels) is saved as the original's save_model writes it from a DataParallel model ({'epoch', 'state_dict'}
with `module.` keys, num_batches_tracked, the DLA's `base.fc.*`), converted by src/convert_weight_centernet.py's
command-line entry point, loaded strictly into our network of the same arch, and both run the same input.

Tolerance PARITY_RTOL: max |ours - torch| <= 1e-3 of each head map's largest |value|. Both sides run float32
through 20-60 layers including deformable convs whose offsets depend on the features; PyTorch's own float32
result differs from its float64 result by ~0.5-1.5e-4 of that scale (measured with these random networks, DLA-34
and ResNet-18, 64x64 to 512x512), and ours differs from PyTorch's float32 result by 0.5-3e-4, so 1e-3 is a few
times the float32 noise, far below what a wrong key, offset channel order, padding or interpolation rule gives
(errors of order 1, i.e. > 10%).
"""
import contextlib
from pathlib import Path

import mindspore as ms
import numpy as np

from tests.requirements import require

PARITY_RTOL = 1e-3
ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def execution_mode(mode):
    """Run a block in GRAPH_MODE or PYNATIVE_MODE, restoring the previous mode afterwards."""
    previous = ms.get_context("mode")
    ms.set_context(mode=mode)
    try:
        yield
    finally:
        ms.set_context(mode=previous)


def write_ctdet_config(folder, name="centernet_det.yaml", **values):
    """configs/centernet_det.yaml itself, or with `values` an override file over it (over the shipped config of the
    task `values` names, when it names one) in `folder`."""
    if not values:
        return ROOT / "configs" / "centernet_det.yaml"
    import yaml

    path = Path(folder) / name
    path.write_text(yaml.safe_dump({"task": "centernet_det", **values}, sort_keys=False))
    return path


def build_reference_checkpoint(tmp_path, size, enable_dcn, arch, heads, seed=0, config_path=None, **options):
    """(torch twin, test input (1, 3, size, size), converted checkpoint path) of a random `arch` network; the
    converter runs with `--config_path` when given; `options` go to `build_random_reference` (offset sizes).
    Other source flavours (bare state dict, .npz) are covered in tests/test_convert_weight_centernet.py."""
    torch = require("torch")
    from src.convert_weight_centernet import main as convert_main
    from tests.models.torch_reference import build_random_reference

    rng = np.random.default_rng(seed)
    calibration = torch.from_numpy(rng.standard_normal((2, 3, size, size)).astype(np.float32))
    ref = build_random_reference(seed, enable_dcn=enable_dcn, calibration_input=calibration, arch=arch, heads=heads,
                                 **options)
    state = ref.state_dict()
    assert any(k.endswith("num_batches_tracked") for k in state)
    assert ("base.fc.weight" in state) == (arch == "dla_34")  # the DLA checkpoints carry the ImageNet classifier
    pth = tmp_path / "model_last.pth"
    torch.save({"epoch": 7, "state_dict": {f"module.{k}": v for k, v in state.items()}}, str(pth))
    ckpt = tmp_path / "converted.ckpt"
    convert_main(["--pth", str(pth), "--output_path", str(ckpt)]
                 + (["--config_path", str(config_path)] if config_path else []))
    x = rng.standard_normal((1, 3, size, size)).astype(np.float32)
    return ref, x, ckpt


def assert_parity(ref, x, ckpt, arch, heads, enable_dcn):
    """Our `arch` network with the converted weights gives the twin's head maps within PARITY_RTOL; with DCN the
    twin's offsets are checked to be real deformations (pixels, up to several). Returns the largest relative
    difference per head."""
    import torch

    from src.engine.checkpoint import load_weights
    from src.models.centernet_arch import build_centernet_network
    from tests.models.torch_reference import dcn_offsets_seen

    network = build_centernet_network(arch, heads, enable_dcn=enable_dcn)
    network.set_train(False)
    report = load_weights(network, str(ckpt), strict=True)
    assert not report.missing and not report.unexpected
    ours = [o.asnumpy() for o in network(ms.Tensor(x))]
    with torch.no_grad():
        expected = [o.numpy() for o in ref(torch.from_numpy(x))]
    errors = {}
    for (name, _), a, b in zip(heads, ours, expected):
        assert a.shape == b.shape, name
        scale = np.abs(b).max()
        errors[name] = float(np.abs(a - b).max() / scale)
        np.testing.assert_allclose(a, b, rtol=0, atol=PARITY_RTOL * scale, err_msg=name)
    if enable_dcn:
        offsets = np.concatenate([v.ravel() for v in dcn_offsets_seen(ref, torch.from_numpy(x)).values()])
        assert offsets.mean() > 1.0 and offsets.max() > 4.0
    print(f"{arch} parity, max |ours - torch| / max |torch| per head: "
          + ", ".join(f"{k} {v:.1e}" for k, v in errors.items()))
    return errors
