"""Does fine-tuning with the compiled CPU kernels reach the same AP as with MindSpore's ops? Seeds x both.

    python benchmarks/kernel_training_seeds.py [--recipe e2e|demo] [--seeds 1 2 3 4 5] [--output_path outputs/kernel_seeds]

Trains the same short CenterFace fine-tuning of the official weights with `--cpu_kernels False` and `True`
for every seed (`--seed`: augmentation draws and batch order; the data set and the starting weights are the
same), tests every final checkpoint on the held-out synthetic images at their original size, and prints the
WIDER-protocol AP of each run and per variant the mean, the sample standard deviation and the exact two-sided
permutation p-value of the difference of the means. Recipes:

* e2e: tests/test_synthetic_convergence.py's (64 training images of 256 px, 16 held-out, 3 epochs at 256x256,
  batch 4, lr 5e-4 cosine with 0.5 warm-up epochs): the run where 0.60 vs 0.81 Easy was first seen;
* demo: `make demo`'s (scripts/demo.py: 300 + 60 images, 3 epochs at 320x320, batch 8, lr 5e-4 cosine);
  with seed 1 (train.py's default) it is the demo's own run.

Every trained checkpoint is tested twice, with MindSpore's ops and with the kernels (`test_kernels` in the
table), so that a difference from training is not mixed with one from testing. `--control` adds a third arm:
MindSpore's ops from the official weights with half of their values moved by one float32 ulp, i.e. what the
smallest possible numerical change does to the same run; a seed's kernels-minus-ops difference is compared with
its control-minus-ops difference. Runs already in
`<out>/results.json` are not repeated (the script can be stopped and restarted). About 2-4 minutes per e2e run
and 6-10 per demo run on 2 busy cores.
"""
import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine_description, official_checkpoint  # noqa: E402

SETTINGS = ("easy", "medium", "hard")
VARIANTS = {"msops": "MindSpore ops", "kernels": "kernels",
            "nudged": "MindSpore ops, start moved by 1 ulp"}  # the control arm (--control)
RECIPES = {
    "e2e": {"data": {"num_train": 64, "num_val": 16, "seed": 3, "image_size": 256},
            "train": ["--epochs", 3, "--train_size", "256,256", "--batch_size", 4, "--lr", 5e-4,
                      "--warmup_epochs", 0.5, "--lr_scheduler", "cosine", "--log_interval", 4]},
    "demo": {"data": {"num_train": 300, "num_val": 60, "seed": 0, "image_size": 320},
             "train": ["--epochs", 3, "--train_size", "320,320", "--batch_size", 8, "--lr", 5e-4,
                       "--lr_scheduler", "cosine", "--log_interval", 10]},
}


def run(cmd, log):
    """Run a repository script; its output goes to `log`; a failure stops with the log's tail."""
    cmd = [str(c) for c in cmd]
    env = dict(os.environ, GLOG_v="3")
    with open(log, "w") as out:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        tail = Path(log).read_text().splitlines()[-15:]
        raise RuntimeError(f"{' '.join(cmd[:2])} failed (exit {proc.returncode}), see {log}:\n" + "\n".join(tail))


def check_kernels_used(run_dir, kernels):
    """The training log must show the kernels in use (or not): a silent fallback would make the comparison moot."""
    text = (run_dir / "log_rank0.txt").read_text()
    line = next((ln for ln in text.splitlines() if "compiled CPU kernels:" in ln), "")
    in_use = "17 depthwise" in line and "59 batchnorm" in line
    if in_use != kernels:
        raise RuntimeError(f"{run_dir}: expected the kernels {'on' if kernels else 'off'}, log says {line!r}")


def nudged_checkpoint(ckpt, out, seed=0):
    """A copy of `ckpt` with half of every weight tensor's values (chosen at random) moved by one float32 ulp: the
    smallest change of the starting point, for the control arm."""
    import mindspore as ms
    import numpy as np

    target = out / "official_nudged_one_ulp.ckpt"
    if target.is_file():
        return target
    rng = np.random.default_rng(seed)
    tensors = []
    for name, value in ms.load_checkpoint(str(ckpt)).items():
        if isinstance(value, ms.Tensor) and value.dtype == ms.float32:
            data = value.asnumpy()
            moved = np.nextafter(data, np.float32(np.inf)).astype(np.float32)
            value = ms.Tensor(np.where(rng.random(data.shape) < 0.5, moved, data))
        if isinstance(value, ms.Tensor):
            tensors.append({"name": name, "data": value})
    ms.save_checkpoint(tensors, str(target))
    return target


def variant_of(result):
    """The arm of a result (files written before the control arm existed have only the `kernels` flag)."""
    return result.get("variant", "kernels" if result["kernels"] else "msops")


def train_and_test(recipe, data, ckpt, out, seed, variant):
    """AP of one fine-tuning run, tested with MindSpore's ops and with the kernels, and its last logged loss."""
    from dependency.evaluate.eval import evaluate

    kernels = variant == "kernels"
    name = f"seed{seed}_{variant}"
    run_dir = out / name
    for stale in out.glob(f"{name}*"):  # an interrupted earlier attempt of this run (complete ones are skipped)
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    start = nudged_checkpoint(ckpt, out) if variant == "nudged" else ckpt
    run([sys.executable, "train.py", "--train_json", data / "train" / "train.json", "--output_path", run_dir,
         "--ckpt_path", start, "--seed", seed, "--cpu_kernels", kernels, *RECIPES[recipe]["train"]],
        out / f"{name}.train.log")
    check_kernels_used(run_dir, kernels)
    final = sorted((run_dir / "ckpt").glob("0-*.ckpt"), key=lambda p: int(p.stem.split("-")[1].split("_")[0]))[-1]
    result = {"seed": seed, "variant": variant, "kernels": kernels, "checkpoint": str(final),
              "loss": json.loads((run_dir / "loss_history.json").read_text())["loss"][-1]}
    for test_kernels in (False, True):
        save = out / f"{name}_test_{'kernels' if test_kernels else 'msops'}"
        run([sys.executable, "test.py", "--ckpt_path", final, "--data_dir", data / "val" / "images",
             "--ground_truth_path", data / "val" / "ground_truth", "--save_dir", save, "--input_size", "",
             "--cpu_kernels", test_kernels], out / f"{name}.test.log")
        aps = evaluate(save / final.stem, data / "val" / "ground_truth")
        result["test_kernels" if test_kernels else "test_msops"] = {s: aps[s] for s in SETTINGS}
    return result


def permutation_p_value(a, b):
    """Exact two-sided p-value of |mean(a) - mean(b)| under random relabelling of the pooled values."""
    pooled, observed = a + b, abs(statistics.mean(a) - statistics.mean(b))
    count = total = 0
    for chosen in itertools.combinations(range(len(pooled)), len(a)):
        first = [pooled[i] for i in chosen]
        second = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        count += abs(statistics.mean(first) - statistics.mean(second)) >= observed - 1e-12
        total += 1
    return count / total


def sign_flip_p_value(differences):
    """Exact two-sided p-value of |mean(differences)| when each paired difference's sign is random."""
    observed, count = abs(statistics.mean(differences)), 0
    signs = list(itertools.product((1, -1), repeat=len(differences)))
    for flip in signs:
        count += abs(statistics.mean(s * d for s, d in zip(flip, differences))) >= observed - 1e-12
    return count / len(signs)


def paired_line(by_variant, test_key, variant, label):
    """Mean ± std and sign-flip p-value of the per-seed differences `variant` minus MindSpore ops."""
    plain = {r["seed"]: r for r in by_variant["msops"]}
    pairs = [(r, plain[r["seed"]]) for r in by_variant[variant] if r["seed"] in plain]
    if len(pairs) < 2:
        return None
    cells = []
    for s in SETTINGS:
        differences = [other[test_key][s] - base[test_key][s] for other, base in pairs]
        cells.append(f"{s} {statistics.mean(differences):+.3f} ± {statistics.stdev(differences):.3f} "
                     f"(|max| {max(map(abs, differences)):.3f}, p {sign_flip_p_value(differences):.2f})")
    return f"{label} minus MindSpore ops, paired by seed ({len(pairs)} seeds): " + ", ".join(cells)


def table(results, test_key):
    """Markdown table of every run and the per-variant statistics, for AP tested as `test_key`."""
    lines = ["| training | seed | Easy | Medium | Hard | last loss |", "|---|---:|---:|---:|---:|---:|"]
    by_variant = {variant: [] for variant in VARIANTS}
    for r in sorted(results, key=lambda r: (list(VARIANTS).index(variant_of(r)), r["seed"])):
        by_variant[variant_of(r)].append(r)
        aps = r[test_key]
        lines.append(f"| {VARIANTS[variant_of(r)]} | {r['seed']} | " + " | ".join(f"{aps[s]:.3f}" for s in SETTINGS)
                     + f" | {r['loss']:.3f} |")
    lines += ["", "| training | runs | Easy mean ± std | Medium mean ± std | Hard mean ± std |",
              "|---|---:|---:|---:|---:|"]
    for variant, runs in by_variant.items():
        if not runs:
            continue
        cells = []
        for s in SETTINGS:
            values = [r[test_key][s] for r in runs]
            std = statistics.stdev(values) if len(values) > 1 else float("nan")
            cells.append(f"{statistics.mean(values):.3f} ± {std:.3f}")
        lines.append(f"| {VARIANTS[variant]} | {len(runs)} | " + " | ".join(cells) + " |")
    lines.append("")
    if len(by_variant["msops"]) > 1 and len(by_variant["kernels"]) > 1:
        p_values = [permutation_p_value([r[test_key][s] for r in by_variant["kernels"]],
                                        [r[test_key][s] for r in by_variant["msops"]]) for s in SETTINGS]
        lines.append("exact permutation p-value of the difference of means (kernels vs MindSpore ops): "
                     + ", ".join(f"{s} {p:.2f}" for s, p in zip(SETTINGS, p_values)))
    # The same seed draws the same augmentations and batches: a paired difference isolates the arm's change.
    for variant in ("kernels", "nudged"):
        line = paired_line(by_variant, test_key, variant, VARIANTS[variant])
        if line:
            lines.append(line)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="e2e")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--output_path", default=None, help="work folder (default outputs/kernel_seeds_<recipe>)")
    parser.add_argument("--ckpt_path", default=None, help="converted official checkpoint (converted if omitted)")
    parser.add_argument("--control", action="store_true",
                        help="also the control arm: MindSpore's ops from the official weights moved by one ulp")
    args = parser.parse_args(argv)

    from src.data.synthetic import generate

    out = Path(args.output_path or ROOT / "outputs" / f"kernel_seeds_{args.recipe}")
    out.mkdir(parents=True, exist_ok=True)
    ckpt = official_checkpoint(args.ckpt_path)
    data = out / "synthetic"
    if not (data / "train" / "train.json").is_file():
        generate(str(data), progress=False, overwrite=True, **RECIPES[args.recipe]["data"])
    results_file = out / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else []
    arms = list(VARIANTS) if args.control else ["msops", "kernels"]
    for seed in args.seeds:
        for variant in arms:
            if any(r["seed"] == seed and variant_of(r) == variant for r in results):
                continue
            print(f"seed {seed}: {VARIANTS[variant]} ...", flush=True)
            results.append(train_and_test(args.recipe, data, ckpt, out, seed, variant))
            results_file.write_text(json.dumps(results, indent=1))
    results = [r for r in results if r["seed"] in args.seeds]
    print(f"\nrecipe {args.recipe}: {RECIPES[args.recipe]}; {machine_description()}")
    print("\nAP on the held-out synthetic images (original size), tested with MindSpore's ops:\n")
    print(table(results, "test_msops"))
    print("\nthe same checkpoints tested with the kernels:\n")
    print(table(results, "test_kernels"))


if __name__ == "__main__":
    main()
