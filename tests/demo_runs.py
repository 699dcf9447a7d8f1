"""What the convergence tests of the training demos (scripts/demo_pose.py, scripts/demo_det.py) share: running a
demo with a recipe into a folder and reading the summary it wrote."""
import json
import os
import subprocess
import sys


def run_demo(repo_root, script, out_dir, flags):
    """`python scripts/SCRIPT --output_path OUT --eval_epochs last --skip_predict FLAGS...` -> (summary.json,
    stdout)."""
    cmd = [sys.executable, f"scripts/{script}", "--output_path", str(out_dir), "--eval_epochs", "last",
           "--skip_predict"]
    for key, value in flags.items():
        cmd += [key, str(value)]
    proc = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, env={**os.environ, "GLOG_v": "3"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads((out_dir / "summary.json").read_text()), proc.stdout
