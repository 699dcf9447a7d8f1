"""CenterFace inference latency on CPU: our MindSpore model vs onnxruntime on the official ONNX.

    python benchmarks/bench_infer.py [--size 640] [--runs 20]

(a) MindSpore, GRAPH_MODE, BatchNorm folded (`src/models/fold_bn.py`), the project's compiled CPU kernels
    (`src/models/cpu_kernels.py`, opt-in in predict.py/test.py/train.py with --cpu_kernels True), official weights;
(a0) the same with MindSpore's own ops (the default), for reference;
(b) onnxruntime on the official centerface.onnx (the peer);
(c) onnxruntime on our exported ONNX (export.py path, folded).
Batch 1, median of `--runs` interleaved rounds after warm-up, all in this process. Targets: a/b <= 1.5,
c/b <= 1.05.
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")  # DESIGN.md §1; before mindspore is imported

import numpy as np  # noqa: E402

from benchmarks.common import interleaved_medians, machine_description  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=640, help="input height and width (multiple of 32)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="onnxruntime intra-op threads")
    parser.add_argument("--onnx", default=None, help="official centerface.onnx (fetched if omitted)")
    parser.add_argument("--ckpt", default=None, help="converted official checkpoint (converted if omitted)")
    args = parser.parse_args(argv)

    import mindspore as ms

    from src.convert_weight_centerface import main as convert_main
    from src.export_utils import export_network
    from src.engine.checkpoint import load_weights
    from src.centerface.network import CenterFace
    from src.models.kernels import enable_cpu_kernels
    from src.models.fold_bn import fold_batchnorm
    from src.onnx_utils import ort_session
    from src.pretrained import fetch_official_onnx

    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_device("CPU")
    onnx_path = Path(args.onnx) if args.onnx else fetch_official_onnx()
    tmp = Path(tempfile.mkdtemp(prefix="bench_infer_"))
    ckpt = Path(args.ckpt) if args.ckpt else tmp / "official.ckpt"
    if not ckpt.is_file():
        convert_main(["--onnx", str(onnx_path), "--out_ckpt", str(ckpt)])

    def load(kernels):
        net = CenterFace()
        load_weights(net, ckpt, strict=True)
        net.set_train(False)
        fold_batchnorm(net)
        if kernels:
            enable_cpu_kernels(net)
        return net

    x = np.random.default_rng(0).uniform(0, 255, (1, 3, args.size, args.size)).astype(np.float32)
    x_ms = ms.Tensor(x)
    with_kernels, without_kernels = load(True), load(False)
    ours_onnx = export_network(load(False), tmp / "ours", "ONNX", x.shape)
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
    print(f"\nCenterFace {args.size}x{args.size} batch 1, median of {args.runs} interleaved runs; "
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
