"""What the tests of the root scripts (predict.py, eval.py, export.py, ...) with a model's config share: running a
script in a subprocess from the repository with that config, the one-line error it ended with, and the CPU MindIR
runner of the offline chain (src/infer_mindir_cpu.py)."""
import os
import subprocess
import sys

from tests.conftest import ROOT


def run_root_script(config, script, *args, timeout=900):
    """`python SCRIPT --config_path configs/CONFIG ARGS...` from the repository -> CompletedProcess."""
    env = {**os.environ, "GLOG_v": "3"}
    return subprocess.run([sys.executable, str(ROOT / script), "--config_path", str(ROOT / "configs" / config),
                           *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)


def error_line(result):
    """The last line a script wrote to stderr (its one-line error)."""
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else ""


def run_mindir_runner(mindir, input_dir, output_dir, timeout=900):
    """src/infer_mindir_cpu.py over preprocess.py's inputs (it must succeed) -> CompletedProcess."""
    runner = subprocess.run([sys.executable, str(ROOT / "src" / "infer_mindir_cpu.py"), "--mindir_path", str(mindir),
                             "--input_path", str(input_dir), "--output_path", str(output_dir)], capture_output=True,
                            text=True, cwd=ROOT, timeout=timeout)
    assert runner.returncode == 0, runner.stderr
    return runner
