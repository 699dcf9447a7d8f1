"""Tests for src/inference/model.py: InferenceModel with the compiled CPU kernels on by default, one dynamic-shape
graph for inputs of any size, and the fallbacks to MindSpore's ops (no compiler; a kernel without C++ shape
inference when shapes vary).

Reference: the same official weights through MindSpore's own ops (`cpu_kernels=False`). Tolerance 1e-5 of each
head's largest value: the kernels sum in another order than oneDNN (measured <= 3e-6 relative,
docs/performance.md "Compiled CPU kernels"); a wrong kernel or a wrong weight differs by O(0.1) or more.
"""
import logging

import numpy as np
import pytest

import mindspore as ms

from src.inference.model import InferenceModel
from src.model_utils.config import parse_config
from src.models.kernels import library as kernel_library
from src.tasks import get_task

pytestmark = pytest.mark.numerics  # make test-portable (pyproject.toml)

RTOL_OF_RANGE = 1e-5
FOLDED_COUNTS = {"depthwise": 17, "bias_relu": 22}  # every depthwise conv; every other conv + ReLU after folding


@pytest.fixture
def graph_mode():
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=previous)


def images(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 255, shape).astype(np.float32) for shape in shapes]


def assert_close_to(got, want):
    assert len(got) == len(want) == 4
    for a, b in zip(got, want):
        assert a.shape == b.shape
        assert float(np.abs(a - b).max()) <= RTOL_OF_RANGE * max(1.0, float(np.abs(b).max()))


def model(official_ckpt, **kwargs):
    built = InferenceModel(get_task("centerface"), **kwargs)
    built.load(official_ckpt)
    return built


def test_the_kernels_are_on_by_default_and_match_mindspore_ops(official_ckpt, library, mode):
    assert parse_config([]).cpu_kernels is True  # the config default (configs/base.yaml)
    fast, plain = model(official_ckpt), model(official_ckpt, cpu_kernels=False)
    assert {k: fast.kernel_counts[k] for k in FOLDED_COUNTS} == FOLDED_COUNTS and plain.kernel_counts == {}
    (x,) = images((1, 3, 96, 128))
    assert_close_to(fast(x), plain(x))


def test_one_dynamic_graph_serves_every_size_with_the_kernels(official_ckpt, library, graph_mode, caplog):
    with caplog.at_level(logging.INFO, logger="src.inference.model"):
        dynamic = model(official_ckpt, dynamic_shape=True)
    assert {k: dynamic.kernel_counts[k] for k in FOLDED_COUNTS} == FOLDED_COUNTS
    assert any("compiled CPU kernels: 17 depthwise, 22 bias_relu" in r.getMessage() for r in caplog.records)
    static, plain = model(official_ckpt), model(official_ckpt, cpu_kernels=False, dynamic_shape=True)
    for x in images((1, 3, 64, 96), (2, 3, 96, 64)):
        got = dynamic(x)
        assert_close_to(got, plain(x))
        # the same kernels in a static graph of this size: bit for bit (what dynamic shapes change is only
        # when the shapes are known, not what is computed)
        for a, b in zip(got, static(x)):
            np.testing.assert_array_equal(a, b)
    assert len(dynamic.network.compile_cache) == 1  # one graph for both sizes
    assert len(static.network.compile_cache) == 2


def test_without_a_compiler_one_warning_and_mindspore_ops(official_ckpt, monkeypatch, caplog, graph_mode):
    def no_compiler(cache_dir):
        raise kernel_library.KernelBuildError("C++ compiler 'g++' not found: install g++ to build the CPU kernels")

    monkeypatch.setattr(kernel_library, "build_kernel_library", no_compiler)
    monkeypatch.setattr(kernel_library, "_warned", set())
    with caplog.at_level(logging.WARNING):
        fallback = model(official_ckpt, dynamic_shape=True)
        model(official_ckpt)  # a second network in the same process: no second warning
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["compiled CPU kernels off, using MindSpore's ops: C++ compiler 'g++' not found: install g++ "
                        "to build the CPU kernels"]
    assert not any(fallback.kernel_counts.values())
    (x,) = images((1, 3, 64, 64))
    plain = model(official_ckpt, cpu_kernels=False, dynamic_shape=True)
    for a, b in zip(fallback(x), plain(x)):
        np.testing.assert_array_equal(a, b)  # the very same MindSpore ops


def test_a_kernel_without_cpp_shape_inference_is_dropped_only_for_varying_shapes(official_ckpt, library, monkeypatch,
                                                                                 caplog, graph_mode):
    # As if the library exported no <kernel>InferShape: the ops infer shapes in Python, static shapes only.
    monkeypatch.setattr(kernel_library, "has_infer_shape", lambda library, name: False)
    fixed = model(official_ckpt)
    assert {k: fixed.kernel_counts[k] for k in FOLDED_COUNTS} == FOLDED_COUNTS
    with caplog.at_level(logging.WARNING, logger="src.inference.model"):
        varying = model(official_ckpt, dynamic_shape=True)
    assert varying.kernel_counts == {}
    assert [r.getMessage() for r in caplog.records] == [
        "compiled CPU kernels off for inputs of varying size: a kernel of centerface infers its shapes in Python "
        "only (static shapes); using MindSpore's ops"]
    assert not kernel_library.supports_dynamic_shape(fixed.network)
    assert kernel_library.supports_dynamic_shape(varying.network)
    small, other = images((1, 3, 64, 96), (1, 3, 96, 64))
    assert_close_to(varying(small), fixed(small))
    assert [h.shape[2:] for h in varying(other)] == [(24, 16)] * 4  # the varying-size network takes any size


def test_cpu_kernels_false_keeps_mindspore_ops(official_ckpt):
    plain = model(official_ckpt, cpu_kernels=False)
    assert plain.kernel_counts == {}
    assert not any("Fast" in type(cell).__name__ or "BiasReLU" in type(cell).__name__
                   for _, cell in plain.network.cells_and_names())


@pytest.mark.slow  # DLA-34 with DCN compiled for two sizes on MindSpore's ops: ~40 s on 2 cores
def test_a_dcn_network_on_mindspore_ops_runs_images_of_varying_size_one_graph_per_size(repo_root, tmp_path, graph_mode,
                                                                                       caplog):
    """MindSpore's deformable_conv2d does not compile with dynamic shapes (GPU, Ascend, --cpu_kernels False): the
    model says so once and compiles per size; the outputs equal those of a model built for fixed sizes."""
    cfg = parse_config(["--config_path", str(repo_root / "configs" / "centernet_pose.yaml"), "--cpu_kernels", "False"])
    task = get_task(cfg)
    ckpt = tmp_path / "pose.ckpt"
    ms.save_checkpoint(task.build_network(), str(ckpt))
    with caplog.at_level(logging.INFO, logger="src.inference.model"):
        varying = InferenceModel(task, dynamic_shape=True)
        varying.load(str(ckpt))
    assert not kernel_library.supports_dynamic_shape(varying.network)
    assert sum("one graph per input size" in r.getMessage() for r in caplog.records) == 1
    fixed = InferenceModel(task)
    fixed.load(str(ckpt))
    for x in images((1, 3, 64, 96), (1, 3, 96, 64), seed=1):
        got, want = varying(x), fixed(x)
        assert [g.shape for g in got] == [w.shape for w in want]
        assert got[0].shape[2:] == (x.shape[2] // 4, x.shape[3] // 4)  # output stride 4
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)  # the same static graph per size on the same ops: bit-identical
