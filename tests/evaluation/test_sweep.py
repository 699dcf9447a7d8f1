"""Tests for src/evaluation/sweep.py (test.py and eval.py for any task): a folder of checkpoints selected by epoch,
one result folder each in epoch order, every image of the eval set written, results evaluated; re-testing replaces
a folder; missing inputs are one-line errors. CenterFace at 128 px with random weights on 2 synthetic images."""
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import mindspore as ms
import pytest

from src.model_utils.config import ConfigError, parse_config
from src.tasks import get_task, task_config_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    data = get_task("centerface").synthetic_dataset(root / "data", 0, 2, 128, seed=5)
    folder = root / "ckpt"
    folder.mkdir()
    for epoch, seed in ((1, 1), (2, 2), (3, 3)):
        ms.set_seed(seed)
        ms.save_checkpoint(get_task("centerface").build_network(), str(folder / f"0-{epoch}_4.ckpt"),
                           append_dict={"model": "centerface"})
    return root, data, folder


def config_args(data, *args):
    argv = ["--config_path", str(task_config_path("centerface")), "--input_size", "128,128"]
    for key, value in data.items():
        argv += [f"--{key}", str(value)]
    return argv + [str(a) for a in args]


def config(data, *args):
    return parse_config(config_args(data, *args), script="test")


def run_test_checkpoints(data, *args):
    """test_checkpoints in a subprocess (it sets MindSpore's process-wide device context, which an earlier test of
    this process may have fixed already): its summaries as dicts."""
    code = ("import dataclasses, json, sys\n"
            "from src.model_utils.config import parse_config\n"
            "from src.tasks import get_task\n"
            "from src.evaluation.sweep import test_checkpoints\n"
            "cfg = parse_config(sys.argv[1:], script='test')\n"
            "summaries = test_checkpoints(get_task(cfg), cfg, progress=False)\n"
            "print(json.dumps([dataclasses.asdict(s) for s in summaries]))\n")
    result = subprocess.run([sys.executable, "-c", code, *config_args(data, *args)], capture_output=True, text=True,
                            cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return [SimpleNamespace(**s) for s in json.loads(result.stdout.strip().splitlines()[-1])]


def test_selected_checkpoints_in_epoch_order_each_its_folder(setup, tmp_path):
    from src.evaluation.sweep import evaluate_results

    _, data, folder = setup
    summaries = run_test_checkpoints(data, "--ckpt_path", folder, "--start", 2, "--output_path", tmp_path / "out")
    cfg = config(data)
    task = get_task(cfg)
    assert [s.checkpoint for s in summaries] == [str(folder / "0-2_4.ckpt"), str(folder / "0-3_4.ckpt")]
    assert [s.out_dir for s in summaries] == [str(tmp_path / "out" / "0-2_4"), str(tmp_path / "out" / "0-3_4")]
    images = task.eval_set().images
    for summary in summaries:
        result = Path(summary.out_dir)
        assert summary.images == len(images) == 2 and not summary.failed
        assert (result / "test_info.json").is_file() and (result / "config.yaml").is_file()
        # one WIDER result file per image (<event>/<stem>.txt)
        assert sorted(p.relative_to(result).with_suffix("") for p in result.rglob("*.txt")) == \
            sorted(image.path.relative_to(cfg.data_dir).with_suffix("") for image in images)
        aps = task.headline_aps(evaluate_results(task, cfg, result))
        assert all(0 <= value <= 1 for value in aps.values())
    # different weights, different results: each folder holds its own checkpoint's detections
    first, second = (sorted((tmp_path / "out" / stem).rglob("*.txt")) for stem in ("0-2_4", "0-3_4"))
    assert [p.read_text() for p in first] != [p.read_text() for p in second]
    again = run_test_checkpoints(data, "--ckpt_path", folder / "0-2_4.ckpt", "--output_path", tmp_path / "out")
    assert len(again) == 1 and again[0].out_dir == summaries[0].out_dir


def test_missing_inputs_are_one_line_errors(setup, tmp_path):
    from src.evaluation.sweep import evaluate_results, test_checkpoints

    _, data, folder = setup
    cfg = config(data, "--output_path", tmp_path)
    with pytest.raises(ConfigError, match="--ckpt_path is required"):
        test_checkpoints(get_task(cfg), cfg)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        evaluate_results(get_task(cfg), cfg, tmp_path / "nothing")
    cfg = config(data, "--ckpt_path", folder, "--start", 3, "--end", 1, "--output_path", tmp_path)
    with pytest.raises(ValueError, match="start=3 > end=1"):
        test_checkpoints(get_task(cfg), cfg)
