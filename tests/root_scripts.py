"""What the tests of the root scripts (predict.py, eval.py, export.py, ...) with a model's config share: running a
script in a subprocess from the repository with that config, and the one-line error it ended with."""
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
