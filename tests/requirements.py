"""Optional test dependencies that `make test` installs (torch from requirements-test.txt, pycocotools): a
missing one fails a test under CI (CI=true, which `make test` sets) and skips it elsewhere, so a green CI run
never hides a parity test that did not run."""
import importlib
import os

import pytest


def require(module_name):
    """The imported module; a failure under CI, a skip elsewhere, when it cannot be imported."""
    try:
        return importlib.import_module(module_name)
    except ImportError as err:
        if os.environ.get("CI"):
            pytest.fail(f"{module_name} is required (make test installs it): {err}")
        pytest.skip(f"{module_name} not installed: {err}", allow_module_level=True)
