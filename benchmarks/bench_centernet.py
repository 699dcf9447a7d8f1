"""CenterNet on CPU (pose DLA-34, ctdet DLA-34, ctdet ResNet-18): MindSpore vs a PyTorch eager twin, inference and
training, plus the data pipeline.

    python benchmarks/bench_centernet.py [--model pose|ctdet_dla|ctdet_resdcn18]
                                    [--part all|infer|train|data|predict] [--input_size 512] [--batch 8]
                                    [--threads N] [--infer-runs 7] [--train-runs 3] [--warmup 1]
                                    [--train-dcn True|False] [--train-ms-ops] [--separate-processes]
                                    [--data-images 40] [--data-samples 200] [--image_size 640 480]
                                    [--predict-images 12] [--predict-passes 2] [--no-cold]

--model: the network and task. pose = multi_pose_dla (DLA-34, 6 pose heads, configs/centernet_pose.yaml);
ctdet_dla = ctdet_coco_dla_2x's network (DLA-34, hm 80 / wh 2 / reg 2); ctdet_resdcn18 = ctdet_coco_resdcn18's
(ResNet-18 + 3 x [DCN, full ConvTranspose 4x4], head_conv 64). Inference needs only the networks; training and
the data part run the model's task (its config, loss and training source: configs/centernet_det.yaml for ctdet).
Inference, batch 1 at --input_size, with and without DCN (median of --infer-runs interleaved runs):
  (a)  MindSpore GRAPH, the inference path's sequence (src/inference/model.py: the network, BatchNorm folded,
       then the compiled CPU kernels of src/models/kernels/: DCNv2, Winograd 3x3, stem max-pool ...);
  (a0) the same with MindSpore's own ops only;
  (b)  PyTorch eager, the twin of `benchmarks/torch_centernet.py` in eval mode under no_grad (DCN by grid_sample, the
       best torch has here), same weights (copied from the MindSpore network), same thread count.
  All three run the same random weights, with the offset convs' biases drawn so that every DCN samples off the
  grid; the table reports how far (a) and (b) are from (a0) as a check that they compute the same function.
Training, batch --batch at --input_size (median of --train-runs interleaved steps, after --warmup):
  (a)  MindSpore GRAPH, the project's train step (`src.engine.train_step.TrainStep`: forward, the task's loss,
       backward, static loss scale 1024 with the finite check, Adam lr 5e-4 with the config's weight decay) with
       the compiled kernels; (a0) MindSpore's ops only (--train-ms-ops);
  (b)  PyTorch eager twin of the same network and loss (`pose_loss` / `ctdet_loss`), Adam with the same settings:
       zero_grad, forward, loss, backward, step.
  All train on one fixed batch of real pipeline samples (the synthetic images below), so only compute is timed.
  --separate-processes trains each arm in its own process, one after another, and adds its peak memory: at
  512x512 batch 8 with DCN the pose arms need ~16 GB (a) and ~12 GB (b), more than a 24 GB machine holds at once.
Data: img/s of ONE worker process running the task's training source (JPEG decode, the original's random
  crop/scale + flip + colour augmentation, affine warp to --input_size, normalisation, every target) over --data-images
  synthetic scenes of people (`src/data/synthetic_pose.py`, written as COCO person keypoints and instances) of
  COCO's typical 640x480, OpenCV on one thread; wall clock and CPU time (= one uncontended core).
Predict: end-to-end images/s of predict.py's whole per-image path (benchmarks/bench_predict.py's `Pipeline`: read
  + decode the JPEG, the network input at --input_size, network, decode, NMS, write `<name>.json`, draw, write
  `<name>.jpg`) over --predict-images synthetic photos of --image_size (objects of several classes for ctdet, people
  for pose: src/data/synthetic_objects.py, synthetic_pose.py), the model's config with DCN as predict.py runs it,
  from a checkpoint of the network with RANDOM weights (speed only: the detections are meaningless). Two pipelines
  differing only in the network: ours (`InferenceModel`: BN folded, compiled kernels) and the PyTorch eager twin
  (same weights, same threads; the peer). Steady state: --predict-passes interleaved passes after one warm-up pass
  (ours compiles its graph there); images/s and the network's milliseconds per image. Cold: `python predict.py`
  on the folder in a fresh process (start-up, build, compilation included), its wall time.
Targets: inference a/b <= 1.0 with and without DCN, training a/b >= 1.0 in img/s, data >= 60 img/s per core,
predict network time per image ours/twin <= 1.0.
Fairness settings as benchmarks/bench_train.py (ONEDNN_MAX_CPU_ISA=AVX2, OMP_WAIT_POLICY=PASSIVE, glibc malloc
tunables that stop torch returning its buffers to the OS after every step: see there).
"""
import argparse
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")  # docs/design.md "Platform facts"; before mindspore is imported
os.environ.setdefault("GLOG_v", "3")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported; see benchmarks/bench_train.py

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.bench_train import torch_available  # noqa: E402
from benchmarks.common import (interleaved_medians, machine_description,  # noqa: E402
                               mindspore_train_step, restart_with_malloc_tunables, torch_train_step)

LR, LOSS_SCALE = 5e-4, 1024.0  # the original's lr for batch 128 (1x schedules), configs/base.yaml loss_scale
TARGET_INFER, TARGET_TRAIN, TARGET_DATA, TARGET_PREDICT = 1.0, 1.0, 60.0, 1.0
OFFSET_BIAS_PX = 1.5  # offsets drawn in +-1.5 px: every DCN samples between pixels and some samples fall off the map


@dataclass(frozen=True)
class Model:
    """A benchmarked network: its arch and its task's config (the heads are those the task computes from it)."""
    title: str
    arch: str
    config: Path
    config_args: tuple = ()


MODELS = {
    "pose": Model("CenterNet pose (DLA-34)", "dla_34", ROOT / "configs" / "centernet_pose.yaml"),
    "ctdet_dla": Model("CenterNet ctdet (DLA-34)", "dla_34", ROOT / "configs" / "centernet_det.yaml",
                       ("--arch", "dla_34", "--head_conv", "256")),
    "ctdet_resdcn18": Model("CenterNet ctdet (ResNet-18, resdcn_18)", "resdcn_18",
                            ROOT / "configs" / "centernet_det.yaml", ("--arch", "resdcn_18", "--head_conv", "64")),
}


def model_config(model, size=512, enable_dcn=True, data_dir=""):
    """The resolved config of `model`'s task for a square input of `size`."""
    from src.model_utils.config import parse_config

    return parse_config(["--config_path", str(model.config), *model.config_args, "--enable_dcn", str(enable_dcn),
                         "--input_size", f"{size},{size}", "--train_size", f"{size},{size}", "--data_dir", data_dir])


def randomise_offsets(network, seed=0):
    """Random DCN offset/mask biases (the offset convs start at zero, which would leave every DCN on the grid)."""
    import mindspore as ms

    rng = np.random.default_rng(seed)
    for param in network.get_parameters():
        if param.name.endswith("conv_offset_mask.bias"):
            bias = np.concatenate([rng.uniform(-OFFSET_BIAS_PX, OFFSET_BIAS_PX, 18), rng.normal(0, 1, 9)])
            param.set_data(ms.Tensor(bias.astype(np.float32)))
    return network


def model_heads(model):
    """`model`'s heads: those its task computes from its config."""
    from src.tasks import get_task

    return get_task(model_config(model)).heads


def random_network(model, enable_dcn, seed=0):
    """`model`'s network (training form) with MindSpore's initialisation plus random DCN offset/mask biases."""
    import mindspore as ms

    from src.models.centernet_arch import build_centernet_network

    ms.set_seed(seed)
    return randomise_offsets(build_centernet_network(model.arch, model_heads(model), enable_dcn=enable_dcn), seed)


def random_task_network(cfg, seed=0):
    """The network the task of `cfg` trains (its heads from the config), with random DCN offset/mask biases."""
    import mindspore as ms

    from src.tasks import get_task

    ms.set_seed(seed)
    return randomise_offsets(get_task(cfg).build_network(), seed)


def torch_twin(network, arch, enable_dcn, train):
    """The PyTorch twin of `network` (a DLASeg or ResNetDCN of `arch`) carrying its weights and BN statistics."""
    from benchmarks.torch_centerface import copy_mindspore_weights
    from benchmarks.torch_centernet import TorchDLASeg, TorchResNetDCN
    from src.models.centernet_arch import parse_arch

    family, depth = parse_arch(arch)
    head_conv = getattr(network, network.heads[0][0])[0].out_channels
    if family == "dla":
        twin = TorchDLASeg(network.heads, head_conv, enable_dcn=enable_dcn, with_fc=False)
    else:
        twin = TorchResNetDCN(network.heads, depth, head_conv, enable_dcn=enable_dcn)
    copy_mindspore_weights(twin, network)
    return twin.train(train)


def _set_threads(threads):
    import mindspore as ms

    ms.set_context(mode=ms.GRAPH_MODE)
    if ms.get_context("runtime_num_threads") != threads:  # settable only before MindSpore's runtime starts
        ms.set_context(runtime_num_threads=threads)
    if ms.get_context("device_target") != "CPU":
        ms.set_device("CPU")
    if torch_available():
        import torch

        torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------------ inference
def inference_network(model, weights, enable_dcn, cpu_kernels):
    """`model`'s network with `weights`, as the inference path prepares it (src/inference/model.py: inference mode,
    BatchNorm folded, then the compiled kernels); returns (network, kernel counts)."""
    import mindspore as ms

    from src.models.fold_bn import fold_batchnorm
    from src.models.kernels import enable_cpu_kernels

    network = random_network(model, enable_dcn)
    not_loaded, _ = ms.load_param_into_net(network, weights, strict_load=True)
    if not_loaded:
        raise RuntimeError(f"weights for {not_loaded[:3]} missing")
    network.set_train(False)
    fold_batchnorm(network)
    return network, (enable_cpu_kernels(network) if cpu_kernels else {})


def inference_candidates(model, size, enable_dcn, with_torch=True, seed=0):
    """({name: callable}, {name: max |output - (a0)| / max |(a0)| over the heads}, kernel counts of (a))."""
    import mindspore as ms

    network = random_network(model, enable_dcn, seed)
    weights = {p.name: ms.Parameter(ms.Tensor(p.asnumpy()), name=p.name) for p in network.get_parameters()}
    image = np.random.default_rng(seed).normal(0, 1, (1, 3, size, size)).astype(np.float32)
    candidates, counts = {}, {}
    for key, kernels in (("a", True), ("a0", False)):
        prepared, counts[key] = inference_network(model, weights, enable_dcn, kernels)
        candidates[key] = (lambda net=prepared: tuple(o.asnumpy() for o in net(ms.Tensor(image))))
    if with_torch:
        import torch

        twin = torch_twin(network, model.arch, enable_dcn, train=False)
        tensor = torch.from_numpy(image)

        def run_torch():
            with torch.no_grad():
                return tuple(out.numpy() for out in twin(tensor))

        candidates["b"] = run_torch
    reference = candidates["a0"]()
    scale = max(float(np.abs(out).max()) for out in reference)
    deviations = {key: max(float(np.abs(a - b).max()) for a, b in zip(fn(), reference)) / scale
                  for key, fn in candidates.items() if key != "a0"}
    return candidates, deviations, counts["a"]


# ------------------------------------------------------------------------------------------------ data
def write_synthetic_coco(folder, num_images=40, size=(640, 480), seed=0):
    """`num_images` synthetic scenes of people of `size` (W, H) as JPEGs in folder/train2017 with their COCO json in
    folder/annotations, as person keypoints (pose) and as instances (ctdet: the same persons as category 1 of COCO's
    80 categories): the layout `--data_dir` reads; returns the folder."""
    from src.data.synthetic_pose import coco_annotation, coco_document, render_scene

    folder = Path(folder)
    (folder / "train2017").mkdir(parents=True, exist_ok=True)
    (folder / "annotations").mkdir(exist_ok=True)
    width, height = size
    images, annotations = [], []
    for i in range(num_images):
        scene = render_scene(np.random.default_rng([seed, i]), height, width)
        name = f"{i + 1:012d}.jpg"
        cv2.imwrite(str(folder / "train2017" / name), cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
        images.append({"id": i + 1, "file_name": name, "width": width, "height": height})
        annotations += [coco_annotation(len(annotations) + 1, i + 1, person) for person in scene.persons]
    document = coco_document("train2017", seed, images, annotations)
    (folder / "annotations" / "person_keypoints_train2017.json").write_text(json.dumps(document))
    # ctdet's config names COCO's 80 categories: the same persons (category 1) in a json listing all of them
    from src.model_utils.config import load_schema

    table = load_schema(MODELS["ctdet_dla"].config).values
    categories = [{"id": i, "name": name} for i, name in zip(table["category_ids"], table["class_names"])]
    (folder / "annotations" / "instances_train2017.json").write_text(json.dumps({**document,
                                                                                "categories": categories}))
    return folder


def training_source(model, data_dir, size=512, enable_dcn=True):
    """`model`'s task's training source over `data_dir` (what every MindSpore data worker runs)."""
    from src.tasks import get_task

    cfg = model_config(model, size, enable_dcn, str(data_dir))
    return get_task(cfg).training_source(logging.getLogger("bench_centernet"))


def data_throughput(source, num_samples, cpu_time=False):
    """Samples per second of `source[i]` for i < num_samples in this process with OpenCV on one thread; CPU
    seconds instead of wall seconds with `cpu_time`."""
    clock = time.process_time if cpu_time else time.perf_counter
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        for i in range(min(5, num_samples)):  # warm-up: file cache, allocations
            source[i]
        start = clock()
        for i in range(num_samples):
            source[i]  # indices >= len(source) continue with the next epochs' augmentations
        return num_samples / (clock() - start)
    finally:
        cv2.setNumThreads(previous)


# ------------------------------------------------------------------------------------------------ training
def training_batch(source, batch):
    """The first `batch` samples of `source` stacked: (images, targets in the loss's order); their names are
    `source.column_names[1:]`."""
    samples = [source[i] for i in range(batch)]
    columns = [np.stack(column) for column in zip(*samples)]
    return columns[0], columns[1:]


def twin_loss(arch_heads, target_names):
    """The PyTorch twin of the task's loss, `fn(outputs, *targets) -> (total, ...)` with the targets in the
    training source's column order `target_names`: `pose_loss` for the pose heads, `ctdet_loss` otherwise (its
    targets found by the original's batch names hm, wh, reg, ind, reg_mask)."""
    from benchmarks.torch_centernet import ctdet_loss, pose_loss

    if "hps" in dict(arch_heads):
        return pose_loss
    missing = [name for name in ("hm", "wh", "reg", "ind", "reg_mask") if name not in target_names]
    if missing:
        raise KeyError(f"the ctdet training source has no columns {missing} (columns: {list(target_names)})")

    def loss(outputs, *targets):
        named = dict(zip(target_names, targets))
        return ctdet_loss(outputs, named["hm"], named["wh"], named["reg"], named["ind"], named["reg_mask"])

    return loss


def task_train_step(cfg, network, images, targets, cpu_kernels):
    """One MindSpore training step of `network` with the loss of the task of `cfg` (None without the kernels)."""
    from src.tasks import get_task

    return mindspore_train_step(network, get_task(cfg).build_loss(), images, targets, LR, cfg.weight_decay,
                                cfg.adam_eps, LOSS_SCALE, cpu_kernels)


def torch_twin_train_step(cfg, network, images, targets, target_names):
    """A callable running one PyTorch training step of the twin of `network` (same weights) on the fixed batch."""
    import torch

    twin = torch_twin(network, getattr(cfg, "arch", "dla_34"), cfg.enable_dcn, train=True)
    optimizer = torch.optim.Adam(twin.parameters(), lr=LR, eps=cfg.adam_eps, weight_decay=cfg.weight_decay)
    return torch_train_step(twin, twin_loss(network.heads, target_names), optimizer, images, targets)


# ------------------------------------------------------------------------------------------------ main
LABELS = {"a": "(a) MindSpore GRAPH, compiled kernels", "a0": "(a0) MindSpore GRAPH, MindSpore's ops",
          "b": "(b) PyTorch eager twin"}


def _ratio_line(name, ratio, target, higher_is_better):
    met = ratio >= target if higher_is_better else ratio <= target
    sign = ">=" if higher_is_better else "<="
    return f"{name} = {ratio:.2f} (target {sign} {target}: {'met' if met else 'NOT met'})"


def run_inference(args, summary):
    print(f"\n| inference, batch 1 at {args.input_size}x{args.input_size} (median of {args.infer_runs}) | DCN ms "
          "| vs (b) | no DCN ms | vs (b) |")
    print("|---|---:|---:|---:|---:|")
    results, notes = {}, []
    for enable_dcn in (True, False):
        candidates, deviations, counts = inference_candidates(MODELS[args.model], args.input_size, enable_dcn,
                                                              args.torch)
        results[enable_dcn] = interleaved_medians(candidates, args.infer_runs, args.warmup)
        for key, deviation in deviations.items():
            summary[f"infer_{'dcn' if enable_dcn else 'plain'}_{key}_deviation"] = deviation
        notes.append(f"DCN {enable_dcn}: kernels in (a) {counts}; max |out - (a0)| / max |(a0)|: "
                     + ", ".join(f"({k}) {v:.1e}" for k, v in deviations.items()))
    for key in ("a", "a0", "b"):
        cells = []
        for enable_dcn in (True, False):
            medians = results[enable_dcn]
            if key not in medians:
                cells += ["", ""]
                continue
            ratio = medians[key] / medians["b"] if "b" in medians else None
            cells += [f"{medians[key] * 1000:.0f}", "" if ratio is None else f"{ratio:.2f}"]
            summary[f"infer_{'dcn' if enable_dcn else 'plain'}_{key}_s"] = medians[key]
            if ratio is not None and key != "b":
                summary[f"infer_{'dcn' if enable_dcn else 'plain'}_{key}/b"] = ratio
        print(f"| {LABELS[key]} | " + " | ".join(cells) + " |")
    for note in notes:
        print(note)
    for variant in ("dcn", "plain"):
        if f"infer_{variant}_a/b" in summary:
            print(_ratio_line(f"inference {variant} a/b (time)", summary[f"infer_{variant}_a/b"], TARGET_INFER, False))


def training_candidates(args, source, arms):
    """({arm: callable one training step}, notes) for the arms wanted among "a", "a0", "b"."""
    cfg = model_config(MODELS[args.model], args.input_size, args.train_dcn)
    images, targets = training_batch(source, args.batch)
    network = random_task_network(cfg)
    candidates, notes = {}, []
    if "b" in arms:  # the twin copies the initial weights before MindSpore's steps change them
        candidates["b"] = torch_twin_train_step(cfg, network, images, targets, source.column_names[1:])
    if "a" in arms:
        fast = task_train_step(cfg, random_task_network(cfg), images, targets, cpu_kernels=True)
        if fast is None:
            notes.append("(a) skipped: the CPU kernel library could not be built (see the warning)")
        else:
            candidates["a"] = fast
    if "a0" in arms:
        candidates["a0"] = task_train_step(cfg, network, images, targets, cpu_kernels=False)
    for key, fn in candidates.items():
        start = time.perf_counter()
        fn()
        notes.append(f"({key}) first step (graph compilation for MindSpore): {time.perf_counter() - start:.1f} s")
    return candidates, notes


def peak_memory_gb():
    """Peak resident memory of this process so far in GB (Linux reports kB), None where unknown."""
    try:
        import resource
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6 if sys.platform.startswith("linux") else None


ARM_RESULT = "bench_centernet arm result: "


def run_training_arm(args, source):
    """Child process of --separate-processes: time one arm, print its median (and peak memory) as one JSON line."""
    candidates, notes = training_candidates(args, source, [args.train_arm])
    medians = interleaved_medians(candidates, args.train_runs, args.warmup)
    print(ARM_RESULT + json.dumps({"medians": medians, "notes": notes, "peak_gb": peak_memory_gb()}), flush=True)


def _separate_process_arms(args, arms):
    """Each arm in its own child process, one after another: ({arm: median s}, notes, {arm: peak GB}, [failed arms])."""
    import subprocess

    medians, notes, peaks, failed = {}, [], {}, []
    child = [sys.executable, str(Path(__file__).resolve()), "--model", args.model, "--part", "train",
             "--input_size", str(args.input_size),
             "--batch", str(args.batch), "--threads", str(args.threads), "--train-runs", str(args.train_runs),
             "--warmup", str(args.warmup), "--train-dcn", str(args.train_dcn), "--data-images",
             str(args.data_images), "--image_size", *map(str, args.image_size)]
    for arm in arms:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        done = subprocess.run(child + ["--train-arm", arm], capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith(ARM_RESULT)]
        if done.returncode != 0 or not lines:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            notes.append(f"({arm}) failed in its process (exit {done.returncode}): {tail}")
            failed.append(arm)
            continue
        result = json.loads(lines[-1][len(ARM_RESULT):])
        medians.update(result["medians"])
        notes += result["notes"] + [f"({arm}) ran in its own process, load average before it {load:.2f}"]
        if result["peak_gb"] is not None and arm in result["medians"]:
            peaks[arm] = result["peak_gb"]
    return medians, notes, peaks, failed


def run_training(args, summary, source):
    arms = ["b"] if args.torch else []
    arms += ["a"] + (["a0"] if args.train_ms_ops else [])
    if args.separate_processes:
        medians, notes, peaks, summary["failed_arms"] = _separate_process_arms(args, arms)
    else:
        candidates, notes = training_candidates(args, source, arms)
        medians, peaks = interleaved_medians(candidates, args.train_runs, args.warmup), {}
    how = "one after another, each in its own process" if args.separate_processes else "interleaved"
    print(f"\n| training, batch {args.batch} at {args.input_size}x{args.input_size}, DCN {args.train_dcn} "
          f"(median of {args.train_runs}, {how}) | s/step | img/s | vs (b) |" + (" peak GB |" if peaks else ""))
    print("|---|---:|---:|---:|" + ("---:|" if peaks else ""))
    for key in ("a", "a0", "b"):
        if key in medians:
            ratio = medians["b"] / medians[key] if "b" in medians else None  # img/s ratio
            summary[f"train_{key}_s"] = medians[key]
            if ratio is not None and key != "b":
                summary[f"train_{key}/b"] = ratio
            if key in peaks:
                summary[f"train_{key}_peak_gb"] = peaks[key]
            print(f"| {LABELS[key]} | {medians[key]:.2f} | {args.batch / medians[key]:.2f} | "
                  f"{'' if ratio is None else f'{ratio:.2f}'} |" + (f" {peaks.get(key, 0):.1f} |" if peaks else ""))
    for note in notes:
        print(note)
    if "train_a/b" in summary:
        print(_ratio_line("training a/b (img/s)", summary["train_a/b"], TARGET_TRAIN, True))


def run_data(args, summary, source):
    wall = data_throughput(source, args.data_samples)
    cpu = data_throughput(source, args.data_samples, cpu_time=True)
    summary.update(data_wall_img_s=wall, data_cpu_img_s=cpu)
    width, height = args.image_size
    print(f"\ndata pipeline, one worker process, {args.data_images} synthetic {width}x{height} JPEGs -> "
          f"{args.input_size}x{args.input_size} with every target, {args.data_samples} samples: {wall:.1f} img/s "
          f"wall clock, {cpu:.1f} img/s per CPU-second (= one uncontended core)")
    print(_ratio_line("data img/s per core", cpu, TARGET_DATA, True))


# ------------------------------------------------------------------------------------------------ predict
def write_photos(folder, model, num_images, size=(640, 480), seed=0):
    """`num_images` synthetic photos of `size` (W, H) for `model` as JPEGs in `folder`: people (synthetic_pose) for
    the pose model, objects of several classes (synthetic_objects) for ctdet; returns their paths."""
    from src.data import synthetic_objects, synthetic_pose

    generator = synthetic_pose if "hps" in dict(model_heads(model)) else synthetic_objects
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    width, height = size
    paths = []
    for i in range(num_images):
        scene = generator.render_scene(np.random.default_rng([seed, i]), height, width)
        paths.append(folder / f"{i:04d}.jpg")
        cv2.imwrite(str(paths[-1]), cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return paths


def predict_config_args(model, size):
    """The config part of predict.py's command line for `model` at a --input_size of `size`."""
    return ["--config_path", str(model.config), *model.config_args, "--input_size", f"{size},{size}"]


def random_checkpoint(model, path, size, seed=0):
    """Save `model`'s network (as its task builds it from predict.py's config, DCN on) with random weights
    (MindSpore's initialisation, random DCN offsets) to `path`; returns the network."""
    import mindspore as ms

    from src.model_utils.config import parse_config

    network = random_task_network(parse_config(predict_config_args(model, size)), seed)
    ms.save_checkpoint(network, str(path))
    return network


def twin_forward(network, arch):
    """The PyTorch eager twin of `network` in eval mode as a predict.py network: NCHW float32 -> head arrays."""
    import torch

    twin = torch_twin(network, arch, enable_dcn=True, train=False)

    def forward(batch):
        with torch.no_grad():
            return tuple(out.numpy() for out in twin(torch.from_numpy(np.ascontiguousarray(batch))))

    return forward


def cold_predict(model, size, folder, ckpt, out_dir):
    """(wall seconds of `python predict.py` over `folder` in a fresh process, its summary line)."""
    import subprocess

    start = time.perf_counter()
    done = subprocess.run([sys.executable, "predict.py", *predict_config_args(model, size), "--ckpt_path", str(ckpt),
                           "--image", str(folder), "--output_path", str(out_dir)], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, GLOG_v="3"))
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"predict.py failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return seconds, next((line for line in done.stdout.splitlines() if line.startswith("predict: ")), "")


PREDICT_LABELS = {"ours": "ours: predict.py's path, MindSpore GRAPH, BN folded, compiled kernels",
                  "twin": "the same path with the PyTorch eager twin as the network (peer)"}


def run_predict(args, summary):
    from benchmarks.bench_predict import Pipeline, steady_state

    model = MODELS[args.model]
    width, height = args.image_size
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photos = write_photos(work / "photos", model, args.predict_images, (width, height))
        ckpt = work / "random.ckpt"
        network = random_checkpoint(model, ckpt, args.input_size)
        config_args = predict_config_args(model, args.input_size)
        pipelines = {"ours": Pipeline("ours", ckpt, work / "ours", config_args)}
        if args.torch:
            pipelines["twin"] = Pipeline("twin", ckpt, work / "twin", config_args,
                                         network=twin_forward(network, model.arch))
        rates, detections = steady_state(pipelines, photos, args.predict_passes)
        print(f"\n| predict.py path, {len(photos)} synthetic {width}x{height} photos -> {args.input_size}x"
              f"{args.input_size}, DCN, random weights ({args.predict_passes} passes after a warm-up pass) | images/s "
              "| network ms/image | network share | warm-up pass (s) |")
        print("|---|---:|---:|---:|---:|")
        for name, (rate, share, warm) in rates.items():
            network_ms = 1000 * share / rate
            summary[f"predict_{name}_img_s"], summary[f"predict_{name}_network_s"] = rate, network_ms / 1000
            print(f"| {PREDICT_LABELS[name]} | {rate:.2f} | {network_ms:.0f} | {share:.0%} | {warm:.1f} |")
        found = {name: sum(len(d) for d in dets) for name, dets in detections.items()}
        print(f"ours: compiled CPU kernels {pipelines['ours'].kernel_counts}; detections in the last pass "
              + ", ".join(f"{name} {count}" for name, count in found.items()))
        if "twin" in rates:  # the peer computes ours's function: both networks on one input of predict.py's size
            batch = np.random.default_rng(1).normal(0, 1, (1, 3, args.input_size, args.input_size)).astype(np.float32)
            ours, theirs = pipelines["ours"].model(batch), pipelines["twin"].model(batch)
            summary["predict_twin_deviation"] = (max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs))
                                                 / max(float(np.abs(a).max()) for a in ours))
            print(f"twin vs ours on one input: max |difference| / max |ours| = {summary['predict_twin_deviation']:.1e}")
            summary["predict_network_ours/twin"] = summary["predict_ours_network_s"] / summary["predict_twin_network_s"]
            summary["predict_img_s_ours/twin"] = rates["ours"][0] / rates["twin"][0]
            print(f"predict.py images/s ours/twin = {summary['predict_img_s_ours/twin']:.2f}")
            print(_ratio_line("predict network time per image ours/twin", summary["predict_network_ours/twin"],
                              TARGET_PREDICT, False))
        if not args.no_cold:
            seconds, line = cold_predict(model, args.input_size, work / "photos", ckpt, work / "cold")
            summary["predict_cold_s"] = seconds
            print(f"cold: python predict.py over the {len(photos)} photos in a fresh process: {seconds:.1f} s wall "
                  f"({len(photos) / seconds:.2f} images/s with start-up and compilation); it printed: {line}")



def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n")[:2]))
    parser.add_argument("--model", choices=tuple(MODELS), default="pose",
                        help="pose: DLA-34 pose network; ctdet_dla / ctdet_resdcn18: the object detection networks")
    parser.add_argument("--part", choices=("all", "infer", "train", "data", "predict"), default="all")
    parser.add_argument("--input_size", type=int, default=512, help="network input height and width (multiple of 32)")
    parser.add_argument("--batch", type=int, default=8, help="training batch size")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--infer-runs", type=int, default=7)
    parser.add_argument("--train-runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs after the compiling one")
    parser.add_argument("--train-dcn", type=lambda s: s.lower() in ("1", "true", "yes"), default=True,
                        help="train the network with DCN (the original) or with plain 3x3 convs")
    parser.add_argument("--train-ms-ops", action="store_true",
                        help="also time training with MindSpore's ops only, (a0) (a third network in memory)")
    parser.add_argument("--data-images", type=int, default=40)
    parser.add_argument("--data-samples", type=int, default=200)
    parser.add_argument("--image_size", type=int, nargs=2, default=(640, 480), metavar=("W", "H"),
                        help="size of the synthetic photos of the data and predict parts")
    parser.add_argument("--predict-images", type=int, default=12, help="photos in the predict part's folder")
    parser.add_argument("--predict-passes", type=int, default=2, help="timed passes over them after the warm-up")
    parser.add_argument("--no-cold", action="store_true", help="predict part: skip the fresh-process predict.py run")
    parser.add_argument("--no-torch", dest="torch", action="store_false", help="skip the PyTorch twin")
    parser.add_argument("--separate-processes", action="store_true",
                        help="train each arm in its own process, one after another, and report its peak memory "
                             "(for sizes where the arms do not fit in memory together: DCN at batch 8 needs "
                             "~16 GB for (a) and ~12 GB for (b); not interleaved, so keep the machine quiet)")
    parser.add_argument("--train-arm", choices=("a", "a0", "b"), help=argparse.SUPPRESS)  # the child processes
    parser.add_argument("--default-malloc", action="store_true",
                        help="do not restart with the glibc malloc tunables (see benchmarks/bench_train.py)")
    args = parser.parse_args(argv)
    if args.input_size % 32 or args.input_size <= 0:
        parser.error(f"--input_size {args.input_size}: expected a positive multiple of 32")
    for name in ("batch", "threads", "infer_runs", "train_runs", "data_images", "data_samples", "predict_images",
                 "predict_passes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)}: expected >= 1")
    if args.torch and not torch_available():
        print("torch is not installed (pip install -r requirements-bench.txt): (b) and the ratios are skipped")
        args.torch = False
    return args


def main(argv=None):
    """Run the parts asked for; returns a summary dict (seconds, img/s and ratios by name)."""
    args = parse_args(argv)
    _set_threads(args.threads)
    print(f"{MODELS[args.model].title} on CPU, {args.threads} threads; {machine_description()}")
    print(f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA')}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES')}")
    summary = {}
    if args.part in ("all", "infer"):
        run_inference(args, summary)
    training = args.part in ("all", "train")
    if args.part in ("all", "data") or (training and not args.separate_processes):
        with tempfile.TemporaryDirectory() as tmp:
            write_synthetic_coco(tmp, args.data_images, tuple(args.image_size))
            source = training_source(MODELS[args.model], tmp, args.input_size)
            if args.part in ("all", "data"):
                run_data(args, summary, source)
            if args.train_arm:
                run_training_arm(args, source)
            elif training:
                run_training(args, summary, source)
    if training and args.separate_processes:  # each child process writes and reads its own images
        run_training(args, summary, source=None)
    if args.part in ("all", "predict"):
        run_predict(args, summary)
    return summary


if __name__ == "__main__":
    restart_with_malloc_tunables(__file__)
    sys.exit(1 if main().get("failed_arms") else 0)  # an arm that failed in its own process (named in the notes)
