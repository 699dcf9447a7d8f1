"""End to end on CPU: synthetic faces -> train.py (fine-tuning the official weights) -> test.py -> WIDER AP.

The smaller sibling of `make demo` (which trains on 300 images for 3 epochs and reaches Easy AP ~0.96 from
0.63). Here: 64 training images at 256 px, 3 epochs of 16 steps. The assertion is about learning, so it compares
the same evaluation before and after training rather than trusting one absolute number.
"""
import json
import subprocess
import sys

import pytest

from dependency.evaluate.eval import evaluate

pytestmark = pytest.mark.slow


def _run(args, cwd):
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _ap(repo_root, ckpt, data, save_dir):
    _run(["test.py", "--ckpt_path", ckpt, "--data_dir", data / "val" / "images", "--ground_truth_path",
          data / "val" / "ground_truth", "--save_dir", save_dir, "--test_input_size", ""], repo_root)
    return evaluate(save_dir / ckpt.stem, data / "val" / "ground_truth")


def test_fine_tuning_on_synthetic_faces_improves_wider_ap(repo_root, official_ckpt, tmp_path):
    from src.data.synthetic import generate

    data = tmp_path / "synthetic"
    generate(data, num_train=64, num_val=16, seed=3, image_size=256, progress=False)
    before = _ap(repo_root, official_ckpt, data, tmp_path / "before")
    run_dir = tmp_path / "run"
    _run(["train.py", "--train_json", data / "train" / "train.json", "--output_path", run_dir, "--pretrained",
          official_ckpt, "--epochs", 3, "--train_size", "256,256", "--batch_size", 4, "--lr", 5e-4, "--warmup_epochs", 0.5,
          "--lr_scheduler", "cosine", "--log_interval", 4], repo_root)
    ckpt = run_dir / "ckpt" / "0-3_16.ckpt"
    assert ckpt.is_file()
    after = _ap(repo_root, ckpt, data, tmp_path / "after")
    history = json.loads((run_dir / "loss_history.json").read_text())
    print(f"before {before['easy']:.3f}/{before['medium']:.3f}/{before['hard']:.3f} "
          f"after {after['easy']:.3f}/{after['medium']:.3f}/{after['hard']:.3f}")
    # Learning shows in the loss and in AP on held-out images, in every setting.
    assert history["loss"][-1] < history["loss"][0]
    for setting in ("easy", "medium", "hard"):
        assert after[setting] > before[setting] + 0.05, (setting, before, after)
    assert after["easy"] >= 0.75  # measured 0.81 (deterministic on CPU); the margin absorbs kernel changes
