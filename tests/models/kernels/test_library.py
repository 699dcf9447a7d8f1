"""Tests for src/models/cpu_kernels.py: building and caching the kernel library, errors, the umbrella switch.

The kernels' numerics are tested in test_fast_depthwise.py and test_fast_batchnorm.py. Without a C++
compiler the build tests skip, except under CI (`CI` set), where that is a failure.
"""
import os
import logging

import numpy as np
import pytest

import mindspore as ms
from mindspore import Tensor, nn, ops

from src.centerface.network import CenterFace
from src.models.fold_bn import fold_batchnorm
from src.models.kernels import library as cpu_kernels
from src.models.kernels import enable_cpu_kernels
from src.models.kernels.library import KernelBuildError, build_kernel_library, set_kernel_threads
from src.models.layers import ConvBNAct
from src.tasks import get_task

HEADS = get_task("centerface").heads  # CenterFace's outputs, as its task computes them


def _build_or_skip(cache_dir):
    try:
        return build_kernel_library(cache_dir)
    except KernelBuildError as err:
        if os.environ.get("CI"):
            pytest.fail(f"kernel library not built: {err}")
        pytest.skip(str(err))


def test_build_is_cached_and_atomic(tmp_path):
    first = _build_or_skip(tmp_path)
    mtime = first.stat().st_mtime_ns
    assert build_kernel_library(tmp_path) == first and first.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.name]  # no temporary files left


def test_cache_key_follows_the_sources(tmp_path):
    sources = []
    for name in ("a.cc", "b.cc"):
        path = tmp_path / name
        path.write_text(f'extern "C" int {name[0]}_value() {{ return 1; }}\n')
        sources.append(path)
    try:
        first = build_kernel_library(tmp_path / "cache", sources=sources, headers=())
    except KernelBuildError as err:
        if os.environ.get("CI"):
            pytest.fail(str(err))
        pytest.skip(str(err))
    sources[1].write_text('extern "C" int b_value() { return 2; }\n')
    second = build_kernel_library(tmp_path / "cache", sources=sources, headers=())
    assert second != first and first.is_file() and second.is_file()


def test_build_errors_are_one_line(tmp_path):
    with pytest.raises(KernelBuildError, match="'no-such-compiler-xyz' not found"):
        build_kernel_library(tmp_path, compiler="no-such-compiler-xyz")
    with pytest.raises(KernelBuildError, match="missing.cc: no such file"):
        build_kernel_library(tmp_path, sources=[tmp_path / "missing.cc"], headers=())
    bad = tmp_path / "bad.cc"
    bad.write_text("int f( {\n")
    try:
        build_kernel_library(tmp_path, sources=[bad], headers=())
    except KernelBuildError as err:
        assert "bad.cc" in str(err) and "\n" not in str(err)
    else:
        pytest.fail("a source that does not compile must raise KernelBuildError")
    assert not list(tmp_path.glob("*.so")) and not list(tmp_path.glob(".*.tmp"))


def test_thread_count_must_not_be_negative(tmp_path):
    with pytest.raises(ValueError, match="num_threads must be >= 0"):
        set_kernel_threads(tmp_path / "unused.so", -1)


def test_enable_cpu_kernels_swaps_both_and_keeps_outputs():
    library = _build_or_skip(cpu_kernels.DEFAULT_CACHE_DIR)
    ms.set_seed(2)
    plain, fast = CenterFace(HEADS), CenterFace(HEADS)
    for p, q in zip(plain.get_parameters(), fast.get_parameters()):
        q.set_data(p.value())
    # 17 depthwise convs; 59 BatchNorms: 51 in the backbone (the stem, 2 in the first block, which has no
    # expand conv, 3 in each of the other 16) and 8 in the neck (4 laterals, 3 upsampling blocks, the fuse conv).
    assert enable_cpu_kernels(fast, library) == {"depthwise": 17, "bias_relu": 0, "batchnorm": 59,
                                                 "dcn": 0, "winograd": 0, "maxpool": 0}
    x = Tensor(np.random.default_rng(3).uniform(0, 255, (2, 3, 64, 64)).astype(np.float32))
    for train in (True, False):
        plain.set_train(train)
        fast.set_train(train)
        for got, want in zip(fast(x), plain(x)):
            assert np.abs(got.asnumpy() - want.asnumpy()).max() <= 1e-4 * max(1.0, np.abs(want.asnumpy()).max())


def test_enable_cpu_kernels_without_library(monkeypatch, caplog):
    def no_compiler(cache_dir):
        raise KernelBuildError("C++ compiler 'g++' not found: install g++")

    monkeypatch.setattr(cpu_kernels, "build_kernel_library", no_compiler)
    monkeypatch.setattr(cpu_kernels, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="src.models.kernels"):
        assert enable_cpu_kernels(CenterFace(HEADS)) == {"depthwise": 0, "bias_relu": 0, "batchnorm": 0,
                                                         "dcn": 0, "winograd": 0, "maxpool": 0}
        assert enable_cpu_kernels(CenterFace(HEADS)) == {"depthwise": 0, "bias_relu": 0, "batchnorm": 0,
                                                         "dcn": 0, "winograd": 0, "maxpool": 0}
    # one line, once per process: the swaps after the first one do not repeat it
    assert [r.getMessage() for r in caplog.records] == [
        "compiled CPU kernels off, using MindSpore's ops: C++ compiler 'g++' not found: install g++"]


def test_enable_cpu_kernels_on_a_folded_network():
    library = _build_or_skip(cpu_kernels.DEFAULT_CACHE_DIR)
    ms.set_seed(4)
    plain, fast = CenterFace(HEADS), CenterFace(HEADS)
    for p, q in zip(plain.get_parameters(), fast.get_parameters()):
        q.set_data(p.value())
    for net in (plain, fast):
        net.set_train(False)
        fold_batchnorm(net)
    assert enable_cpu_kernels(fast, library) == {"depthwise": 17, "bias_relu": 22, "batchnorm": 0,
                                                 "dcn": 0, "winograd": 0, "maxpool": 0}
    x = Tensor(np.random.default_rng(5).uniform(0, 255, (1, 3, 96, 64)).astype(np.float32))
    for got, want in zip(fast(x), plain(x)):
        assert np.abs(got.asnumpy() - want.asnumpy()).max() <= 1e-5 * max(1.0, np.abs(want.asnumpy()).max())


class _DepthwiseBlocks(nn.Cell):
    """Two depthwise ConvBNAct blocks (stride 2 then 1, ReLU): every kernel a training graph uses (depthwise forward,
    both gradients, BatchNorm+ReLU forward and backward)."""

    def __init__(self):
        super().__init__()
        self.first = ConvBNAct(6, 6, 3, stride=2, group=6)
        self.second = ConvBNAct(6, 6, 3, stride=1, group=6)

    def construct(self, x):
        return self.second(self.first(x))


class _WeightedSum(nn.Cell):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def construct(self, x, weights):
        return (self.net(x) * weights).sum()


class _OutputAndGrads(nn.Cell):
    """(dx, parameter gradients...) of loss = sum(net(x) * weights), one graph (a dynamic shape cannot be a
    gradient's sensitivity, so the weights enter through the loss)."""

    def __init__(self, net):
        super().__init__()
        self.loss = _WeightedSum(net)
        self.grad = ops.GradOperation(get_all=True, get_by_list=True)
        self.params = ms.ParameterTuple(net.trainable_params())

    def construct(self, x, weights):
        (dx, _), dparams = self.grad(self.loss, self.params)(x, weights)
        return (dx,) + dparams


def test_every_kernel_runs_in_a_dynamic_shape_training_graph(library):
    """The C++ shape functions (infer_shape.cc) let one dynamic-shape graph serve every size, forward and backward,
    with the results of MindSpore's ops at each size (tolerance as test_batchnorm.py: 1e-4 of the range)."""
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        ms.set_seed(3)
        plain, fast = _DepthwiseBlocks(), _DepthwiseBlocks()
        for p, q in zip(plain.get_parameters(), fast.get_parameters()):
            q.set_data(p.value())
        for net in (plain, fast):
            net.set_train(True)
        counts = enable_cpu_kernels(fast, library)
        assert counts["depthwise"] == 2 and counts["batchnorm"] == 2 and sum(counts.values()) == 4, counts
        assert cpu_kernels.supports_dynamic_shape(fast)
        dynamic, static = _OutputAndGrads(fast), _OutputAndGrads(plain)
        dynamic.set_inputs(*[Tensor(shape=[None, 6, None, None], dtype=ms.float32)] * 2)
        for shape in ((2, 6, 12, 16), (3, 6, 9, 7)):  # odd sizes: stride 2 rounds up
            rng = np.random.default_rng(shape[2])
            x = rng.normal(0, 1, shape).astype(np.float32)
            dy = rng.normal(0, 1, shape[:2] + ((shape[2] + 1) // 2, (shape[3] + 1) // 2)).astype(np.float32)
            for got, want in zip(dynamic(Tensor(x), Tensor(dy)), static(Tensor(x), Tensor(dy))):
                assert got.shape == want.shape
                got, want = got.asnumpy(), want.asnumpy()
                assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())
        assert len(dynamic.compile_cache) == 1  # one graph for both sizes
    finally:
        ms.set_context(mode=previous)


def test_aot_op_infers_shapes_in_cpp_only_when_the_library_can(library, monkeypatch):
    op = cpu_kernels.aot_op(library, "BiasReluNchw", lambda x, b: x, lambda x, b: x)
    assert op.attrs.get("cpp_infer_shape") and op.attrs["reg_op_name"] == "BiasReluNchw"
    multi = cpu_kernels.aot_op(library, "BnTrainForward", lambda *s: s, lambda *t: t, num_outputs=4)
    assert multi.attrs["multi_output"] is True
    assert cpu_kernels.has_infer_shape(library, "DwConv3x3S2GradWeight")
    assert not cpu_kernels.has_infer_shape(library, "CfSetNumThreads")  # not a kernel
    monkeypatch.setattr(cpu_kernels, "has_infer_shape", lambda library, name: False)
    python_only = cpu_kernels.aot_op(library, "BiasReluNchw", lambda x, b: x, lambda x, b: x)
    assert not python_only.attrs.get("cpp_infer_shape") and "reg_op_name" not in python_only.attrs


def test_a_library_that_cannot_be_loaded_means_mindspore_ops(monkeypatch, tmp_path, caplog):
    broken = tmp_path / "broken.so"
    broken.write_bytes(b"not a shared library")
    monkeypatch.setattr(cpu_kernels, "build_kernel_library", lambda cache_dir: broken)
    monkeypatch.setattr(cpu_kernels, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="src.models.kernels"):
        assert cpu_kernels.kernel_library_or_none() is None
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith(f"compiled CPU kernels off, using MindSpore's ops: kernel library {broken} cannot be "
                              "loaded") and "\n" not in message
