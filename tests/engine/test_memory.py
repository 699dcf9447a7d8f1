"""Tests for src/engine/memory.py: the memory line's arithmetic, what it says fits (checked against the line
itself), the memory available read from /proc/meminfo-like and cgroup files, the processes of a launch, and the
seed's pose training command refused at once, naming train.py's keys, through the real launcher."""
import math
import os

import pytest

from src.engine import memory
from src.engine.memory import InsufficientMemoryError, MemoryModel, check_training_memory
from src.model_utils.config import parse_config
from src.tasks import get_task
from tests.scripts import helpers

POSE_CONFIG = str(helpers.ROOT / "configs" / "centernet_pose.yaml")


def test_need_is_base_plus_bytes_per_batch_pixel():
    model = MemoryModel(1.5, 8000)
    assert model.need_gb(1, 32, 32) == pytest.approx(1.5 + 8000 * 1024 / 2 ** 30, rel=1e-12)
    assert model.need_gb(32, 512, 512) == pytest.approx(1.5 + 32 * 512 * 512 * 8000 / 2 ** 30, rel=1e-12)


@pytest.mark.parametrize("available", [2.0, 7.3, 22.0, 60.0])
def test_what_fits_fits_and_one_more_does_not(available):
    model = MemoryModel(1.535, 7924)
    batch = model.largest_batch(512, 512, available)
    assert model.need_gb(batch, 512, 512) <= available < model.need_gb(batch + 1, 512, 512)
    size = model.largest_size(32, 512, 384, available)
    if size is None:
        assert model.need_gb(32, 32, 32) > available
        return
    h, w = size
    assert h % 32 == 0 and w % 32 == 0 and h <= 512 and w <= 384
    assert model.need_gb(32, h, w) <= available
    # the next multiple of 32 on the scaled sides (same proportions, rounded down) no longer fits
    scale = math.sqrt((available - model.base_gb) * 2 ** 30 / (model.bytes_per_pixel * 32 * 512 * 384))
    assert h == min(512, max(32, int(512 * scale) // 32 * 32))


def _cfg(*args):
    return parse_config(["--config_path", POSE_CONFIG, *args], script="train")


def test_refusal_names_train_py_keys_and_what_fits():
    cfg = _cfg()  # the seed's CPU training: batch 32, 512x512, DCN
    task = get_task(cfg)
    with pytest.raises(InsufficientMemoryError) as error:
        check_training_memory(task, cfg, available=20.0)
    line = str(error.value)
    need = task.training_memory().need_gb(32, 512, 512)
    assert "\n" not in line and line.startswith(f"out of memory: training centernet_pose at --train_size 512,512 "
                                                f"with --batch_size 32 needs about {need:.1f} GB")
    model = task.training_memory()
    batch, (h, w) = model.largest_batch(512, 512, 20.0), model.largest_size(32, 512, 512, 20.0)
    assert line.endswith(f"20.0 GB available: --batch_size {batch} fits at this --train_size or --train_size {h},{w} "
                         "fits at this --batch_size (--memory_check False tries anyway)")
    assert check_training_memory(task, _cfg("--batch_size", str(batch)), available=20.0) is not None
    assert check_training_memory(task, _cfg("--train_size", f"{h},{w}"), available=20.0) is not None


def test_not_estimated_off_cpu_when_switched_off_or_unknown():
    task = get_task(_cfg())
    assert check_training_memory(task, _cfg("--memory_check", "False"), available=1.0) is None
    assert check_training_memory(task, _cfg("--device_target", "GPU"), available=1.0) is None
    face_cfg = parse_config([], script="train")
    assert check_training_memory(get_task(face_cfg), face_cfg, available=100.0) is not None
    no_dcn = _cfg("--enable_dcn", "False")
    assert get_task(no_dcn).training_memory().need_gb(8, 512, 512) < task.training_memory().need_gb(8, 512, 512)


def test_data_parallel_workers_on_one_machine_share_it(monkeypatch):
    cfg = _cfg("--is_distributed", "True", "--batch_size", "2", "--train_size", "256,256")
    task = get_task(cfg)
    need = task.training_memory().need_gb(2, 256, 256)
    monkeypatch.setenv("MS_WORKER_NUM", "4")
    assert memory.local_processes(cfg) == 4
    with pytest.raises(InsufficientMemoryError, match=r"per process .* available \(4 processes\)"):
        check_training_memory(task, cfg, available=3.9 * need)
    assert check_training_memory(task, cfg, available=4.1 * need) is not None
    assert memory.local_processes(_cfg()) == 1


def test_available_memory_from_meminfo_and_a_cgroup_limit(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683772 kB\nMemFree:  100 kB\nMemAvailable:   20971520 kB\n")
    assert memory._meminfo_available_gb(meminfo) == 20.0
    assert memory._meminfo_available_gb(tmp_path / "none") is None
    (tmp_path / "memory.max").write_text("max\n")
    assert memory._cgroup_available_gb(tmp_path) is None
    (tmp_path / "memory.max").write_text(f"{8 * 2 ** 30}\n")
    (tmp_path / "memory.current").write_text(f"{3 * 2 ** 30}\n")
    assert memory._cgroup_available_gb(tmp_path) == 5.0
    assert memory.available_gb() is None or memory.available_gb() > 0


@pytest.mark.parametrize("launcher", ["run_standalone_train_cpu.sh"])
def test_the_seeds_cpu_training_is_refused_at_once_naming_train_py_keys(pose_data, tmp_path, launcher):
    """`bash scripts/run_standalone_train_cpu.sh MINDRECORD_DIR` (the seed's command: batch 32, 512x512, DCN) climbed
    for 76 s to 22 GB before dying; now it stops before MindSpore loads with one line (exit 3) and writes nothing.
    On a machine where the seed's batch fits, a batch that does not is added (the command is otherwise verbatim)."""
    task = get_task(_cfg())
    extra = []
    available = memory.available_gb()
    if available is not None and task.training_memory().need_gb(32, 512, 512) <= available:
        extra = ["--batch_size", str(2 * task.training_memory().largest_batch(512, 512, available) + 2)]
    result = helpers.run_script(launcher, pose_data / "mindrecord", *extra, cwd=tmp_path, timeout=300)
    lines = result.stdout.strip().splitlines()  # the launcher shows train.py's stdout and stderr together
    assert result.returncode == 3, result.stdout[-3000:]
    assert [line for line in lines if line.startswith("error: ")] == [lines[-1]]
    assert lines[-1].startswith("error: out of memory: training centernet_pose at --train_size 512,512 with "
                                "--batch_size ") and "fits" in lines[-1]
    assert "device: CPU" not in result.stdout  # before MindSpore started
    assert not (tmp_path / "outputs").exists()  # no folder, no train.log
    assert os.listdir(tmp_path) == []
