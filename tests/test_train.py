"""train.py end to end (subprocesses on a tiny synthetic set): zoo-named checkpoints, zoo log lines, resolved
config, loss history and curve, state digests; `--resume True` continues at the next epoch with the lr
schedule where a straight run would be; bad input exits 2 with one error line. Also `src/engine/run`'s
digest helper against a hand-built case."""
import csv
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# 8 images, batch 4 -> 2 steps per epoch; multistep at epoch 2 (0-based), i.e. epoch 3 (1-based) runs at lr/10.
TRAIN_ARGS = ["--epochs", "2", "--batch_size", "4", "--train_size", "128,128", "--log_interval", "1",
              "--lr", "0.001", "--lr_scheduler", "multistep", "--milestones", "2", "--gamma", "0.1",
              "--num_workers", "1", "--seed", "5"]
STEPS = 2
ZOO_ITER = re.compile(r"epoch:(\d+), iter:(\d+), avg_loss:([0-9.]+), loss:([0-9.]+), overflow:(True|False), "
                      r"loss_scale:([0-9.]+)$", re.M)
ZOO_EPOCH = re.compile(r"epoch:(\d+), avg_loss:([0-9.]+), hm:[0-9.]+, wh:[0-9.]+, off:[0-9.]+, lm:[0-9.]+, "
                       r"time:[0-9.]+s, per_step:[0-9.]+ms, imgs/sec:[0-9.]+, lr:([0-9.e-]+)$", re.M)


def run_train(*args, timeout=300):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def digest(named_arrays):
    """The digest documented in src/engine/run.digest_arrays, written out again from its description."""
    sha = hashlib.sha256()
    for name in sorted(named_arrays):
        array = np.ascontiguousarray(named_arrays[name])
        sha.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        sha.update(array.tobytes())
    return sha.hexdigest()


def checkpoint_digests(path):
    """{weights, optimizer, moving_stats} digests of a training checkpoint, grouped by key name."""
    import mindspore as ms

    groups = {"weights": {}, "optimizer": {}, "moving_stats": {}}
    for name, param in ms.load_checkpoint(str(path)).items():
        if name.startswith("train_"):
            continue
        if name.startswith(("moment1.", "moment2.")) or name in ("global_step", "beta1_power", "beta2_power",
                                                                  "learning_rate"):
            group = "optimizer"
        elif name.endswith((".moving_mean", ".moving_variance")):
            group = "moving_stats"
        else:
            group = "weights"
        groups[group][name] = param.asnumpy()
    return {key: digest(values) for key, values in groups.items()}


def logged_state(text, when):
    """The digests of the '<when> state' line(s) of a log, as a list of dicts."""
    pattern = rf"{when} state rank (\d+)/(\d+): weights sha256 (\w+), optimizer sha256 (\w+), " \
              r"moving_stats sha256 (\w+)"
    return [{"rank": int(m[0]), "weights": m[2], "optimizer": m[3], "moving_stats": m[4]}
            for m in re.findall(pattern, text)]


@pytest.fixture(scope="module")
def first_run(tiny_set, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    proc = run_train("--train_json", tiny_set[0], "--train_image_dir", tiny_set[1], "--output_path", out, *TRAIN_ARGS)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, proc


@pytest.fixture(scope="module")
def resumed_run(first_run, tiny_set, tmp_path_factory):
    """The first run's folder copied, then trained on to 3 epochs with --resume True."""
    out = tmp_path_factory.mktemp("resumed") / "out"
    shutil.copytree(first_run[0], out)
    proc = run_train("--train_json", tiny_set[0], "--train_image_dir", tiny_set[1], "--output_path", out,
                     *TRAIN_ARGS, "--epochs", "3", "--resume", "True")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, proc


# ---------------------------------------------------------------- a straight run

def test_zoo_named_checkpoints_and_their_training_state(first_run):
    import mindspore as ms

    out, _ = first_run
    assert sorted(p.name for p in (out / "ckpt").iterdir()) == ["0-1_2.ckpt", "0-2_2.ckpt"]
    state = ms.load_checkpoint(str(out / "ckpt" / "0-2_2.ckpt"))
    assert int(state["train_epoch"].asnumpy()) == 2 and int(state["train_global_step"].asnumpy()) == 2 * STEPS
    assert int(state["global_step"].asnumpy().reshape(-1)[0]) == 2 * STEPS  # the optimizer's lr position


def test_log_has_the_zoo_lines_matching_the_history(first_run):
    out, proc = first_run
    log = (out / "log_rank0.txt").read_text()
    assert log.count("\n") >= 2 * STEPS + 2 and proc.stdout.strip().splitlines()[-1] in log
    iters = ZOO_ITER.findall(log)
    assert [(int(e), int(i)) for e, i, *_ in iters] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert all(o == "False" and float(s) == 1024 for *_, o, s in iters)  # default static loss scale
    history = json.loads((out / "loss_history.json").read_text())
    assert history["global_step"] == [1, 2, 3, 4] and history["epoch"] == [1, 1, 2, 2]
    assert history["iter"] == [1, 2, 1, 2]
    # log_interval 1: avg_loss == loss == the history's value (printed with 6 decimals).
    for (_, _, avg, loss, _, _), value in zip(iters, history["loss"]):
        assert float(loss) == pytest.approx(value, abs=5e-7) and float(avg) == pytest.approx(value, abs=5e-7)
    epochs = ZOO_EPOCH.findall(log)
    assert [int(e) for e, _, _ in epochs] == [1, 2]
    for e, avg, lr in epochs:
        assert float(avg) == pytest.approx(np.mean(history["loss"][(int(e) - 1) * STEPS:int(e) * STEPS]), abs=5e-7)
        assert float(lr) == pytest.approx(1e-3)
    assert "saved checkpoint" in log and "training done: epochs 1..2, 4 steps in total" in log


def test_loss_history_components_add_up_with_the_configured_weights(first_run):
    out, _ = first_run
    history = json.loads((out / "loss_history.json").read_text())
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    comp = {k: np.asarray(v) for k, v in history["components"].items()}
    assert sorted(comp) == ["hm", "lm", "off", "wh"]
    total = (cfg["hm_weight"] * comp["hm"] + cfg["wh_weight"] * comp["wh"] + cfg["off_weight"] * comp["off"]
             + cfg["lm_weight"] * comp["lm"])
    # float32 sums of four terms of size ~1..10: 1e-5 relative covers the rounding.
    np.testing.assert_allclose(history["loss"], total, rtol=1e-5)
    with open(out / "loss_history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["global_step"]) for r in rows] == history["global_step"]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], history["loss"], rtol=1e-6)
    png = (out / "loss_curve.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000


def test_resolved_config_is_saved_and_reusable(first_run, tiny_set):
    from src.model_utils.config import parse_config

    out, _ = first_run
    text = (out / "config.yaml").read_text()
    assert text.startswith("# resolved from ")
    saved = yaml.safe_load(text)
    assert saved["train_size"] == [128, 128] and saved["epochs"] == 2 and saved["milestones"] == [2]
    assert saved["lr"] == 0.001 and saved["train_json"] == str(tiny_set[0]) and saved["seed"] == 5
    again = parse_config(["--config_path", str(out / "config.yaml")]).to_dict()
    again.pop("config_path")
    assert again == saved


def test_logged_final_digest_is_the_checkpoint_and_training_moved_the_weights(first_run):
    out, _ = first_run
    log = (out / "log_rank0.txt").read_text()
    initial, final = logged_state(log, "initial"), logged_state(log, "final")
    assert len(initial) == len(final) == 1 and final[0]["rank"] == 0
    expected = checkpoint_digests(out / "ckpt" / "0-2_2.ckpt")
    assert {k: final[0][k] for k in expected} == expected
    assert checkpoint_digests(out / "ckpt" / "0-1_2.ckpt")["weights"] != expected["weights"]
    assert initial[0]["weights"] != final[0]["weights"]
    assert "shard" not in log  # shard indices are logged only for data-parallel runs


# ---------------------------------------------------------------- resume

def test_resume_continues_at_the_next_epoch_with_the_lr_position(resumed_run, first_run):
    out, proc = resumed_run
    log = proc.stdout  # rank 0 logs to stdout too; the copied log_rank0.txt also holds the first run
    assert re.search(r"resume: \S+0-2_2\.ckpt -> epoch 2 done, global step 4, optimizer step 4, loss scale 1024",
                     log)
    assert [(int(e), int(i)) for e, i, *_ in ZOO_ITER.findall(log)] == [(3, 1), (3, 2)]
    # Multistep at (0-based) epoch 2: epoch 3 runs at lr * gamma. A resume that restarted the optimizer's step
    # counter would log 0.001 here.
    assert [(int(e), float(lr)) for e, _, lr in ZOO_EPOCH.findall(log)] == [(3, pytest.approx(1e-4))]
    assert "training done: epochs 3..3, 6 steps in total" in log
    assert sorted(p.name for p in (out / "ckpt").iterdir()) == ["0-1_2.ckpt", "0-2_2.ckpt", "0-3_2.ckpt"]
    assert logged_state(log, "initial") == []  # the weights come from the checkpoint, not from initialisation
    before = json.loads((first_run[0] / "loss_history.json").read_text())
    after = json.loads((out / "loss_history.json").read_text())
    assert after["global_step"] == [1, 2, 3, 4, 5, 6] and after["epoch"] == [1, 1, 2, 2, 3, 3]
    assert after["loss"][:4] == before["loss"]


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("args, message", [
    ([], "--train_json is required"),
    (["--train_json", "{tmp}/none.json"], "--train_json {tmp}/none.json: no such file"),
    (["--train_json", "{json}", "--bogus_key", "1"], "unknown config key(s) ['--bogus_key']"),
    (["--train_json", "{json}", "--train_size", "100,100"], "'train_size': value 100 is not a multiple of 32"),
    (["--train_json", "{json}", "--train_size", "320"], "'train_size': [320] has 1 elements; expected 2"),
    (["--train_json", "{json}", "--lr", "-0.1"], "'lr': value -0.1 is below the minimum 0 (--lr)"),
])
def test_bad_input_exits_2_with_one_error_line(tmp_path, tiny_set, args, message):
    fill = {"{tmp}": str(tmp_path), "{json}": str(tiny_set[0])}
    args = [fill.get(a, a).replace("{tmp}", str(tmp_path)) for a in args]
    proc = run_train(*args, "--output_path", tmp_path / "out", timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [proc.stderr.strip().splitlines()[-1]] and "Traceback" not in proc.stderr
    assert message.replace("{tmp}", str(tmp_path)) in errors[0]
    assert not (tmp_path / "out" / "ckpt").exists()


def test_the_run_folder_is_marked_and_another_scripts_folder_is_refused(first_run, tiny_set, tmp_path):
    """README: every output folder carries a .run.json naming its script; train.py refuses a folder holding
    another script's run (predict.py's results here) before writing anything."""
    out, _ = first_run
    assert json.loads((out / ".run.json").read_text())["script"] == "train.py"
    other = tmp_path / "predictions"
    other.mkdir()
    (other / ".run.json").write_text('{"script": "predict.py", "pid": 1}')
    (other / "photo.json").write_text("{}")
    proc = run_train("--train_json", tiny_set[0], "--output_path", other, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == (
        f"error: --output_path {other} holds a predict.py run (its .run.json): choose another --output_path")
    assert sorted(p.name for p in other.iterdir()) == [".run.json", "photo.json"]


@pytest.mark.slow
def test_unreadable_images_are_named_skipped_and_exit_1(tiny_set, tmp_path):
    """README's policy on every route: a missing and a corrupt training image are each named, training goes on
    with the others, and the exit code is 1 (done, some inputs unreadable)."""
    images = tmp_path / "images"
    shutil.copytree(tiny_set[1], images)
    names = sorted(p.name for p in images.iterdir())
    (images / names[0]).unlink()
    (images / names[1]).write_bytes((images / names[1]).read_bytes()[:300])
    proc = run_train("--train_json", tiny_set[0], "--train_image_dir", images, "--output_path", tmp_path / "out",
                     *TRAIN_ARGS, "--epochs", "1")
    assert proc.returncode == 1, proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    assert f"{images / names[0]}: no such image file" in output
    assert f"cannot read image {images / names[1]}" in output
    assert "training on 7 images" in output and "skipped (each named in a warning above)" in output
    assert sorted(p.name for p in (tmp_path / "out" / "ckpt").iterdir()) == ["0-1_1.ckpt"]  # 7 images: 1 step


# ---------------------------------------------------------------- digest helper

def test_digest_arrays_against_hashlib_and_its_sensitivity():
    from src.engine.run import digest_arrays

    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([7], np.int32)
    by_hand = hashlib.sha256(b"a|<f4|(2, 3)|" + a.tobytes() + b"b|<i4|(1,)|" + b.tobytes()).hexdigest()
    assert digest_arrays([("b", b), ("a", a)]) == by_hand  # name order, not argument order
    assert digest_arrays([("a", a.T.copy()), ("b", b)]) != by_hand  # same bytes, other shape
    flipped = a.copy()
    flipped.view(np.uint32)[1, 2] ^= 1  # one bit of one element
    assert digest_arrays([("a", flipped), ("b", b)]) != by_hand
