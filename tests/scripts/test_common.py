"""Tests for scripts/common.sh, the code every scripts/*.sh launcher sources, and the library in scripts/lib/ it
sources: shellcheck of all the scripts (following `source`, so common.sh is checked in the context of each script
and on its own) and of each library file on its own, which scripts source what, and its functions one by one in `bash -c` against expected values written out by hand."""
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripts.helpers import ROOT, SCRIPTS_DIR, shellcheck_binary

COMMON = SCRIPTS_DIR / "common.sh"
LAUNCHERS = sorted(p for p in SCRIPTS_DIR.glob("*.sh") if p != COMMON)
LIBRARY = sorted((SCRIPTS_DIR / "lib").glob("*.sh"))


def bash(code, *args, env=None):
    """Runs CODE in `bash -c` after `set -euo pipefail` and sourcing common.sh (as the scripts do), with a
    usage() that prints USAGE -> CompletedProcess."""
    script = f'set -euo pipefail\nsource "{COMMON}"\nusage() {{ echo USAGE >&2; }}\n{code}'
    return subprocess.run(["bash", "-c", script, "bash", *map(str, args)], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **(env or {})}, cwd=ROOT, timeout=60)


def test_shellcheck_clean():
    paths = [*map(str, LAUNCHERS), str(COMMON), str(ROOT / "ascend310_infer" / "build.sh")]
    result = subprocess.run([shellcheck_binary(), "--shell=bash", "--external-sources", *paths],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_launcher_sources_common_and_common_is_only_sourced():
    line = 'source "$(dirname "${BASH_SOURCE[0]}")/common.sh"'
    assert len(LAUNCHERS) >= 12
    assert [p.name for p in LAUNCHERS if line not in p.read_text()] == []
    # A library: not run on its own, and the options (set -euo pipefail) stay the sourcing script's.
    text = COMMON.read_text()
    assert not text.startswith("#!") and not COMMON.stat().st_mode & stat.S_IXUSR
    assert re.findall(r"^\s*set\s", text, re.M) == []


def test_library_files_are_shellcheck_clean_on_their_own():
    """shellcheck reports only on the files it is given, not on those it follows: each library file is given."""
    assert len(LIBRARY) >= 4
    result = subprocess.run([shellcheck_binary(), "--shell=bash", "--external-sources", *map(str, LIBRARY)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_common_sources_every_library_file_which_is_only_sourced():
    text = COMMON.read_text()
    sourced = re.findall(r'^source "\$\{ROOT\}/scripts/lib/([a-z_]+\.sh)"$', text, re.M)
    assert sorted(sourced) == [p.name for p in LIBRARY]
    for path in LIBRARY:
        library = path.read_text()
        assert library.startswith("# shellcheck shell=bash\n") and not path.stat().st_mode & stat.S_IXUSR
        assert re.findall(r"^\s*set\s", library, re.M) == [], path.name
        assert "source " not in library, path.name  # common.sh alone decides what is sourced, and in which order


def test_every_function_is_defined_once():
    """Splitting the library must not leave two definitions of a name (the later one would win silently)."""
    names = [name for path in [COMMON, *LIBRARY]
             for name in re.findall(r"^([a-z_]+)\(\) \{", path.read_text(), re.M)]
    assert len(names) > 30 and sorted(set(names)) == sorted(names)


def test_root_and_python():
    result = bash('echo "${ROOT}|${PYTHON}"')
    assert result.stdout == f"{ROOT}|python\n"
    assert bash('echo "${PYTHON}"', env={"PYTHON": "/x/python3"}).stdout == "/x/python3\n"


@pytest.mark.parametrize("args, expected", [
    ([], (2, "", "error: expected at least 2 arguments, got 0\nUSAGE\n")),
    (["a"], (2, "", "error: expected at least 2 arguments, got 1\nUSAGE\n")),
    (["a", "b"], (0, "ok\n", "")),
    (["a", "b", "c", "d"], (0, "ok\n", "")),
    (["--help"], (0, "", "USAGE\n")),
    (["-h", "x", "y"], (0, "", "USAGE\n")),
    (["x", "--help"], (0, "ok\n", "")),  # only a first -h/--help asks for help
    (["--help2"], (2, "", "error: expected at least 2 arguments, got 1\nUSAGE\n")),
])
def test_check_arguments_without_limit(args, expected):
    result = bash('check_arguments 2 "" "$@"; echo ok', *args)
    assert (result.returncode, result.stdout, result.stderr) == expected


def test_check_arguments_with_limit():
    assert bash('check_arguments 2 3 "$@"; echo ok', "a", "b", "c").stdout == "ok\n"
    result = bash('check_arguments 2 3 "$@"; echo ok', "a", "b", "c", "d")
    assert (result.returncode, result.stderr) == (2, "error: expected 2 or 3 arguments, got 4\nUSAGE\n")
    result = bash('check_arguments 2 3 "$@"; echo ok', "a")
    assert (result.returncode, result.stderr) == (2, "error: expected 2 or 3 arguments, got 1\nUSAGE\n")


def test_next_is_value_stops_at_the_first_option():
    code = 'while next_is_value "$@"; do echo "value $1"; shift; done; echo "rest $*"'
    assert bash(code, "3", "GPU", "--lr", "0.1").stdout == "value 3\nvalue GPU\nrest --lr 0.1\n"
    assert bash(code, "--lr", "0.1", "7").stdout == "rest --lr 0.1 7\n"
    assert bash(code).stdout == "rest \n"
    assert bash(code, "", "-1").stdout == "value \nvalue -1\nrest \n"  # empty and negative values are values


@pytest.mark.parametrize("call, value, ok, message", [
    ("require_nonnegative_int N", "0", True, ""),
    ("require_nonnegative_int N", "007", True, ""),
    ("require_nonnegative_int N", "-1", False, "N -1: expected a non-negative integer"),
    ("require_nonnegative_int N", "", False, "N : expected a non-negative integer"),
    ("require_nonnegative_int N", "1.0", False, "N 1.0: expected a non-negative integer"),
    ("require_positive_int N", "1", True, ""),
    ("require_positive_int N", "12", True, ""),
    ("require_positive_int N", "0", False, "N 0: expected a positive integer"),
    ("require_positive_int N", "01", False, "N 01: expected a positive integer"),
    ("require_positive_int N", "two", False, "N two: expected a positive integer"),
    ("require_fraction IOU", "0", True, ""),
    ("require_fraction IOU", "0.5", True, ""),
    ("require_fraction IOU", "1", True, ""),
    ("require_fraction IOU", "1.000", True, ""),
    ("require_fraction IOU", "1.01", False, "IOU 1.01: expected a number in [0, 1]"),
    ("require_fraction IOU", ".5", False, "IOU .5: expected a number in [0, 1]"),
    ("require_fraction IOU", "-0.1", False, "IOU -0.1: expected a number in [0, 1]"),
    ("require_port P", "1024", True, ""),
    ("require_port P", "65535", True, ""),
    ("require_port P", "08118", True, ""),  # decimal, not octal
    ("require_port P", "1023", False, "P 1023: expected a TCP port in 1024..65535"),
    ("require_port P", "65536", False, "P 65536: expected a TCP port in 1024..65535"),
    ("require_port P", "0080", False, "P 0080: expected a TCP port in 1024..65535"),
    ("require_port P", "80", False, "P 80: expected a TCP port in 1024..65535"),
    ("require_port P", "8x18", False, "P 8x18: expected a TCP port in 1024..65535"),
    ("require_port P", "100000", False, "P 100000: expected a TCP port in 1024..65535"),
    ("require_choice T", "GPU", True, ""),
    ("require_choice T", "gpu", False, "T gpu: expected CPU, GPU or Ascend"),
    ("require_choice T", "*", False, "T *: expected CPU, GPU or Ascend"),  # literal match, not a pattern
    ("require_choice T", "", False, "T : expected CPU, GPU or Ascend"),
])
def test_value_checks(call, value, ok, message):
    choices = " CPU GPU Ascend" if call.startswith("require_choice") else ""
    result = bash(f'{call} "$1"{choices}; echo ok', value)
    if ok:
        assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")
    else:
        assert (result.returncode, result.stdout, result.stderr) == (2, "", f"error: {message}\n")


@pytest.mark.parametrize("choices, listed", [(["cpu"], "cpu"), (["ascend", "cpu"], "ascend or cpu"),
                                             (["a", "b", "c", "d"], "a, b, c or d")])
def test_require_choice_lists_the_choices(choices, listed):
    result = bash('require_choice R "$@"', "x", *choices)
    assert (result.returncode, result.stderr) == (2, f"error: R x: expected {listed}\n")
    assert bash('require_choice R "$@"; echo ok', choices[-1], *choices).stdout == "ok\n"


def test_path_checks(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    cases = [("require_file F", tmp_path / "f.txt", ""), ("require_file F", tmp_path, "F {}: no such file"),
             ("require_dir D", tmp_path, ""), ("require_dir D", tmp_path / "f.txt", "D {}: no such folder"),
             ("require_path C", tmp_path / "f.txt", ""), ("require_path C", tmp_path, ""),
             ("require_path C", tmp_path / "none", "C {}: no such checkpoint file")]
    for call, path, message in cases:
        result = bash(f'{call} "$1" "checkpoint file"; echo ok', path)
        expected = (2, "", f"error: {message.format(path)}\n") if message else (0, "ok\n", "")
        assert (result.returncode, result.stdout, result.stderr) == expected, (call, path)


def test_ground_truth_folder(tmp_path):
    (tmp_path / "wider_face_val.mat").write_bytes(b"x")
    code = 'GT="$(ground_truth_folder "$1")"; echo "[${GT}]"'
    assert bash(code, tmp_path).stdout == f"[{tmp_path}]\n"
    assert bash(code, tmp_path / "wider_face_val.mat").stdout == f"[{tmp_path}]\n"
    missing = bash(code, tmp_path / "none")
    assert (missing.returncode, missing.stdout) == (2, "")  # the exit 2 of the subshell ends the script
    assert missing.stderr == f"error: GROUND_TRUTH_PATH {tmp_path / 'none'}: no such folder or file\n"


def test_print_command_round_trips_through_the_shell():
    words = ["/a b/python", "--x", "it's", 'say "hi"', "$HOME", "*.ckpt", "", "a\\b"]
    result = bash('print_command "$@"', *words)
    assert result.stdout.endswith(" \n") and shlex.split(result.stdout) == words


def test_distributed_train_args_and_msrun_command():
    code = ('distributed_train_args CPU j.json imgs out --lr "0.1 x"; '
            'msrun_command 3 out "${train[@]}"; printf "%s\\n" "${MSRUN_BIN_DIR}" "${cmd[@]}"')
    result = bash(code, env={"PYTHON": sys.executable, "MASTER_PORT": "29001"})
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stderr
    assert lines[0] == str(Path(sys.executable).parent)
    assert lines[1:] == [sys.executable, "-m", "mindspore.parallel.cluster.run", "--worker_num=3",
                         "--local_worker_num=3", "--master_port=29001", "--log_dir=out/msrun_log", "--join=True",
                         f"{ROOT}/train.py", "--is_distributed", "True", "--device_target", "CPU",
                         "--train_json", "j.json", "--train_image_dir", "imgs", "--output_path", "out",
                         "--lr", "0.1 x"]
    default = bash('require_python; msrun_command 1 o; echo "${MASTER_PORT}"', env={"PYTHON": sys.executable})
    assert default.stdout == "8118\n"


def test_msrun_command_checks_the_port_before_python():
    result = bash("msrun_command 2 out", env={"PYTHON": "no-such-python", "MASTER_PORT": "80"})
    assert (result.returncode, result.stderr) == (2, "error: MASTER_PORT 80: expected a TCP port in 1024..65535\n")
    result = bash("msrun_command 2 out", env={"PYTHON": "no-such-python"})
    assert (result.returncode, result.stderr) == (2, "error: PYTHON no-such-python: not found\n")


# A command that writes three log files into $1/logs (unsorted names) and fails with exit code 5.
FAILING = ('cmd=(bash -c \'mkdir -p "$0/logs"; '
           'for n in w1 w0 s; do printf "1\\n2 $n\\n3 $n\\n" >"$0/logs/$n.log"; done; echo ran; exit 5\' "$1")')


def test_launch_distributed_dry_run(tmp_path):
    out = tmp_path / "out"
    result = bash(f'{FAILING}; launch_distributed "$1" logs /opt/bin "starting"; echo after', out,
                  env={"DRY_RUN": "1"})
    assert result.returncode == 0 and not out.exists()  # printed, not run: no "after", no folder, no logs
    assert result.stdout.startswith("PATH=/opt/bin:$PATH bash -c ") and result.stdout.count("\n") == 1
    assert shlex.split(result.stdout)[-1] == str(out)
    result = bash('cmd=(echo "a b"); launch_distributed "$1" logs "" ""', out, env={"DRY_RUN": "1"})
    assert result.stdout == "echo a\\ b \n"  # no PATH prefix without a folder


def test_launch_distributed_runs_and_shows_the_log_tails_on_failure(tmp_path):
    out = tmp_path / "out"
    result = bash(f'{FAILING}; launch_distributed "$1" logs /opt/bin "starting"; echo after', out)
    assert result.returncode == 1
    assert result.stdout == "starting\nran\n"
    tails = "\n\n".join(f"==> {out}/logs/{n}.log <==\n2 {n}\n3 {n}" for n in ("s", "w0", "w1"))
    assert result.stderr == (f"error: distributed training failed; last lines of the worker logs in {out}/logs:\n"
                             f"{tails}\n")
    quiet = bash('cmd=(false); launch_distributed "$1" logs "" ""', out / "new")
    assert (quiet.returncode, quiet.stdout) == (1, "")  # no logs: just the error line
    assert quiet.stderr == f"error: distributed training failed; last lines of the worker logs in {out}/new/logs:\n"
    assert (out / "new").is_dir()


def test_launch_distributed_puts_the_folder_first_in_path(tmp_path):
    result = bash('cmd=(bash -c \'echo "${PATH%%:*}"\'); launch_distributed "$1" logs /opt/bin ""; echo after',
                  tmp_path / "out")
    assert (result.returncode, result.stdout) == (0, "/opt/bin\nafter\n")


def _workers_ending_with(*codes):
    """A command writing one worker log per code, each ending "worker exit code N" (src/model_utils/cli.py), that
    fails as msrun does when a worker does."""
    writes = "; ".join(f'printf "training\\nworker exit code {c}\\n" >"$0/logs/worker_{r}.log"'
                       for r, c in enumerate(codes))
    return f'cmd=(bash -c \'mkdir -p "$0/logs"; {writes}; exit 1\' "$1")'


@pytest.mark.parametrize("codes, expected", [((1, 1), 1), ((0, 1), 1), ((2, 0), 2), ((1, 130), 130), ((3, 2), 3)])
def test_launch_distributed_passes_on_the_workers_exit_code(tmp_path, codes, expected):
    result = bash(f'{_workers_ending_with(*codes)}; launch_distributed "$1" logs "" ""', tmp_path / "out")
    assert result.returncode == expected
    if expected == 1:  # done with skipped images: said as such, not as a failure
        assert result.stderr.startswith("distributed training done, but some images could not be read")
        assert "error" not in result.stderr
    else:
        assert result.stderr.startswith("error: distributed training failed")


def test_a_worker_started_by_msrun_ends_its_log_with_its_exit_code(repo_root):
    script = "from src.model_utils.cli import run\nrun(lambda argv: 1)\n"
    env = dict(os.environ, MS_ROLE="MS_WORKER")
    worker = subprocess.run([sys.executable, "-c", script], cwd=repo_root, env=env, capture_output=True, text=True,
                            timeout=120)
    assert (worker.returncode, worker.stderr.splitlines()[-1]) == (1, "worker exit code 1")
    alone = subprocess.run([sys.executable, "-c", script], cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert (alone.returncode, alone.stderr) == (1, "")
