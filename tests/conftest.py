"""Shared test set-up: repository root on sys.path, CPU-friendly MindSpore environment, data paths."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Must precede any `import mindspore` (DESIGN.md §1: oneDNN picks a reference conv on AVX-512).
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
os.environ.setdefault("GLOG_v", "3")

import pytest  # noqa: E402

DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def repo_root():
    return ROOT


@pytest.fixture(scope="session")
def widerface_gt_dir():
    return DATA / "widerface_gt"


@pytest.fixture(scope="session")
def coco_mini_dir():
    return DATA / "coco_person_kpt_mini"
