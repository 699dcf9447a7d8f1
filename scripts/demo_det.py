"""CenterNet object detection trained from scratch on CPU: synthetic objects -> train.py -> eval.py before and
after every epoch -> predict.py drawings, and the COCO box AP table.

    python scripts/demo_det.py [--output_path outputs/demo_det] [--epochs E] [--num_train N] [--num_val N]
        [--generator_args "--no_clutter --max_objects 3 --object_size 0.25,0.6"] [--data_dir COCO_DIR] ...

1. `python -m src.data.synthetic_objects` writes a COCO instances data set (train2017/, val2017/,
   annotations/instances_*.json) of procedurally drawn shapes of several classes; the validation images are held
   out (other images of the same generator). `--generator_args` passes more of its options; `--data_dir` uses an
   existing COCO instances folder instead (train2017 and val2017 with their annotations).
2. The model's class table comes from the training json: its categories sorted by id (the class order of
   src/data/coco_instances.py) become `num_classes`, `category_ids` and `class_names` of an override config,
   `<output_path>/det_config.yaml` over configs/centernet_det.yaml, which every script of the run reads (the heads
   follow from num_classes).
3. The network train.py starts from (random initialisation: no pretrained weights offline) is written as
   `initial/initial.ckpt` and given to train.py; its weight digest is checked against the one train.py logs, so
   the "before" row is exactly the network that was trained (scripts/demo_training.py).
4. train.py trains it (DLA-34 without deformable convs, head_conv 64, Adam with a cosine schedule, the original's
   loss and targets); the trainer writes `train/loss_curve.png`.
5. One eval.py process sweeps `checkpoints/` (the initial weights as `0-0_0.ckpt`, then every epoch's checkpoint,
   or only the last with `--eval_epochs last`): COCO box AP over all classes on the held-out images, all K
   detections per image. predict.py draws what the last checkpoint finds on the held-out images (`predict/`).
6. The AP table is printed and written with every number to `summary.json`.

The defaults are the demo recipe: 256 training images of at most 3 objects (6 classes) on plain backgrounds,
objects 0.25-0.6 of the short side of images about 128 px wide, 8 epochs of batch 8 at 128x128 (256 Adam steps),
48 held-out images; measured box AP 0.000 -> 0.074 (AP50 0.202, AR100 0.405) in 12.6 minutes on 2 shared cores.
tests/test_det_convergence.py runs the same script with a smaller recipe.
"""
import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.demo_training import add_recipe_arguments, recipe_args, run, train_and_evaluate  # noqa: E402

TRAIN_JSON = Path("annotations") / "instances_train2017.json"


def write_class_config(data_dir, path):
    """An override config of configs/centernet_det.yaml with the class table of the training json (categories
    sorted by id); returns the number of classes."""
    categories = json.loads((Path(data_dir) / TRAIN_JSON).read_text(encoding="utf-8"))["categories"]
    categories = sorted(categories, key=lambda c: c["id"])
    count = len(categories)
    values = {"task": "centernet_det", "num_classes": count, "category_ids": [c["id"] for c in categories],
              "class_names": [str(c["name"]) for c in categories]}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("# the class table of " + str(Path(data_dir) / TRAIN_JSON) + "\n" + yaml.safe_dump(values),
                          encoding="utf-8")
    return count


def table(rows):
    """Markdown AP table of [(label, stats)]."""
    lines = ["| weights | box AP | AP50 | AP75 | AP small | AP medium | AP large | AR100 |",
             "|---|---|---|---|---|---|---|---|"]
    for label, stats in rows:
        b = stats["bbox"]
        lines.append(f"| {label} | {b['AP']:.3f} | {b['AP50']:.3f} | {b['AP75']:.3f} | {b['AP_small']:.3f} | "
                     f"{b['AP_medium']:.3f} | {b['AP_large']:.3f} | {b['AR100']:.3f} |")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output_path", default="outputs/demo_det")
    data = parser.add_argument_group("synthetic data (python -m src.data.synthetic_objects)")
    data.add_argument("--data_dir", default="", help="an existing COCO instances folder instead of generated data")
    data.add_argument("--num_train", type=int, default=256, help="training images")
    data.add_argument("--num_val", type=int, default=48, help="held-out images (AP is measured on them)")
    data.add_argument("--image_size", type=int, default=128, help="typical long side of the images")
    data.add_argument("--data_seed", type=int, default=0, help="seed of the synthetic data")
    data.add_argument("--generator_args", default="--no_clutter --max_objects 3 --object_size 0.25,0.6",
                      help="more options of the generator, one string (default: plain scenes, at most 3 objects of "
                           "0.25-0.6 of the image's short side)")
    recipe = add_recipe_arguments(parser, train_size=128, batch_size=8)
    recipe.add_argument("--rand_crop", default="False", choices=("True", "False"),
                        help="the original's random crop (default: the gentler shift/scale augmentation)")
    recipe.add_argument("--max_objs", type=int, default=32, help="objects with targets per image")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.output_path).resolve()
    started = time.time()
    data = Path(args.data_dir).resolve() if args.data_dir else out / "data"
    if not args.data_dir:
        run([sys.executable, "-m", "src.data.synthetic_objects", "--output_path", data, "--num_train", args.num_train,
             "--num_val", args.num_val, "--seed", args.data_seed, "--image_size", args.image_size, "--overwrite",
             *shlex.split(args.generator_args)])
    config = out / "det_config.yaml"
    classes = write_class_config(data, config)

    train, common = recipe_args(args, config, data)
    rows, summary = train_and_evaluate(
        out, [*train, "--rand_crop", args.rand_crop, "--max_objs", args.max_objs], [*common, "--data_dir", data],
        [*common, "--image", data / "val2017", "--score_thresh", 0.3], ("bbox",),
        last_only=args.eval_epochs == "last", skip_predict=args.skip_predict, started=started,
        recipe={**vars(args), "classes": classes, "config": str(config), "data_dir": str(data)})
    run_dir, train_minutes = out / "train", summary["train_minutes"]
    print(f"\n== CenterNet detection from random initialisation on CPU: COCO box AP over {classes} classes on the "
          f"held-out images of {data} ({args.epochs} epochs at {args.train_size}x{args.train_size}, "
          f"{train_minutes:.1f} min of training, {summary['total_minutes']:.1f} min in all)")
    print(table(rows))
    print(f"\nloss curve: {run_dir / 'loss_curve.png'}; drawn detections: {out / 'predict'}; "
          f"numbers: {out / 'summary.json'}")
    return summary


if __name__ == "__main__":
    os.environ.setdefault("GLOG_v", "3")
    main()
