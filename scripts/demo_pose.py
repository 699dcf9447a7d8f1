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
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.demo_training import add_recipe_arguments, recipe_args, train_and_evaluate  # noqa: E402

CONFIG = "configs/centernet_pose.yaml"


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
    add_recipe_arguments(parser, train_size=64, batch_size=4)
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

    train, common = recipe_args(args, CONFIG, data)
    rows, summary = train_and_evaluate(
        out, [*train, "--rand_crop", "False"], [*common, "--data_dir", data],
        [*common, "--image", data / "val2017", "--score_thresh", 0.3], ("keypoints", "bbox"),
        last_only=args.eval_epochs == "last", skip_predict=args.skip_predict, started=started, recipe=vars(args))
    run_dir, train_minutes = out / "train", summary["train_minutes"]
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
