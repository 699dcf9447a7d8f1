"""CenterNet multi-person pose trained from scratch on CPU: synthetic people -> train.py -> eval.py before and
after every epoch -> predict.py drawings, and the COCO keypoint AP table.

    python scripts/demo_pose.py [--output_path outputs/demo_pose] [--epochs E] [--num_train N] [--num_val N] ...

1. `src.data.synthetic_pose` writes a COCO-layout data set (train2017/, val2017/, annotations/) of procedurally
   drawn people; the validation images are held out (other images of the same generator). The default recipe
   makes the check learnable in minutes: one person per image, filling 60-95 % of its height, facing the camera
   (left/right then needs no facing cue), standing or walking, plain scenes (no background shapes, distractors,
   occluders, border cuts or dropped labels; `--clutter`, `--all_views`, `--pose_kinds ''` undo this). Why big
   people: COCO's OKS tolerates a joint error of about k_j * sqrt(area) (k_j = 2 sigma_j, 0.05 for the eyes and
   nose, 0.2 for the hips), i.e. one or two pixels for a 40 px person; a short training from scratch gets nowhere
   near that, so small people score a keypoint AP of exactly 0 whatever the network learnt.
2. The network train.py starts from (random initialisation: there are no pretrained pose or ImageNet weights
   offline) is written as `initial/initial.ckpt` and given to train.py (`--ckpt_path`); its weight digest is
   checked against the one train.py logs, so the "before" row is exactly the network that was trained.
3. train.py trains it (DLA-34 without deformable convs, head_conv 64, Adam with a cosine schedule); the trainer
   writes `train/loss_curve.png`.
4. One eval.py process sweeps `checkpoints/` (the initial weights as `0-0_0.ckpt`, then every epoch's
   checkpoint, or only the last with `--eval_epochs last`): COCO keypoint (OKS) and box AP on the held-out
   images, all K persons per image (score_thresh 0, eval.py's default). predict.py draws the poses the last
   checkpoint finds on the held-out images (`predict/`).
5. The AP table is printed and written with every number to `summary.json`.

The defaults are the demo recipe: 256 training images of one frontal standing or walking person, 8 epochs of
batch 4 at 64x64 (512 Adam steps), 48 held-out images; measured keypoint AP 0.000 -> 0.165 (AP50 0.718, box AP
0.531) in 16.8 minutes on 2 cores shared with 3-4 other jobs (about 9 CPU-minutes).
tests/test_pose_convergence.py runs the same script with a smaller recipe.
"""
import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.demo import run  # noqa: E402  (the repository root must be importable first)

CONFIG = "configs/centernet_pose.yaml"
# pycocotools' summary lines: per result folder eval.py prints the keypoint (OKS) block, then the box block.
STAT_LINE = re.compile(r"^\s*Average (Precision|Recall)\s+\((AP|AR)\) @\[ IoU=(\S+)\s*\| area=\s*(\w+) \|"
                       r" maxDets=\s*(\d+) \] = ([-0-9.]+)", re.M)
BLOCK_HEADER = re.compile(r"^COCO person keypoints, .*$", re.M)
DIGEST_LINE = re.compile(r"initial state rank 0/\d+: weights sha256 ([0-9a-f]{64})")
KEYPOINT_NAMES = ("AP", "AP50", "AP75", "AP_medium", "AP_large", "AR", "AR50", "AR75", "AR_medium", "AR_large")
BOX_NAMES = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large", "AR1", "AR10", "AR100", "AR_small",
             "AR_medium", "AR_large")
INITIAL = "0-0_0"  # the initial weights' name in the sweep folder: epoch 0, sorted first


def model_args(args):
    """Flags that define the network (train.py, eval.py and predict.py must agree on them)."""
    return ["--enable_dcn", args.enable_dcn, "--head_conv", args.head_conv]


def train_args(args, data_dir):
    """train.py's flags of the recipe (also what the initial network is built from)."""
    size = f"{args.train_size},{args.train_size}"
    return ["--config_path", CONFIG, "--data_dir", data_dir, *model_args(args), "--train_size", size,
            "--batch_size", args.batch_size, "--epochs", args.epochs, "--lr", args.lr, "--lr_scheduler", "cosine",
            "--warmup_epochs", args.warmup_epochs, "--aug_color_jitter", args.aug_color_jitter,
            "--aug_lighting_std", 0.1 if args.aug_color_jitter else 0.0, "--rand_crop", "False",
            "--aug_scale", args.aug_scale, "--aug_shift", args.aug_shift, "--mode", args.mode, "--seed", args.seed]


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


def parse_stats(text):
    """{"keypoints": {...}, "bbox": {...}} from one result folder's pycocotools tables (KEYPOINT_NAMES, BOX_NAMES:
    pycocotools' order)."""
    values = [float(m.group(6)) for m in STAT_LINE.finditer(text)]
    if len(values) != len(KEYPOINT_NAMES) + len(BOX_NAMES):
        raise RuntimeError(f"eval.py printed {len(values)} COCO summary lines for a result folder, expected "
                           f"{len(KEYPOINT_NAMES) + len(BOX_NAMES)}")
    return {"keypoints": dict(zip(KEYPOINT_NAMES, values[:len(KEYPOINT_NAMES)])),
            "bbox": dict(zip(BOX_NAMES, values[len(KEYPOINT_NAMES):]))}


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


def evaluate(args, data_dir, sweep, names, out_dir):
    """eval.py over the sweep folder -> {checkpoint stem: stats} as printed, in sweep order."""
    size = f"{args.train_size},{args.train_size}"
    text = run([sys.executable, "eval.py", "--config_path", CONFIG, "--data_dir", data_dir, "--run_mode", "val",
                "--load_checkpoint_path", sweep, "--save_result_dir", out_dir, "--input_size", size,
                "--score_thresh", 0.0, "--mode", args.mode, *model_args(args)], capture=True)
    print(text, end="", flush=True)
    blocks = BLOCK_HEADER.split(text)[1:]
    if len(blocks) != len(names):
        raise RuntimeError(f"eval.py printed {len(blocks)} COCO evaluations, expected {len(names)} ({names})")
    for name in names:
        if not (Path(out_dir) / name / "val_pred_eval.json").is_file():
            raise RuntimeError(f"eval.py wrote no {Path(out_dir) / name / 'val_pred_eval.json'}")
    return {name: parse_stats(block) for name, block in zip(names, blocks)}


def table(rows):
    """Markdown AP table of [(label, stats)]."""
    lines = ["| weights | keypoint AP | AP50 | AP75 | AR | box AP | box AP50 |", "|---|---|---|---|---|---|---|"]
    for label, stats in rows:
        k, b = stats["keypoints"], stats["bbox"]
        lines.append(f"| {label} | {k['AP']:.3f} | {k['AP50']:.3f} | {k['AP75']:.3f} | {k['AR']:.3f} | "
                     f"{b['AP']:.3f} | {b['AP50']:.3f} |")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output_path", default="outputs/demo_pose")
    data = parser.add_argument_group("synthetic data (src/data/synthetic_pose.py)")
    data.add_argument("--num_train", type=int, default=256, help="training images")
    data.add_argument("--num_val", type=int, default=48, help="held-out images (AP is measured on them)")
    data.add_argument("--image_size", type=int, default=96, help="typical long side of the images (>= 96)")
    data.add_argument("--max_people", type=int, default=1, help="most persons per image")
    data.add_argument("--person_height", default="0.6,0.95", help="LOW,HIGH box height / image height")
    data.add_argument("--clutter", action="store_true", help="the generator's full scenes (background shapes, "
                                                            "distractors, occluders, border cuts, dropped labels)")
    data.add_argument("--pose_kinds", default="standing,walking",
                      help="KIND,...: only these pose kinds ('' = all kinds of the generator)")
    data.add_argument("--all_views", action="store_true", help="persons turned any way (default: all face the "
                                                              "camera within +-35 degrees)")
    data.add_argument("--data_seed", type=int, default=0, help="seed of the synthetic data")
    recipe = parser.add_argument_group("training recipe (train.py flags)")
    recipe.add_argument("--seed", type=int, default=1, help="train.py seed (initial weights, augmentation, order)")
    recipe.add_argument("--train_size", type=int, default=64, help="network input side (multiple of 32)")
    recipe.add_argument("--epochs", type=int, default=8)
    recipe.add_argument("--batch_size", type=int, default=4)
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
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from src.data.synthetic_pose import generate

    out = Path(args.output_path).resolve()
    data = out / "data"
    started = time.time()
    person_height = tuple(float(v) for v in args.person_height.split(","))
    print(f"$ synthetic pose data -> {data}", flush=True)
    generate(str(data), args.num_train, args.num_val, args.data_seed, image_size=args.image_size,
             max_people=args.max_people, overwrite=True, person_height=person_height, clutter=args.clutter,
             pose_kinds=args.pose_kinds.split(",") if args.pose_kinds else None, frontal=not args.all_views)

    config_args = train_args(args, data)
    initial = out / "initial" / "initial.ckpt"
    digest = write_initial_checkpoint(config_args, initial)

    run_dir = out / "train"
    train_start = time.time()
    run([sys.executable, "train.py", *config_args, "--ckpt_path", initial, "--output_path", run_dir,
         "--keep_checkpoint_max", 0, "--log_interval", 20])
    train_minutes = (time.time() - train_start) / 60
    logged = DIGEST_LINE.findall((run_dir / "log_rank0.txt").read_text(encoding="utf-8"))
    if not logged or logged[-1] != digest:
        raise RuntimeError(f"initial.ckpt (weights sha256 {digest}) is not the network train.py started from "
                           f"({logged[-1] if logged else 'no digest logged'}): the 'before' row would be wrong")

    eval_start = time.time()
    names = sweep_folder(initial, run_dir / "ckpt", out / "checkpoints", args.eval_epochs == "last")
    stats = evaluate(args, data, out / "checkpoints", names, out / "eval")
    eval_minutes = (time.time() - eval_start) / 60
    last = names[-1]
    last_ckpt = run_dir / "ckpt" / f"{last}.ckpt"

    if not args.skip_predict:
        run([sys.executable, "predict.py", "--config_path", CONFIG, "--ckpt_path", last_ckpt, "--image",
             data / "val2017", "--output_path", out / "predict", "--input_size", f"{args.train_size},{args.train_size}",
             "--score_thresh", 0.3, "--mode", args.mode, *model_args(args)])

    rows = [("random initialisation (before training)", stats[INITIAL])]
    rows += [(f"after epoch {checkpoint_order(name)[0]}", stats[name]) for name in names[1:]]
    summary = {"recipe": vars(args), "initial_weights_sha256": digest, "before": stats[INITIAL],
               "after": stats[last], "per_checkpoint": stats, "result_folders": {n: str(out / "eval" / n)
                                                                                 for n in names},
               "last_checkpoint": str(last_ckpt), "train_minutes": train_minutes, "eval_minutes": eval_minutes,
               "total_minutes": (time.time() - started) / 60}
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(f"\n== CenterNet pose from random initialisation on CPU: COCO AP on {args.num_val} held-out synthetic "
          f"images ({args.epochs} epochs of {args.num_train} images at {args.train_size}x{args.train_size}, "
          f"{train_minutes:.1f} min of training, {summary['total_minutes']:.1f} min in all)")
    print(table(rows))
    print(f"\nloss curve: {run_dir / 'loss_curve.png'}; drawn poses: {out / 'predict'}; "
          f"numbers: {out / 'summary.json'}")
    return summary


if __name__ == "__main__":
    os.environ.setdefault("GLOG_v", "3")
    main()
