"""Shared fixtures for the model tests: the compiled CPU kernel library and both MindSpore execution modes."""
import os

import mindspore as ms
import pytest

from src.models.cpu_kernels import KernelBuildError, build_kernel_library


@pytest.fixture(scope="session")
def library():
    """The compiled kernel library; missing is a failure under CI (make test builds with g++), a skip elsewhere."""
    try:
        return build_kernel_library()
    except KernelBuildError as err:
        if os.environ.get("CI"):
            pytest.fail(f"kernel library not built: {err}")
        pytest.skip(f"no kernel library: {err}")


@pytest.fixture(params=["pynative", "graph"])
def mode(request):
    """Run the test in PYNATIVE and in GRAPH mode, restoring the previous mode."""
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE if request.param == "pynative" else ms.GRAPH_MODE)
    yield request.param
    ms.set_context(mode=previous)
