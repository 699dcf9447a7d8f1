"""`make demo`: (1) the official CenterFace weights in MindSpore on a real photo; (2) the whole training
chain on CPU: synthetic faces -> fine-tune -> test.py over every epoch -> WIDER evaluation, with the AP of the
official weights before fine-tuning for comparison.

    python scripts/demo.py --ckpt_path .cache/official/centerface_official.ckpt [--image assets/astronaut.png]
        [--output_path outputs/demo] [--epochs 3] [--skip_training]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AP_LINE = re.compile(r"^(Easy|Medium|Hard)\s+Val AP:\s*([0-9.eE+-]+)", re.M)


def run(cmd, capture=False):
    cmd = [str(c) for c in cmd]
    print("$ " + " ".join(cmd), flush=True)
    env = dict(os.environ, PYTHON=sys.executable)  # the shell scripts run ${PYTHON}
    env.setdefault("GLOG_v", "3")  # MindSpore: errors only, so the demo's own output stays readable
    result = subprocess.run(cmd, check=True, cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE if capture else None)
    return result.stdout


def pretrained_detection(args):
    out = Path(args.output_path) / "pretrained"
    run([sys.executable, "predict.py", "--ckpt_path", args.ckpt_path, "--image", args.image, "--output_path", out])
    stem = Path(args.image).stem
    result = json.loads((out / f"{stem}.json").read_text())
    print(f"\n== Official CenterFace weights, MindSpore on CPU: {len(result['detections'])} face(s) in {args.image}")
    for i, det in enumerate(result["detections"]):
        box = ", ".join(f"{v:.1f}" for v in det["bbox"])
        marks = " ".join(f"({x:.0f},{y:.0f})" for x, y in det["landmarks"])
        print(f"  #{i} score {det['score']:.3f} box [{box}] landmarks {marks}")
    print(f"  drawn: {out / (stem + '.jpg')}\n")


def evaluate(ckpt, data, save_dir):
    """test.py + eval.py on the synthetic val set; returns {setting: AP}."""
    run([sys.executable, "test.py", "--ckpt_path", ckpt, "--data_dir", data / "val" / "images",
         "--ground_truth_path", data / "val" / "ground_truth", "--save_dir", save_dir, "--input_size", ""])
    pred = Path(save_dir) / Path(ckpt).stem
    text = run([sys.executable, "eval.py", "--pred", pred, "--gt", data / "val" / "ground_truth",
                "--eval_plot", pred / "pr_curves.png"], capture=True)
    return {k.lower(): float(v) for k, v in AP_LINE.findall(text)}


def synthetic_training(args):
    out = Path(args.output_path)
    data = out / "synthetic"
    if not (data / "train" / "train.json").is_file():
        run([sys.executable, "-m", "src.data.synthetic", "--output_path", data, "--num_train", args.num_train,
             "--num_val", args.num_val, "--seed", 0, "--overwrite"])
    before = evaluate(args.ckpt_path, data, out / "test_official")
    run_dir = out / "train"
    shutil.rmtree(run_dir, ignore_errors=True)  # the demo's own earlier run: train.py never mixes two runs
    start = time.time()
    run([sys.executable, "train.py", "--train_json", data / "train" / "train.json", "--output_path", run_dir,
         "--ckpt_path", args.ckpt_path, "--epochs", args.epochs, "--train_size", "320,320", "--batch_size", 8,
         "--lr", 5e-4, "--lr_scheduler", "cosine", "--log_interval", 10, "--keep_checkpoint_max", 0,
         "--cpu_kernels", args.cpu_kernels])
    train_minutes = (time.time() - start) / 60
    # Every epoch's checkpoint through the zoo-style sweep: test.py over the folder, then eval_all.
    run(["bash", "scripts/test_and_eval.sh", run_dir / "ckpt", data / "val" / "images", data / "val" / "ground_truth",
         out / "test_epochs", "CPU", "0", "--input_size", ""])
    last = sorted((run_dir / "ckpt").glob("0-*.ckpt"), key=lambda p: int(p.stem.split("-")[1].split("_")[0]))[-1]
    after = json.loads((out / "test_epochs" / last.stem / "eval.json").read_text())
    run([sys.executable, "eval.py", "--pred", out / "test_epochs" / last.stem, "--gt", data / "val" / "ground_truth",
         "--eval_plot", out / "test_epochs" / last.stem / "pr_curves.png"], capture=True)
    first_event = sorted((data / "val" / "images").iterdir())[0]
    run([sys.executable, "predict.py", "--ckpt_path", last, "--image", first_event, "--output_path", out / "detections",
         "--score_thresh", 0.3])
    print("\n== Synthetic faces: WIDER-protocol AP on held-out images (IoU 0.5)")
    print("| weights | Easy | Medium | Hard |\n|---|---|---|---|")
    print(f"| official, before fine-tuning | {before['easy']:.3f} | {before['medium']:.3f} | {before['hard']:.3f} |")
    print(f"| fine-tuned {args.epochs} epochs on CPU ({train_minutes:.1f} min) | {after['easy']:.3f} | "
          f"{after['medium']:.3f} | {after['hard']:.3f} |")
    print(f"\nloss curve: {run_dir / 'loss_curve.png'}; per-epoch table: {out / 'test_epochs' / 'eval_all.txt'}")
    print(f"PR curves: {out / 'test_official' / Path(args.ckpt_path).stem / 'pr_curves.png'} (before), "
          f"{out / 'test_epochs' / last.stem / 'pr_curves.png'} (after); drawn detections: {out / 'detections'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt_path", required=True, help="the converted official checkpoint")
    parser.add_argument("--image", default="assets/astronaut.png")
    parser.add_argument("--output_path", default="outputs/demo")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--num_train", type=int, default=300)
    parser.add_argument("--num_val", type=int, default=60)
    parser.add_argument("--skip_training", action="store_true", help="only the pretrained detection")
    parser.add_argument("--cpu_kernels", choices=("True", "False"), default="True",
                        help="train with the compiled CPU kernels (default) or MindSpore's ops (testing gives the "
                             "same AP either way)")
    args = parser.parse_args(argv)
    pretrained_detection(args)
    if not args.skip_training:
        synthetic_training(args)


if __name__ == "__main__":
    main()
