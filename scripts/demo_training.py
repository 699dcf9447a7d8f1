"""What the CenterNet training demos (scripts/demo_pose.py, scripts/demo_det.py) share: the network train.py starts
from written as a checkpoint (its weight digest compared with the one train.py logs, so the "before" row is exactly
the network that was trained), one eval.py sweep over the initial weights and the epoch checkpoints, and the
pycocotools tables it prints read back into numbers.
"""
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from scripts.demo import run  # noqa: E402  (the repository root must be importable first)

# pycocotools' summary lines: per result folder eval.py prints its tables (pose: keypoints then bbox; detection: bbox)
STAT_LINE = re.compile(r"^\s*Average (Precision|Recall)\s+\((AP|AR)\) @\[ IoU=(\S+)\s*\| area=\s*(\w+) \|"
                       r" maxDets=\s*(\d+) \] = ([-0-9.]+)", re.M)
BLOCK_HEADER = re.compile(r"^COCO (person keypoints|boxes), .*$", re.M)
DIGEST_LINE = re.compile(r"initial state rank 0/\d+: weights sha256 ([0-9a-f]{64})")
KEYPOINT_NAMES = ("AP", "AP50", "AP75", "AP_medium", "AP_large", "AR", "AR50", "AR75", "AR_medium", "AR_large")
BOX_NAMES = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large", "AR1", "AR10", "AR100", "AR_small",
             "AR_medium", "AR_large")
TABLES = {"keypoints": KEYPOINT_NAMES, "bbox": BOX_NAMES}
INITIAL = "0-0_0"  # the initial weights' name in the sweep folder: epoch 0, sorted first

__all__ = ["run", "INITIAL", "TABLES", "write_initial_checkpoint", "check_initial_digest", "parse_stats",
           "checkpoint_order", "sweep_folder", "evaluate_sweep", "train_and_evaluate", "add_recipe_arguments",
           "recipe_args"]


def write_initial_checkpoint(config_args, path):
    """Save the network that train.py builds from `config_args` (random initialisation with its seed) to `path`;
    returns the SHA-256 digest of its weights as train.py logs it."""
    from src.model_utils.config import parse_config
    from src.model_utils.device import prepare_environment

    cfg = parse_config([str(a) for a in config_args], script="train")
    prepare_environment(cfg.device_target, log=lambda _message: None)
    import mindspore as ms

    from src.engine.run import state_digests
    from src.model_utils.device import init_device
    from src.tasks import get_task

    init_device(cfg.device_target, cfg.device_id, cfg.mode, False, cfg.seed, log=lambda _message: None)
    task = get_task(cfg)
    network = task.build_network()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ms.save_checkpoint(network, str(path), append_dict={"model": task.name})
    return state_digests(network)["weights"]


def check_initial_digest(run_dir, digest):
    """RuntimeError unless train.py's log in `run_dir` says it started from the weights of digest `digest`."""
    logged = DIGEST_LINE.findall((Path(run_dir) / "log_rank0.txt").read_text(encoding="utf-8"))
    if not logged or logged[-1] != digest:
        raise RuntimeError(f"initial.ckpt (weights sha256 {digest}) is not the network train.py started from "
                           f"({logged[-1] if logged else 'no digest logged'}): the 'before' row would be wrong")


def parse_stats(text, kinds=("keypoints", "bbox")):
    """{kind: {name: value}} from one result folder's pycocotools tables, the tables of `kinds` in that order
    (their names: TABLES, pycocotools' order)."""
    values = [float(m.group(6)) for m in STAT_LINE.finditer(text)]
    expected = sum(len(TABLES[kind]) for kind in kinds)
    if len(values) != expected:
        raise RuntimeError(f"eval.py printed {len(values)} COCO summary lines for a result folder, expected {expected}")
    stats, start = {}, 0
    for kind in kinds:
        stats[kind] = dict(zip(TABLES[kind], values[start:start + len(TABLES[kind])]))
        start += len(TABLES[kind])
    return stats


def checkpoint_order(path):
    """(epoch, step) of a `0-{epoch}_{step}.ckpt` name: eval.py's sweep order."""
    epoch, step = re.fullmatch(r"0-(\d+)_(\d+)", Path(path).stem).groups()
    return int(epoch), int(step)


def sweep_folder(initial, ckpt_dir, folder, last_only):
    """`folder` of links: the initial weights as 0-0_0.ckpt and the epoch checkpoints (only the last one with
    `last_only`), so that one eval.py process (one graph compilation) evaluates them all. Returns their stems in
    eval.py's order."""
    folder.mkdir(parents=True, exist_ok=True)
    trained = sorted(Path(ckpt_dir).glob("0-*_*.ckpt"), key=checkpoint_order)
    if not trained:
        raise RuntimeError(f"train.py wrote no checkpoint to {ckpt_dir}")
    chosen = [(Path(initial), INITIAL + ".ckpt")] + [(p, p.name) for p in (trained[-1:] if last_only else trained)]
    for source, name in chosen:
        link = folder / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(source.resolve())
    return [Path(name).stem for _, name in chosen]


def evaluate_sweep(eval_args, sweep, names, out_dir, kinds):
    """eval.py over the sweep folder with `eval_args` (config, data and model flags) -> {checkpoint stem: stats}
    as printed, in sweep order."""
    text = run([sys.executable, "eval.py", *eval_args, "--run_mode", "val", "--ckpt_path", sweep,
                "--output_path", out_dir, "--score_thresh", 0.0], capture=True)
    print(text, end="", flush=True)
    blocks = BLOCK_HEADER.split(text)[2::2]  # split keeps the header's group: [before, group, block, ...]
    if len(blocks) != len(names):
        raise RuntimeError(f"eval.py printed {len(blocks)} COCO evaluations, expected {len(names)} ({names})")
    for name in names:
        if not (Path(out_dir) / name / "val_pred_eval.json").is_file():
            raise RuntimeError(f"eval.py wrote no {Path(out_dir) / name / 'val_pred_eval.json'}")
    return {name: parse_stats(block, kinds) for name, block in zip(names, blocks)}


def train_and_evaluate(out, train_args, eval_args, predict_args, kinds, last_only=False, skip_predict=False,
                       started=None, recipe=None):
    """The demo after its data: the initial network written and trained by train.py (`train_args`; digest
    checked), one eval.py sweep of the initial weights and the epoch checkpoints (`eval_args`; tables of `kinds`),
    predict.py drawings of the last checkpoint (`predict_args`, unless `skip_predict`), and `out/summary.json`.
    Returns (table rows [(label, stats)], the summary dict)."""
    started = time.time() if started is None else started
    initial = out / "initial" / "initial.ckpt"
    digest = write_initial_checkpoint(train_args, initial)
    run_dir = out / "train"
    train_start = time.time()
    run([sys.executable, "train.py", *train_args, "--ckpt_path", initial, "--output_path", run_dir,
         "--keep_checkpoint_max", 0, "--log_interval", 20])
    train_minutes = (time.time() - train_start) / 60
    check_initial_digest(run_dir, digest)

    eval_start = time.time()
    names = sweep_folder(initial, run_dir / "ckpt", out / "checkpoints", last_only)
    stats = evaluate_sweep(eval_args, out / "checkpoints", names, out / "eval", kinds)
    eval_minutes = (time.time() - eval_start) / 60
    last_ckpt = run_dir / "ckpt" / f"{names[-1]}.ckpt"
    if not skip_predict:
        run([sys.executable, "predict.py", *predict_args, "--ckpt_path", last_ckpt, "--output_path", out / "predict"])

    rows = [("random initialisation (before training)", stats[INITIAL])]
    rows += [(f"after epoch {checkpoint_order(name)[0]}", stats[name]) for name in names[1:]]
    summary = {"recipe": recipe, "initial_weights_sha256": digest, "before": stats[INITIAL], "after": stats[names[-1]],
               "per_checkpoint": stats, "result_folders": {n: str(out / "eval" / n) for n in names},
               "last_checkpoint": str(last_ckpt), "train_minutes": train_minutes, "eval_minutes": eval_minutes,
               "total_minutes": (time.time() - started) / 60}
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return rows, summary


def add_recipe_arguments(parser, train_size, batch_size):
    """The training-recipe flags both demos take (a "training recipe" group; defaults shared but the input side
    and the batch), and the sweep/drawing switches."""
    recipe = parser.add_argument_group("training recipe (train.py flags)")
    recipe.add_argument("--seed", type=int, default=1, help="train.py seed (initial weights, augmentation, order)")
    recipe.add_argument("--train_size", type=int, default=train_size, help="network input side (multiple of 32)")
    recipe.add_argument("--epochs", type=int, default=8)
    recipe.add_argument("--batch_size", type=int, default=batch_size)
    recipe.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (cosine schedule)")
    recipe.add_argument("--warmup_epochs", type=float, default=0.2)
    recipe.add_argument("--aug_scale", type=float, default=0.25, help="scale jitter (shift/scale augmentation)")
    recipe.add_argument("--aug_shift", type=float, default=0.05, help="centre shift jitter, fraction of the image")
    recipe.add_argument("--aug_color_jitter", type=float, default=0.0, choices=(0.0, 0.4),
                        help="the original's colour augmentation (0.4, with PCA lighting 0.1) or none (0)")
    recipe.add_argument("--enable_dcn", default="False", choices=("True", "False"),
                        help="deformable convs in the neck (the original; ~2x slower training on CPU)")
    recipe.add_argument("--head_conv", type=int, default=64, help="channels of each head's 3x3 conv (original 256)")
    recipe.add_argument("--mode", default="GRAPH", choices=("GRAPH", "PYNATIVE"), help="MindSpore execution mode")
    parser.add_argument("--eval_epochs", default="all", choices=("all", "last"),
                        help="evaluate every epoch's checkpoint or only the last one (besides the initial weights)")
    parser.add_argument("--skip_predict", action="store_true", help="do not draw the held-out images")
    return recipe


def recipe_args(args, config, data_dir):
    """(train.py flags of the recipe, the flags that define the network and its input for eval.py/predict.py)."""
    size = f"{args.train_size},{args.train_size}"
    model = ["--config_path", config, "--enable_dcn", args.enable_dcn, "--head_conv", args.head_conv, "--mode",
             args.mode]
    train = [*model, "--data_dir", data_dir, "--train_size", size, "--batch_size", args.batch_size, "--epochs",
             args.epochs, "--lr", args.lr, "--lr_scheduler", "cosine", "--warmup_epochs", args.warmup_epochs,
             "--aug_color_jitter", args.aug_color_jitter, "--aug_lighting_std", 0.1 if args.aug_color_jitter else 0.0,
             "--aug_scale", args.aug_scale, "--aug_shift", args.aug_shift, "--seed", args.seed]
    return train, [*model, "--input_size", size]
