"""CenterFace inference latency on CPU: our MindSpore model vs onnxruntime on the official ONNX.

    python benchmarks/bench_infer.py [--input_size 640] [--runs 20]

(a) MindSpore, GRAPH_MODE, BatchNorm folded (`src/models/fold_bn.py`), the project's compiled CPU kernels
    (`src/models/kernels/`, the default of predict.py/test.py/train.py: `cpu_kernels True`), official weights;
(a0) the same with MindSpore's own ops (`--cpu_kernels False`), for reference;
(b) onnxruntime on the official centerface.onnx (the peer);
(c) onnxruntime on our exported ONNX (export.py path, folded).
Batch 1, median of `--runs` interleaved rounds after warm-up, all in this process. Targets: a/b <= 1.5,
c/b <= 1.05.

    python benchmarks/bench_infer.py --memory [--memory_sizes 640x480,1280x960,...] [--photo 8000x6000]

Peak memory of predict.py's path (config, InferenceModel, task.detect on one random image of each size at its
original size, `max_input_side 0`), one fresh subprocess per size, peak RSS from `resource.getrusage`: the
table gives the peak, the increase over the process's RSS just before detect, and that increase per megapixel
of network input; `--photo` adds one large photo with the default `max_input_side` (the bound).
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")  # docs/design.md "Platform facts"; before mindspore is imported

import numpy as np  # noqa: E402

from benchmarks.common import interleaved_medians, machine_description  # noqa: E402

# Run in a fresh process per size: ru_maxrss is the peak of the whole process life.
MEMORY_PROBE = """
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
import numpy as np
from src.model_utils.config import parse_config
from src.model_utils.device import init_device
from src.inference.model import InferenceModel
from src.inference.passes import plan_passes
from src.tasks import get_task

cfg = parse_config(["--ckpt_path", {ckpt!r}] + {extra!r}, script="predict")
task = get_task(cfg)
init_device(cfg.device_target, cfg.device_id, cfg.mode)
model = InferenceModel(task)
model.load(cfg.ckpt_path)
options = task.inference_options("predict")
image = np.random.default_rng(0).integers(0, 256, ({height}, {width}, 3), dtype=np.uint8)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
_, meta = task.make_input(image, plan_passes(options)[0], options)
start = time.perf_counter()
task.detect(model, image, options)
print(json.dumps({{"before_kb": before, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "seconds": time.perf_counter() - start, "input_hw": list(meta.input_hw)}}))
"""


def memory_probe(ckpt, height, width, extra=()):
    """{"before_kb", "peak_kb", "seconds", "input_hw"} of predict.py's path on one random height x width image,
    in a fresh subprocess (see MEMORY_PROBE)."""
    import json
    import subprocess

    script = MEMORY_PROBE.format(root=str(ROOT), ckpt=str(ckpt), extra=list(extra), height=height, width=width)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "GLOG_v": "3"})
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe {height}x{width} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def memory_table(ckpt, sizes, photo=None, model_args=(), name="CenterFace"):
    """Print the peak-memory table (module docstring), a row as soon as it is measured; returns the rows.
    model_args: config flags selecting another model (benchmarks/bench_memory.py: CenterNet pose)."""
    print(f"\npredict.py path, {name}, one image at its original size; {machine_description()}")
    print("| image | network input | megapixels in | peak RSS (GB) | increase over load (GB) | GB per MP | "
          "detect (s) |")
    print("|---|---|---:|---:|---:|---:|---:|", flush=True)
    runs = [((h, w), [*model_args, "--max_input_side", "0"], "") for h, w in sizes]
    if photo is not None:
        runs.append((photo, list(model_args), " (default max_input_side)"))
    rows = []
    for (height, width), extra, note in runs:
        try:
            row = memory_probe(ckpt, height, width, extra)
        except RuntimeError as err:  # e.g. MindSpore's "Memory not enough" on a loaded machine
            print(f"| {width}x{height}{note} | failed: {str(err).splitlines()[0][:80]} | | | | | |", flush=True)
            continue
        h, w = row["input_hw"]
        mp = h * w / 1e6
        grow = (row["peak_kb"] - row["before_kb"]) / 2 ** 20
        print(f"| {width}x{height}{note} | {w}x{h} | {mp:.2f} | {row['peak_kb'] / 2 ** 20:.2f} | {grow:.2f} | "
              f"{grow / mp:.3f} | {row['seconds']:.1f} |", flush=True)
        rows.append({"size": (height, width), "bounded": "--max_input_side" not in extra, "megapixels": mp, **row})
    plain = [r for r in rows if not r["bounded"]]
    if len(plain) >= 2:
        mps = np.array([r["megapixels"] for r in plain])
        peaks = np.array([r["peak_kb"] / 2 ** 20 for r in plain])
        slope, intercept = np.polyfit(mps, peaks, 1)
        seconds, per_mp = np.polyfit(mps, [r["seconds"] for r in plain], 1)[::-1]
        print(f"\nlinear fit of the peak: {intercept:.2f} GB + {slope:.3f} GB per megapixel of network input; "
              f"detect: {seconds:.1f} s + {per_mp:.2f} s per megapixel")
    return rows


def _sizes(text):
    sizes = []
    for item in text.split(","):
        width, height = (int(v) for v in item.lower().split("x"))
        sizes.append((height, width))
    return sizes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input_size", type=int, default=640, help="input height and width (multiple of 32)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="onnxruntime intra-op threads")
    parser.add_argument("--onnx", default=None, help="official centerface.onnx (fetched if omitted)")
    parser.add_argument("--ckpt_path", default=None, help="converted official checkpoint (converted if omitted)")
    parser.add_argument("--memory", action="store_true", help="the peak-memory table instead of the latency one")
    parser.add_argument("--memory_sizes", default="640x480,1280x960,1920x1440,2560x1920",
                        help="WxH image sizes of the memory table")
    parser.add_argument("--photo", default="", help="WxH of a large photo tested with the default max_input_side")
    args = parser.parse_args(argv)
    if args.memory:
        from benchmarks.common import official_checkpoint

        photo = _sizes(args.photo)[0] if args.photo else None
        memory_table(official_checkpoint(args.ckpt_path), _sizes(args.memory_sizes), photo)
        return

    import mindspore as ms

    from src.centerface.network import CenterFace
    from src.convert_weight_centerface import main as convert_main
    from src.engine.checkpoint import load_weights
    from src.export_utils import export_network
    from src.models.fold_bn import fold_batchnorm
    from src.models.kernels import enable_cpu_kernels
    from src.onnx_utils import ort_session
    from src.pretrained import fetch_official_onnx
    from src.tasks import get_task

    task = get_task("centerface")
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    onnx_path = Path(args.onnx) if args.onnx else fetch_official_onnx()
    tmp = Path(tempfile.mkdtemp(prefix="bench_infer_"))
    ckpt = Path(args.ckpt_path) if args.ckpt_path else tmp / "official.ckpt"
    if not ckpt.is_file():
        convert_main(["--onnx", str(onnx_path), "--output_path", str(ckpt)])

    def load(kernels):
        net = CenterFace(task.heads)
        load_weights(net, ckpt, strict=True)
        net.set_train(False)
        fold_batchnorm(net)
        if kernels:
            enable_cpu_kernels(net)
        return net

    x = np.random.default_rng(0).uniform(0, 255, (1, 3, args.input_size, args.input_size)).astype(np.float32)
    x_ms = ms.Tensor(x)
    with_kernels, without_kernels = load(True), load(False)
    ours_onnx = export_network(load(False), tmp / "ours", "ONNX", x.shape,
                               names=(task.input_name, task.output_names))
    official = ort_session(onnx_path, num_threads=args.threads)
    exported = ort_session(ours_onnx, num_threads=args.threads, dynamic=False)
    candidates = {
        "a": lambda: with_kernels(x_ms)[0].asnumpy(),
        "a0": lambda: without_kernels(x_ms)[0].asnumpy(),
        "b": lambda: official.run(None, {"input.1": x}),
        "c": lambda: exported.run(None, {"input.1": x}),
    }
    medians = interleaved_medians(candidates, args.runs, args.warmup)
    labels = {"a": "MindSpore CPU, GRAPH, BN folded + compiled kernels (ours)",
              "a0": "MindSpore CPU, GRAPH, BN folded, MindSpore's ops",
              "b": "onnxruntime, official centerface.onnx (peer)", "c": "onnxruntime, our exported ONNX"}
    print(f"\nCenterFace {args.input_size}x{args.input_size} batch 1, median of {args.runs} interleaved runs; "
          f"onnxruntime {args.threads} threads; {machine_description()}")
    print(f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA')}\n")
    print("| variant | latency (ms) | ratio to (b) |")
    print("|---|---:|---:|")
    for key in ("a", "a0", "b", "c"):
        print(f"| ({key}) {labels[key]} | {medians[key] * 1000:.1f} | {medians[key] / medians['b']:.2f} |")
    a_b, c_b = medians["a"] / medians["b"], medians["c"] / medians["b"]
    print(f"\na/b = {a_b:.2f} (target <= 1.5: {'met' if a_b <= 1.5 else 'NOT met'}); "
          f"c/b = {c_b:.2f} (target <= 1.05: {'met' if c_b <= 1.05 else 'NOT met'})")


if __name__ == "__main__":
    main()
