"""Peak memory of train.py and predict.py on CPU, measured on small runs and fitted to a line: where the memory
models of `src/engine/memory.py` (training) and the per-model `max_input_side` (inference) come from.

    python benchmarks/bench_memory.py --part train [--model centerface|pose|pose_nodcn|ctdet|...] [--points 1x128,...]
    python benchmarks/bench_memory.py --part predict [--model pose|pose_nodcn|ctdet|...] [--sizes 512x384,...]

Models: centerface; pose, pose_nodcn (CenterNet pose with and without DCN); ctdet, ctdet_nodcn (CenterNet detection,
DLA-34), ctdet_resdcn18, ctdet_resdcn18_nodcn (its ResNet-18 network).

train: the real `python train.py` in a fresh process per point (BATCHxSIDE: batch size and a square train_size),
on synthetic data, `--num_workers 1` (one process), 3 steps; the peak is the child's `ru_maxrss` (os.wait4),
which covers graph compilation and the steps. The fit is peak = a + b * batch * H * W (GB, and bytes per input
pixel), the form of `src.engine.memory.MemoryModel`; the prediction of each point is printed beside its
measurement. predict: one image of each WxH at its original size (`max_input_side 0`) through predict.py's path
in a fresh process (benchmarks/bench_infer.py's probe), peak RSS and seconds of the detect call; the fit is
peak = a + b * megapixels of network input.

Stay below what the machine can spare: the defaults stay under ~3 GB per run. A point that fails (for example
MindSpore out of memory on a loaded machine) is printed as failed and left out of the fit.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")  # docs/design.md "Platform facts"; before mindspore is imported

import numpy as np  # noqa: E402

from benchmarks.common import machine_description  # noqa: E402

POSE_CONFIG = str(ROOT / "configs" / "centernet_pose.yaml")
DET_CONFIG = str(ROOT / "configs" / "centernet_det.yaml")
MODELS = {  # model -> train.py / predict.py arguments selecting it
    "centerface": [],
    "pose": ["--config_path", POSE_CONFIG, "--enable_dcn", "True"],
    "pose_nodcn": ["--config_path", POSE_CONFIG, "--enable_dcn", "False"],
    "ctdet": ["--config_path", DET_CONFIG, "--enable_dcn", "True"],
    "ctdet_nodcn": ["--config_path", DET_CONFIG, "--enable_dcn", "False"],
    "ctdet_resdcn18": ["--config_path", DET_CONFIG, "--arch", "resdcn_18", "--enable_dcn", "True"],
    "ctdet_resdcn18_nodcn": ["--config_path", DET_CONFIG, "--arch", "resdcn_18", "--enable_dcn", "False"],
}
TRAIN_POINTS = "1x128,2x128,1x256,2x256"
STEPS = 3


def fit_line(x, y):
    """(intercept, slope) of the least-squares line y = intercept + slope * x."""
    slope, intercept = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    return float(intercept), float(slope)


def _points(text):
    """[(batch, side)] of "BATCHxSIDE,..." (bench_infer's "WxH" parser gives (H, W) = (side, batch))."""
    from benchmarks.bench_infer import _sizes

    return [(batch, side) for side, batch in _sizes(text)]


def training_data(model, folder, images):
    """train.py arguments reading `images` synthetic training images written to `folder`."""
    if model == "centerface":
        from src.data.synthetic import generate

        paths = generate(str(folder), images, 0, seed=3, image_size=320, progress=False)
        return ["--train_json", paths["train_json"], "--train_image_dir", paths["train_images"]]
    if model.startswith("ctdet"):  # synthetic objects, the class table of their json in an override file
        from scripts.demo_det import write_class_config
        from src.data.synthetic_objects import generate

        generate(str(folder), images, 0, seed=3, image_size=320, progress=False)
        write_class_config(folder, Path(folder) / "classes.yaml")
        return ["--data_dir", str(folder), "--config_path", str(Path(folder) / "classes.yaml")]
    from src.data.synthetic_pose import generate

    generate(str(folder), images, 0, seed=3, image_size=320, progress=False)
    return ["--data_dir", str(folder)]


def train_peak(model, data_args, batch, side, out_dir):
    """{"peak_gb", "seconds"} of one train.py run of STEPS steps at `batch` x `side` x `side`."""
    args = [sys.executable, str(ROOT / "train.py"), *MODELS[model], *data_args, "--output_path", str(out_dir),
            "--batch_size", str(batch), "--train_size", f"{side},{side}", "--epochs", "1", "--num_workers", "1",
            "--log_interval", "1", "--memory_check", "False", "--bn_calibration_batches", "0"]
    start = time.perf_counter()
    with open(Path(out_dir).parent / f"{Path(out_dir).name}.log", "w") as log:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "GLOG_v": "3"})
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"train.py exited {os.waitstatus_to_exitcode(status)}; log {log.name}")
    return {"peak_gb": usage.ru_maxrss / 2 ** 20, "seconds": time.perf_counter() - start}


def train_table(model, points):
    print(f"\ntrain.py peak memory, {model}, {STEPS} steps per point; {machine_description()}")
    print("| batch | train_size | batch x pixels (M) | peak RSS (GB) | run (s) |")
    print("|---:|---|---:|---:|---:|", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data_args = {}
        for batch, side in points:
            images = batch * STEPS
            if images not in data_args:
                data_args[images] = training_data(model, Path(tmp) / f"data{images}", images)
            try:
                row = train_peak(model, data_args[images], batch, side, Path(tmp) / f"run_{batch}x{side}")
            except RuntimeError as err:
                print(f"| {batch} | {side}x{side} | | failed: {err} | |", flush=True)
                continue
            pixels = batch * side * side
            print(f"| {batch} | {side}x{side} | {pixels / 1e6:.3f} | {row['peak_gb']:.2f} | {row['seconds']:.0f} |",
                  flush=True)
            rows.append({"batch": batch, "side": side, "pixels": pixels, **row})
    if len(rows) >= 2:
        a, b = fit_line([r["pixels"] for r in rows], [r["peak_gb"] for r in rows])
        print(f"\nfit: peak = {a:.3f} GB + {b * 2 ** 30:.0f} bytes x batch x H x W")
        for r in rows:
            print(f"  {r['batch']}x{r['side']}: measured {r['peak_gb']:.2f} GB, fit {a + b * r['pixels']:.2f} GB")
        print(json.dumps({"model": model, "base_gb": round(a, 3), "bytes_per_pixel": round(b * 2 ** 30),
                          "points": rows}))
    return rows


def random_checkpoint(model, path):
    """A random-weight checkpoint of `model` (the memory and time do not depend on the weights)."""
    import mindspore as ms

    from src.model_utils.config import parse_config
    from src.tasks import get_task

    ms.set_seed(1)
    cfg = parse_config(MODELS[model])
    task = get_task(cfg)
    ms.save_checkpoint(task.build_network(), str(path), append_dict={"model": task.name})
    return path


def predict_table(model, sizes, photo=None):
    """benchmarks/bench_infer.py's peak-memory table for `model` (keep_res for the pose model), with a random
    checkpoint; `photo`: one large image at the model's default max_input_side."""
    from benchmarks.bench_infer import memory_table

    args = MODELS[model] + (["--keep_res", "True"] if model != "centerface" else [])
    with tempfile.TemporaryDirectory() as tmp:
        return memory_table(random_checkpoint(model, Path(tmp) / "model.ckpt"), sizes, photo, args, model)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("train", "predict"), default="train")
    parser.add_argument("--model", choices=tuple(MODELS), default="pose")
    parser.add_argument("--points", default=TRAIN_POINTS, help="train: BATCHxSIDE points (square train_size)")
    parser.add_argument("--sizes", default="512x384,1024x768,1536x1152", help="predict: WxH image sizes")
    parser.add_argument("--photo", default="", help="predict: WxH of a large photo run at the default max_input_side")
    args = parser.parse_args(argv)
    if args.part == "train":
        train_table(args.model, _points(args.points))
    else:
        from benchmarks.bench_infer import _sizes

        predict_table(args.model, _sizes(args.sizes), _sizes(args.photo)[0] if args.photo else None)


if __name__ == "__main__":
    main()
