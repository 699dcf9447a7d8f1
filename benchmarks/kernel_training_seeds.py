"""How much does a CenterFace fine-tuning's AP depend on the seed, the backend and float rounding? Seeds x arms.

    python benchmarks/kernel_training_seeds.py [--recipe demo|e2e] [--seeds 1 2 3 4 5]
        [--arms msops kernels nudged kernels_nudged] [--set KEY=VALUE ...] [--test_with kernels msops]
        [--output_path outputs/kernel_seeds_<recipe>] [--ckpt_path CKPT] [--first N]

Runs a recipe of `src/centerface/demo_recipe.py` (`demo`: what `make demo` runs; `e2e`: the end-to-end test's
smaller sibling) for every seed (`--seed`: augmentation draws and batch order; the data set is the same) in every
arm, tests every final checkpoint on the held-out synthetic images at their original size, and prints the
WIDER-protocol AP of each run, per arm the mean, min, max and spread (max - min) of Easy/Medium/Hard, the AP of
the official weights on the same images, and whether the recipe meets the bar README states: in every arm a
spread <= 0.03 and every run >= 0.15 above the official weights. Arms:

* msops / kernels: trained with MindSpore's ops (`--cpu_kernels False`) / the compiled CPU kernels;
* nudged / kernels_nudged: the same from the official weights with half of their values (chosen at random)
  moved by one float32 ulp, i.e. what the smallest possible numerical change does to the same run. A recipe
  whose result such a change moves is chaotic: its numbers differ from one CPU model to the next.

Paired lines compare arms seed by seed (same augmentations and batches). `--set lr=2e-4 freeze_bn=True` overrides
the recipe's train.py settings (to explore; the results folder then belongs to that configuration). Every trained
checkpoint is tested with each backend of `--test_with` (default both), so that a difference from training is
not mixed with one from testing. Runs already in `<out>/results.json` are not repeated (stop and restart at
will); a folder holding results of another configuration is refused. The environment is passed on, so
`ONEDNN_MAX_CPU_ISA=SSE41 OMP_NUM_THREADS=1 python benchmarks/kernel_training_seeds.py ...` measures another
instruction set and one thread. About 2-4 minutes per e2e run and 4-8 per demo run on 2 busy cores.
"""
import argparse
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine_description, official_checkpoint  # noqa: E402
from src.centerface.demo_recipe import RECIPES, train_flags  # noqa: E402

SETTINGS = ("easy", "medium", "hard")
# arm -> (label, trained with the kernels, start moved by one ulp); "nudged" kept its name from the first study
ARMS = {"msops": ("MindSpore ops", False, False), "kernels": ("kernels", True, False),
        "nudged": ("MindSpore ops, start moved by 1 ulp", False, True),
        "kernels_nudged": ("kernels, start moved by 1 ulp", True, True)}
MAX_SPREAD = 0.03  # README's bar: max - min over the seeds of an arm, every setting
MIN_GAIN = 0.15  # ... and every run at least this much above the official weights
TEST_BACKENDS = ("kernels", "msops")


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
    """The training log must show the kernels in use (or not): a silent fallback would make the comparison moot.
    CenterFace's 17 depthwise convs always take the kernel (its BatchNorm layers only when they are not frozen)."""
    text = (run_dir / "log_rank0.txt").read_text()
    line = next((ln for ln in text.splitlines() if "compiled CPU kernels:" in ln), "")
    in_use = "17 depthwise" in line
    if in_use != kernels:
        raise RuntimeError(f"{run_dir}: expected the kernels {'on' if kernels else 'off'}, log says {line!r}")


def nudged_checkpoint(ckpt, out, seed=0):
    """A copy of `ckpt` with half of every weight tensor's values (chosen at random) moved by one float32 ulp: the
    smallest change of the starting point, for the nudged arms."""
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


def test_checkpoint(ckpt, data, save, backend, log):
    """{setting: AP} of `ckpt` on the held-out images at their original size, test.py run with `backend`."""
    from dependency.evaluate.eval import evaluate

    run([sys.executable, "test.py", "--ckpt_path", ckpt, "--data_dir", data / "val" / "images",
         "--ground_truth_path", data / "val" / "ground_truth", "--save_dir", save, "--test_input_size", "",
         "--cpu_kernels", backend == "kernels"], log)
    aps = evaluate(save / Path(ckpt).stem, data / "val" / "ground_truth")
    return {s: aps[s] for s in SETTINGS}


def train_and_test(config, data, ckpt, out, seed, arm, test_with):
    """AP of one fine-tuning run (tested with each backend of `test_with`), its last logged loss and training time."""
    _, kernels, nudged = ARMS[arm]
    name = f"seed{seed}_{arm}"
    run_dir = out / name
    for stale in out.glob(f"{name}*"):  # an interrupted earlier attempt of this run (complete ones are skipped)
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    start = nudged_checkpoint(ckpt, out) if nudged else ckpt
    run([sys.executable, "train.py", "--train_json", data / "train" / "train.json", "--output_path", run_dir,
         "--ckpt_path", start, "--seed", seed, "--cpu_kernels", kernels, *config["train_flags"]],
        out / f"{name}.train.log")
    check_kernels_used(run_dir, kernels)
    final = sorted((run_dir / "ckpt").glob("0-*.ckpt"), key=lambda p: int(p.stem.split("-")[1].split("_")[0]))[-1]
    done = re.search(r"training done: .*?, ([0-9.]+) s,", (run_dir / "log_rank0.txt").read_text())
    result = {"seed": seed, "variant": arm, "kernels": kernels, "checkpoint": str(final),
              "loss": json.loads((run_dir / "loss_history.json").read_text())["loss"][-1],
              "train_seconds": float(done.group(1)) if done else None}
    for backend in test_with:
        result[f"test_{backend}"] = test_checkpoint(final, data, out / f"{name}_test_{backend}", backend,
                                                    out / f"{name}.test.log")
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


def paired_line(by_arm, test_key, arm, base):
    """Mean ± std and sign-flip p-value of the per-seed differences `arm` minus `base`."""
    plain = {r["seed"]: r for r in by_arm.get(base, [])}
    pairs = [(r, plain[r["seed"]]) for r in by_arm.get(arm, []) if r["seed"] in plain]
    if len(pairs) < 2:
        return None
    cells = []
    for s in SETTINGS:
        differences = [other[test_key][s] - ref[test_key][s] for other, ref in pairs]
        cells.append(f"{s} {statistics.mean(differences):+.3f} ± {statistics.stdev(differences):.3f} "
                     f"(|max| {max(map(abs, differences)):.3f}, p {sign_flip_p_value(differences):.2f})")
    return f"{ARMS[arm][0]} minus {ARMS[base][0]}, paired by seed ({len(pairs)} seeds): " + ", ".join(cells)


def arm_statistics(results, test_key):
    """{arm: {setting: {"mean", "min", "max", "spread", "runs"}}} of the runs tested as `test_key`."""
    stats = {}
    for arm in ARMS:
        runs = [r for r in results if r["variant"] == arm and test_key in r]
        if runs:
            stats[arm] = {}
            for s in SETTINGS:
                values = [r[test_key][s] for r in runs]
                stats[arm][s] = {"mean": statistics.mean(values), "min": min(values), "max": max(values),
                                 "spread": max(values) - min(values), "runs": len(values)}
    return stats


def verdict(stats, official):
    """README's bar on `arm_statistics`: (every spread <= MAX_SPREAD, every run >= official + MIN_GAIN, the
    largest spread, the smallest gain over the official weights)."""
    spreads = [cell["spread"] for arm in stats.values() for cell in arm.values()]
    gains = [cell["min"] - official[s] for arm in stats.values() for s, cell in arm.items()]
    return (max(spreads) <= MAX_SPREAD + 1e-12, min(gains) >= MIN_GAIN - 1e-12, max(spreads), min(gains))


def table(results, test_key, official):
    """Markdown tables of every run and of the per-arm statistics for AP tested as `test_key`, with the verdict."""
    lines = ["| training | seed | Easy | Medium | Hard | last loss | train s |", "|---|---:|---:|---:|---:|---:|---:|"]
    by_arm = {}
    for r in sorted(results, key=lambda r: (list(ARMS).index(r["variant"]), r["seed"])):
        if test_key not in r:
            continue
        by_arm.setdefault(r["variant"], []).append(r)
        aps = r[test_key]
        seconds = f"{r['train_seconds']:.0f}" if r.get("train_seconds") else "-"
        lines.append(f"| {ARMS[r['variant']][0]} | {r['seed']} | " + " | ".join(f"{aps[s]:.3f}" for s in SETTINGS)
                     + f" | {r['loss']:.3f} | {seconds} |")
    stats = arm_statistics(results, test_key)
    lines += ["", "| training | runs | " + " | ".join(f"{s.capitalize()} mean (min..max) spread" for s in SETTINGS)
              + " |", "|---|---:|---:|---:|---:|",
              "| official weights, before fine-tuning | - | " + " | ".join(f"{official[s]:.3f}" for s in SETTINGS) + " |"]
    for arm, cells in stats.items():
        lines.append(f"| {ARMS[arm][0]} | {cells['easy']['runs']} | " + " | ".join(
            f"{c['mean']:.3f} ({c['min']:.3f}..{c['max']:.3f}) {c['spread']:.3f}" for c in cells.values()) + " |")
    if stats:
        spread_ok, gain_ok, spread, gain = verdict(stats, official)
        lines += ["", f"largest spread {spread:.3f} (bar <= {MAX_SPREAD}: {'met' if spread_ok else 'NOT met'}); "
                      f"smallest gain over the official weights {gain:+.3f} (bar >= {MIN_GAIN}: "
                      f"{'met' if gain_ok else 'NOT met'})"]
    if len(by_arm.get("msops", [])) > 1 and len(by_arm.get("kernels", [])) > 1:
        p_values = [permutation_p_value([r[test_key][s] for r in by_arm["kernels"]],
                                        [r[test_key][s] for r in by_arm["msops"]]) for s in SETTINGS]
        lines.append("exact permutation p-value of the difference of means (kernels vs MindSpore ops): "
                     + ", ".join(f"{s} {p:.2f}" for s, p in zip(SETTINGS, p_values)))
    # The same seed draws the same augmentations and batches: a paired difference isolates the arm's change.
    for arm, base in (("kernels", "msops"), ("nudged", "msops"), ("kernels_nudged", "kernels")):
        line = paired_line(by_arm, test_key, arm, base)
        if line:
            lines.append(line)
    return "\n".join(lines)


def first_images_ap(prediction_dir, subset, work):
    """{setting: AP} of the result files in `prediction_dir` (test.py's <event>/<name>.txt) restricted to the
    images of the held-out set `subset` (a generated val split of the first N images: the generator draws image i
    from (seed, split, i), so they are the first N of the study's own held-out images and their predictions)."""
    from dependency.evaluate.eval import evaluate

    shutil.rmtree(work, ignore_errors=True)
    for image in (subset / "val" / "images").rglob("*.jpg"):
        relative = image.relative_to(subset / "val" / "images").with_suffix(".txt")
        (work / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(prediction_dir / relative, work / relative)
    aps = evaluate(work, subset / "val" / "ground_truth")
    return {s: aps[s] for s in SETTINGS}


def first_images_gains(results, official_dir, out, recipe_data, first):
    """Per run and backend, AP on the first `first` held-out images minus the official weights' AP on them; the
    smallest gain per setting over all runs is what the end-to-end test (recipe e2e: those images) may assert."""
    from src.data.synthetic import generate

    subset = out / f"first{first}"
    if not (subset / "val" / "val.json").is_file():
        generate(str(subset), progress=False, overwrite=True, **{**recipe_data, "num_train": 0, "num_val": first})
    work = out / f"first{first}_work"
    official = first_images_ap(official_dir, subset, work)
    rows = ["| training | seed | tested with | Easy | Medium | Hard |", "|---|---:|---|---:|---:|---:|",
            "| official weights | - | kernels | " + " | ".join(f"{official[s]:.3f}" for s in SETTINGS) + " |"]
    gains = {s: [] for s in SETTINGS}
    for r in sorted(results, key=lambda r: (list(ARMS).index(r["variant"]), r["seed"])):
        for backend in TEST_BACKENDS:
            save = out / f"seed{r['seed']}_{r['variant']}_test_{backend}" / Path(r["checkpoint"]).stem
            if not save.is_dir():
                continue
            aps = first_images_ap(save, subset, work)
            for s in SETTINGS:
                gains[s].append(aps[s] - official[s])
            rows.append(f"| {ARMS[r['variant']][0]} | {r['seed']} | {backend} | "
                        + " | ".join(f"{aps[s]:.3f}" for s in SETTINGS) + " |")
    shutil.rmtree(work, ignore_errors=True)
    if gains["easy"]:
        rows += ["", f"smallest gain over the official weights on these {first} images ({len(gains['easy'])} "
                     "tested checkpoints): " + ", ".join(f"{s} {min(g):+.3f}" for s, g in gains.items())]
    return "\n".join(rows)


def parse_settings(pairs):
    """`--set KEY=VALUE` pairs as {key: value} (values as given on train.py's command line)."""
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --set {pair!r}: expected KEY=VALUE (a train.py config key)")
        settings[key.lstrip("-")] = value
    return settings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="demo")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override the recipe's train.py settings, e.g. lr=2e-4")
    parser.add_argument("--test_with", nargs="+", choices=TEST_BACKENDS, default=list(TEST_BACKENDS),
                        help="test every checkpoint with these backends")
    parser.add_argument("--output_path", default=None, help="work folder (default outputs/kernel_seeds_<recipe>)")
    parser.add_argument("--ckpt_path", default=None, help="converted official checkpoint (converted if omitted)")
    parser.add_argument("--first", type=int, default=RECIPES["e2e"]["data"]["num_val"],
                        help="also AP on the first N held-out images, gains over the official weights (default: the "
                             "e2e recipe's held-out images, tests/test_synthetic_convergence.py's bounds); 0 = off")
    args = parser.parse_args(argv)

    from src.data.synthetic import generate

    out = Path(args.output_path or ROOT / "outputs" / f"kernel_seeds_{args.recipe}")
    out.mkdir(parents=True, exist_ok=True)
    config = {"recipe": args.recipe, "data": RECIPES[args.recipe]["data"],
              "train_flags": train_flags(args.recipe, **parse_settings(args.set)),
              "environment": {key: os.environ.get(key) for key in ("ONEDNN_MAX_CPU_ISA", "OMP_NUM_THREADS")}}
    results_file = out / "results.json"
    saved = json.loads(results_file.read_text()) if results_file.is_file() else {"config": config, "runs": []}
    if saved.get("config") != config:
        raise SystemExit(f"error: {results_file} holds results of another configuration ({saved.get('config')}); "
                         f"choose another --output_path")
    results_file.write_text(json.dumps(saved, indent=1))
    results = saved["runs"]
    ckpt = official_checkpoint(args.ckpt_path)
    data = out / "synthetic"
    if not (data / "train" / "train.json").is_file():
        generate(str(data), progress=False, overwrite=True, **RECIPES[args.recipe]["data"])
    if "official" not in saved:
        saved["official"] = test_checkpoint(ckpt, data, out / "official_test", "kernels", out / "official.test.log")
        results_file.write_text(json.dumps(saved, indent=1))
    for seed in args.seeds:
        for arm in args.arms:
            if any(r["seed"] == seed and r["variant"] == arm for r in results):
                continue
            print(f"seed {seed}: {ARMS[arm][0]} ...", flush=True)
            results.append(train_and_test(config, data, ckpt, out, seed, arm, args.test_with))
            results_file.write_text(json.dumps(saved, indent=1))
    results = [r for r in results if r["seed"] in args.seeds and r["variant"] in args.arms]
    print(f"\nrecipe {args.recipe}: data {config['data']}, train.py {' '.join(config['train_flags'])}; "
          f"environment {config['environment']}; {machine_description()}")
    for backend in args.test_with:
        print(f"\nAP on the held-out synthetic images (original size), tested with "
              f"{'the kernels' if backend == 'kernels' else 'MindSpore ops'}:\n")
        print(table(results, f"test_{backend}", saved["official"]))
    if args.first:
        print(f"\nAP on the first {args.first} held-out images (the end-to-end test's), from the same predictions:\n")
        print(first_images_gains(results, out / "official_test" / Path(ckpt).stem, out, config["data"], args.first))


if __name__ == "__main__":
    main()
