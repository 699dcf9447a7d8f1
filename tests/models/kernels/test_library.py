"""Tests for src/models/cpu_kernels.py: building and caching the kernel library, errors, the umbrella switch.

The kernels' numerics are tested in test_fast_depthwise.py and test_fast_batchnorm.py. Without a C++
compiler the build tests skip, except under CI (`CI` set), where that is a failure.
"""
import os
import warnings

import numpy as np
import pytest

import mindspore as ms
from mindspore import Tensor

from src.models.kernels import library as cpu_kernels
from src.centerface.network import CenterFace
from src.models.kernels import enable_cpu_kernels
from src.models.kernels.library import KernelBuildError, build_kernel_library, set_kernel_threads
from src.models.fold_bn import fold_batchnorm


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
    plain, fast = CenterFace(), CenterFace()
    for p, q in zip(plain.get_parameters(), fast.get_parameters()):
        q.set_data(p.value())
    # 17 depthwise convs; 59 BatchNorms: 51 in the backbone (the stem, 2 in the first block, which has no
    # expand conv, 3 in each of the other 16) and 8 in the neck (4 laterals, 3 upsampling blocks, the fuse conv).
    assert enable_cpu_kernels(fast, library) == {"depthwise": 17, "bias_relu": 0, "batchnorm": 59}
    x = Tensor(np.random.default_rng(3).uniform(0, 255, (2, 3, 64, 64)).astype(np.float32))
    for train in (True, False):
        plain.set_train(train)
        fast.set_train(train)
        for got, want in zip(fast(x), plain(x)):
            assert np.abs(got.asnumpy() - want.asnumpy()).max() <= 1e-4 * max(1.0, np.abs(want.asnumpy()).max())


def test_enable_cpu_kernels_without_library(monkeypatch):
    def no_compiler(cache_dir):
        raise KernelBuildError("C++ compiler 'g++' not found: install g++")

    monkeypatch.setattr(cpu_kernels, "build_kernel_library", no_compiler)
    monkeypatch.setattr(cpu_kernels, "_warned", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert enable_cpu_kernels(CenterFace()) == {"depthwise": 0, "bias_relu": 0, "batchnorm": 0}
    assert len([w for w in caught if "compiled CPU kernels disabled" in str(w.message)]) == 1


def test_enable_cpu_kernels_on_a_folded_network():
    library = _build_or_skip(cpu_kernels.DEFAULT_CACHE_DIR)
    ms.set_seed(4)
    plain, fast = CenterFace(), CenterFace()
    for p, q in zip(plain.get_parameters(), fast.get_parameters()):
        q.set_data(p.value())
    for net in (plain, fast):
        net.set_train(False)
        fold_batchnorm(net)
    assert enable_cpu_kernels(fast, library) == {"depthwise": 17, "bias_relu": 22, "batchnorm": 0}
    x = Tensor(np.random.default_rng(5).uniform(0, 255, (1, 3, 96, 64)).astype(np.float32))
    for got, want in zip(fast(x), plain(x)):
        assert np.abs(got.asnumpy() - want.asnumpy()).max() <= 1e-5 * max(1.0, np.abs(want.asnumpy()).max())
