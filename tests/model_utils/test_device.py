"""Tests for src/model_utils/device.py: the oneDNN ISA cap, the thread limit and device initialisation.

init_device changes MindSpore's process-wide context (mode, device), so it runs in subprocesses here and the
test process keeps its own context.
"""
import os
import subprocess
import sys
import textwrap

import pytest

from src.model_utils.device import DeviceInfo, init_device, prepare_environment

ISA = "ONEDNN_MAX_CPU_ISA"


def run_python(code, repo_root, env_drop=(ISA,)):
    env = {k: v for k, v in os.environ.items() if k not in env_drop}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=repo_root, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("mindspore_loaded", [False, True])
def test_cpu_sets_avx2_cap_when_unset_and_logs_it(monkeypatch, mindspore_loaded):
    monkeypatch.delenv(ISA, raising=False)
    if mindspore_loaded:
        monkeypatch.setitem(sys.modules, "mindspore", sys.modules.get("mindspore", object()))
    else:
        monkeypatch.delitem(sys.modules, "mindspore", raising=False)
    messages = []
    prepare_environment("CPU", log=messages.append)
    assert os.environ[ISA] == "AVX2"
    assert len(messages) == 1 and "ONEDNN_MAX_CPU_ISA=AVX2" in messages[0]
    # Too late to take effect once MindSpore is loaded: the log says so.
    assert ("after mindspore was imported" in messages[0]) == mindspore_loaded


def test_cpu_leaves_user_value_alone(monkeypatch):
    monkeypatch.setenv(ISA, "AVX512_CORE")
    messages = []
    prepare_environment("CPU", log=messages.append)
    assert os.environ[ISA] == "AVX512_CORE"
    assert messages == ["ONEDNN_MAX_CPU_ISA=AVX512_CORE (set by the user)"]


@pytest.mark.parametrize("target", ["GPU", "Ascend"])
def test_accelerators_leave_environment_alone(monkeypatch, target):
    monkeypatch.delenv(ISA, raising=False)
    messages = []
    prepare_environment(target, log=messages.append)
    assert ISA not in os.environ and messages == []


@pytest.mark.parametrize("target", ["TPU", "cpu", ""])
def test_unknown_target_rejected(target):
    with pytest.raises(ValueError, match=f"device_target.*{target!r}"):
        prepare_environment(target, log=lambda _: None)


def test_bad_mode_rejected_before_touching_context():
    # init_device checks availability of CPU (always there) and then the mode, before set_context.
    with pytest.raises(ValueError, match="mode.*'FAST'"):
        init_device("CPU", mode="FAST", log=lambda _: None)


def test_device_info_main_rank():
    assert DeviceInfo("CPU", 0).is_main and not DeviceInfo("CPU", 0, rank=1, group_size=2).is_main


@pytest.mark.parametrize("target, module", [("GPU", "gpu"), ("Ascend", "ascend")])
def test_init_accelerator_follows_what_mindspore_reports(repo_root, target, module):
    # MindSpore says whether the device is usable here; init_device must agree on any machine: initialise it
    # when it is there, else stop with one line naming what is missing and the CPU alternative.
    res = run_python(f"""
        from mindspore import device_context
        print("available:", device_context.{module}.is_available())
        from src.model_utils.device import init_device
        try:
            info = init_device("{target}", log=print)
            import mindspore as ms
            print("initialised:", info.target, ms.get_context("device_target"))
        except RuntimeError as err:
            print("RuntimeError:", err)
    """, repo_root)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    available = next(line for line in lines if line.startswith("available: ")) == "available: True"
    last = lines[-1]
    if available:
        assert last == f"initialised: {target} {target}"
    else:
        assert last.startswith(f"RuntimeError: device_target={target} is not available")
        needs = {"GPU": "a CUDA 11 GPU", "Ascend": "an Ascend NPU"}[target]
        assert needs in last and "--device_target CPU" in last


def test_init_cpu_sets_context(repo_root):
    res = run_python("""
        import os
        from src.model_utils.device import init_device
        info = init_device("CPU", 0, "GRAPH", seed=5, log=print)
        import mindspore as ms
        print(info.target, info.device_id, info.rank, info.group_size, ms.get_context("mode") == ms.GRAPH_MODE,
              ms.get_context("device_target"), ms.get_seed(), os.environ["ONEDNN_MAX_CPU_ISA"])
    """, repo_root)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    # First log line: the cap was set before MindSpore loaded (so it takes effect).
    assert "ONEDNN_MAX_CPU_ISA=AVX2 set for the CPU target" in lines[0]
    assert lines[-1] == "CPU 0 0 1 True CPU 5 AVX2"


@pytest.mark.parametrize("value, threads, logged", [
    ("1", 1, "OMP_NUM_THREADS=1: MindSpore's runtime_num_threads and the compiled kernels use 1 thread(s)"),
    ("0", None, "OMP_NUM_THREADS='0' is not a positive integer"),
    ("two", None, "OMP_NUM_THREADS='two' is not a positive integer"),
])
def test_omp_num_threads_limits_mindspore_and_the_kernels(repo_root, value, threads, logged):
    """MindSpore 2.10 ignores OMP_NUM_THREADS for its own runtime (measured: runtime_num_threads stays at its
    default); init_device makes it follow, and the kernel library is then given the same count."""
    res = run_python(f"""
        import os
        os.environ["OMP_NUM_THREADS"] = {value!r}
        from src.model_utils.device import init_device
        init_device("CPU", 0, "GRAPH", log=print)
        import mindspore as ms
        from src.models.kernels import library
        given = []
        library.set_kernel_threads = lambda lib, n: given.append(n)
        library.kernel_library_or_none("unused.so")
        print("threads", ms.get_context("runtime_num_threads"), given)
    """, repo_root)
    assert res.returncode == 0, res.stderr
    last = res.stdout.strip().splitlines()[-1].split(" ", 2)
    if threads is None:
        default = run_python("""
            import mindspore as ms
            print(ms.get_context("runtime_num_threads"))
        """, repo_root).stdout.strip().splitlines()[-1]
        assert last[:2] == ["threads", default] and last[2] == f"[{default}]"
    else:
        assert last == ["threads", str(threads), f"[{threads}]"]
    assert logged in res.stdout
