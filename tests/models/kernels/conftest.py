"""Shared fixture for the model tests: the compiled CPU kernel library (`mode` comes from tests/conftest.py)."""
import os

import pytest

from src.models.kernels.library import KernelBuildError, build_kernel_library


@pytest.fixture(scope="session")
def library():
    """The compiled kernel library; missing is a failure under CI (make test builds with g++), a skip elsewhere."""
    try:
        return build_kernel_library()
    except KernelBuildError as err:
        if os.environ.get("CI"):
            pytest.fail(f"kernel library not built: {err}")
        pytest.skip(f"no kernel library: {err}")
