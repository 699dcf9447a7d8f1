"""Tests for ascend310_infer/: CMake stops with one clear message where the MindSpore C++ inference API or
the Ascend toolkit is missing (this machine), configures where they exist, and the C++ runner's own logic
(options, file listing, size checks, <name>_<k>.bin outputs, exit codes) works when compiled against the
test double of the MindSpore API in fake_mindspore/ (a "model" returning its input and the input times 2)."""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "ascend310_infer"
FAKE = Path(__file__).resolve().parent / "fake_mindspore"


def tool(name):
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing in CI")
        pytest.skip(f"{name} not installed")
    return found


def configure(build_dir, mindspore_path, ascend_home):
    env = {**os.environ, "MINDSPORE_PATH": str(mindspore_path), "ASCEND_HOME": str(ascend_home)}
    return subprocess.run([tool("cmake"), "-S", str(SOURCE), "-B", str(build_dir)], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cmake_stops_with_a_clear_message_without_mindspore_and_cann(tmp_path):
    result = configure(tmp_path / "build", "", tmp_path / "no_cann")
    assert result.returncode != 0
    message = " ".join(result.stderr.split())  # CMake re-wraps long messages
    assert "ascend310_infer cannot be built on this machine" in message
    assert "no include/api/model.h under MINDSPORE_PATH=''" in message
    assert f"no acl/acl.h under ASCEND_HOME='{tmp_path / 'no_cann'}'" in message
    assert "src/infer_mindir_cpu.py" in message  # points to the CPU runner


def test_cmake_names_the_missing_library(tmp_path):
    result = configure(tmp_path / "build", FAKE, tmp_path / "no_cann")
    message = " ".join(result.stderr.split())
    assert result.returncode != 0 and "no lib/libmindspore.so" in message
    assert "include/api/model.h" not in message  # the headers were found


def test_cmake_configures_when_api_and_toolkit_exist(tmp_path):
    mindspore = tmp_path / "mindspore"
    shutil.copytree(FAKE / "include", mindspore / "include")
    (mindspore / "lib").mkdir()
    (mindspore / "lib" / "libmindspore.so").write_bytes(b"")
    cann = tmp_path / "cann"
    (cann / "acllib" / "include" / "acl").mkdir(parents=True)
    (cann / "acllib" / "include" / "acl" / "acl.h").write_text("")
    tool("c++")
    result = configure(tmp_path / "build", mindspore, cann)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "build" / "Makefile").exists() or (tmp_path / "build" / "build.ninja").exists()


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    """ascend310_infer/src/*.cc compiled against the fake MindSpore API (warnings are errors)."""
    out = tmp_path_factory.mktemp("runner") / "main"
    sources = [str(SOURCE / "src" / "main.cc"), str(SOURCE / "src" / "utils.cc")]
    subprocess.run([tool("g++"), "-std=c++14", "-Wall", "-Wextra", "-Werror", "-D_GLIBCXX_USE_CXX11_ABI=0",
                    "-I", str(SOURCE), "-I", str(FAKE), *sources, "-o", str(out)],
                   check=True, capture_output=True, text=True, timeout=120)
    return out


def run(binary, *args):
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, timeout=60)


def test_runner_writes_one_file_per_output_and_skips_bad_sizes(runner, tmp_path):
    model = tmp_path / "model.mindir"
    model.write_text("1 3 2 2")  # the fake model's input shape
    inputs = tmp_path / "input"
    inputs.mkdir()
    a = np.arange(12, dtype="<f4")
    a.tofile(inputs / "img_a.bin")
    (a + 100).tofile(inputs / "img_b.bin")
    np.zeros(5, "<f4").tofile(inputs / "short.bin")
    (inputs / "notes.txt").write_text("not an input")
    result = run(runner, f"--mindir_path={model}", "--input_path", inputs, f"--output_path={tmp_path / 'out/deep'}",
                 "--device_id=1")
    assert result.returncode == 1  # one input skipped
    assert "short.bin: 20 bytes; expected 48" in result.stderr
    assert "2/3 inputs" in result.stdout
    out = tmp_path / "out" / "deep"
    assert sorted(p.name for p in out.iterdir()) == ["img_a_0.bin", "img_a_1.bin", "img_b_0.bin", "img_b_1.bin"]
    np.testing.assert_array_equal(np.fromfile(out / "img_b_0.bin", "<f4"), a + 100)
    np.testing.assert_array_equal(np.fromfile(out / "img_b_1.bin", "<f4"), 2 * (a + 100))


@pytest.mark.parametrize("args, message", [
    ([], "missing required option --mindir_path"),
    (["--mindir_path=m", "--input_path=i", "--output_path=o", "--device_id=-1"], "--device_id '-1'"),
    (["--mindir_path=m", "--input_path=i", "--output_path=o", "--batch=2"], "unknown option '--batch'"),
    (["--mindir_path=m", "--input_path={tmp}/none", "--output_path=o"], "{tmp}/none: cannot open folder"),
])
def test_runner_usage_errors(runner, tmp_path, args, message):
    result = run(runner, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.returncode == 2
    assert message.replace("{tmp}", str(tmp_path)) in result.stderr


def test_runner_model_load_error(runner, tmp_path):
    (tmp_path / "in").mkdir()
    np.zeros(4, "<f4").tofile(tmp_path / "in" / "x.bin")
    result = run(runner, f"--mindir_path={tmp_path / 'none.mindir'}", f"--input_path={tmp_path / 'in'}",
                 f"--output_path={tmp_path / 'out'}")
    assert result.returncode == 2 and "cannot load the MindIR" in result.stderr
