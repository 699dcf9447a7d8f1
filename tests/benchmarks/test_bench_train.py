"""Tests for benchmarks/bench_train.py: the synthetic batch is valid training input, and the command runs.

The timing itself is not asserted (no timing assertions in unit tests); the smoke run checks that one
command times MindSpore (and torch when installed) on a tiny batch and reports the ratio.
"""
import os

import mindspore as ms
import numpy as np
import pytest

from benchmarks.bench_train import main, mindspore_step, synthetic_batch, torch_available
from src.centerface.targets import CenterFaceTargets


def test_synthetic_batch_shapes_and_consistency():
    images, targets = synthetic_batch(3, 64, seed=2, max_objs=16)
    assert images.shape == (3, 3, 64, 64) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 255
    named = dict(zip(CenterFaceTargets.ARRAY_KEYS, targets))
    assert named["heatmap"].shape == (3, 1, 16, 16)
    for key in ("mask", "ind", "size_weight"):
        assert named[key].shape == (3, 16), key
    for b in range(3):
        used = named["mask"][b] > 0
        assert used.sum() >= 1  # every image has at least one face
        # every used slot's centre cell is a heatmap peak of exactly 1
        assert np.all(named["heatmap"][b, 0].ravel()[named["ind"][b][used]] == 1.0)
        assert np.all(named["landmark_mask"][b][~used] == 0)
    again = synthetic_batch(3, 64, seed=2, max_objs=16)
    assert np.array_equal(again[0], images) and all(np.array_equal(a, b) for a, b in zip(again[1], targets))


def test_bad_size_is_an_error():
    with pytest.raises(SystemExit):
        main(["--train_size", "100"])


def kernel_library_builds():
    """Whether the compiled CPU kernels are available here; missing is a failure under CI (make test builds them
    with g++), as in tests/models/kernels."""
    from src.models.kernels.library import KernelBuildError, build_kernel_library

    try:
        build_kernel_library()
    except KernelBuildError as err:
        if os.environ.get("CI"):
            pytest.fail(f"the compiled CPU kernels are required under CI (make test builds them): {err}")
        return False
    return True


def test_one_command_smoke_run(capsys):
    # MindSpore's thread count cannot change once its runtime has run a kernel (other tests did): keep it
    threads = str(ms.get_context("runtime_num_threads"))
    has_kernels = kernel_library_builds()
    summary = main(["--train_size", "64", "--batch", "2", "--runs", "1", "--warmup", "0", "--data-samples", "0",
                    "--threads", threads])
    out = capsys.readouterr().out
    assert summary["a0"] > 0 and "(a0) MindSpore GRAPH" in out
    if has_kernels:  # (a) is timed whenever the kernel library builds
        assert summary["a"] is not None and summary["a"] > 0
        assert "(a) MindSpore GRAPH, CPU, with our compiled kernels" in out
    else:
        assert summary["a"] is None and "(a) skipped: the CPU kernel library could not be built" in out
    if torch_available():
        assert summary["b"] > 0 and "a0/b = " in out
    else:
        assert "torch is not installed" in out


def test_kernel_variant_is_skipped_when_the_library_cannot_be_built(monkeypatch):
    # The other branch of the smoke run, without a compiler: enable_cpu_kernels swaps nothing, so the
    # kernel variant is None (and main() reports it as skipped) while the MindSpore-ops variant still runs.
    import src.models.kernels as kernels

    monkeypatch.setattr(kernels, "enable_cpu_kernels",
                        lambda network, **_: {"depthwise": 0, "bias_relu": 0, "batchnorm": 0})
    images, targets = synthetic_batch(1, 64, seed=0, max_objs=4)
    threads = ms.get_context("runtime_num_threads")
    assert mindspore_step(images, targets, threads, cpu_kernels=True) is None
    assert callable(mindspore_step(images, targets, threads, cpu_kernels=False))


def test_restart_sets_malloc_tunables_once(monkeypatch):
    from benchmarks import bench_train, common

    calls = []
    monkeypatch.setattr(common.os, "execve", lambda path, args, env: calls.append((args, env)))
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    monkeypatch.setattr(common.sys, "argv", ["bench_train.py", "--train_size", "64"])
    common.restart_with_malloc_tunables(bench_train.__file__)
    (args, env), = calls
    assert args[-2:] == ["--train_size", "64"] and env["GLIBC_TUNABLES"] == common.MALLOC_TUNABLES
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.check=0")  # the user's own setting wins
    common.restart_with_malloc_tunables(bench_train.__file__)
    monkeypatch.delenv("GLIBC_TUNABLES")
    monkeypatch.setattr(common.sys, "argv", ["bench_train.py", "--default-malloc"])
    common.restart_with_malloc_tunables(bench_train.__file__)
    assert len(calls) == 1
