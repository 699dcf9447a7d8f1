"""Tests for src/model_utils/cli.py: user errors become one stderr line and exit code 2."""
import pytest

from src.model_utils.cli import run
from src.model_utils.config import ConfigError


@pytest.mark.parametrize("error", [ConfigError("unknown config key(s) ['--x']"),
                                   FileNotFoundError("ckpt a: no such file"),
                                   ValueError("input shape (1, 3, 60, 64): expected ...")])
def test_user_error_exits_2_with_one_line(capsys, error):
    def main(argv):
        raise error

    with pytest.raises(SystemExit) as exit_info:
        run(main, [])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == f"error: {error}\n"


@pytest.mark.parametrize("returned, code", [(None, 0), (0, 0), (3, 3)])
def test_return_value_is_exit_code(returned, code):
    with pytest.raises(SystemExit) as exit_info:
        run(lambda argv: returned, [])
    assert exit_info.value.code == code


def test_argv_is_passed_and_bugs_are_not_hidden():
    seen = []

    def main(argv):
        seen.append(argv)
        raise KeyError("a programming error keeps its traceback")

    with pytest.raises(KeyError):
        run(main, ["--a", "1"])
    assert seen == [["--a", "1"]]


@pytest.mark.parametrize("error, line", [
    (PermissionError(13, "Permission denied", "/out/predict"), "error: /out/predict: Permission denied"),
    (OSError(28, "No space left on device", "/out/ckpt/0-1_2.ckpt"),
     "error: /out/ckpt/0-1_2.ckpt: No space left on device"),
    (NotADirectoryError(20, "Not a directory", "/a/file/out"), "error: /a/file/out: Not a directory"),
    (IsADirectoryError(21, "Is a directory", "/out/x.json"), "error: /out/x.json: Is a directory"),
])
def test_os_error_exits_3_with_one_line_naming_the_path(capsys, error, line):
    def main(argv):
        raise error

    with pytest.raises(SystemExit) as exit_info:
        run(main, [])
    assert exit_info.value.code == 3
    assert capsys.readouterr().err == line + "\n"


def test_sigterm_is_an_interruption_with_what_was_kept(capsys):
    """MindSpore's runtime answers Ctrl-C (SIGINT) by sending the process SIGTERM (src/model_utils/cli.py); both
    must end as "interrupted" with exit code 130 and the on_interrupt line, not a silent death."""
    import os
    import signal
    import time

    def main(argv):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        return 0

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exit_info:
        run(main, [], on_interrupt=lambda: "last checkpoint /out/ckpt/0-3_10.ckpt")
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "error: interrupted; last checkpoint /out/ckpt/0-3_10.ckpt\n"
    assert signal.getsignal(signal.SIGTERM) is before  # restored for whoever called run


def test_uninstall_after_the_watchdog_saw_the_stop_first():
    """On a loaded machine the watchdog thread may read a signal's wakeup byte only after `uninstall` has set
    `stopped` and before it writes its own wake-up byte: the watchdog then ends at once. Each side closes only its
    own end of the pipe, so `uninstall` still writes and closes without an error (it raised EBADF when the watchdog
    closed both ends: the full suite met it once) and never touches a descriptor number the watchdog released."""
    import os
    import signal

    from src.model_utils.cli import _Interrupts

    interrupts = _Interrupts(None)
    previous = signal.getsignal(signal.SIGTERM)
    interrupts.install()
    interrupts.stopped = True  # uninstall's first step, as the watchdog finds it ...
    os.write(interrupts.write_fd, bytes([signal.SIGTERM]))  # ... with a wakeup byte it had not read yet
    interrupts.watchdog.join(timeout=30)
    assert not interrupts.watchdog.is_alive()
    interrupts.uninstall()
    assert signal.getsignal(signal.SIGTERM) is previous
    for fd in (interrupts.read_fd, interrupts.write_fd):
        with pytest.raises(OSError):
            os.fstat(fd)  # both ends closed (no other thread of this test opens files meanwhile)


def test_out_of_memory_is_one_line_exit_3_and_other_runtime_errors_keep_their_traceback(capsys):
    # The text of MindSpore 2.10's report (measured: predict.py on a 4096x3072 input on a machine short of memory)
    report = ("\n----------------------------------------------------\n- Memory not enough:\n"
              "----------------------------------------------------\nMemory isn't enough and alloc failed, kernel "
              "name: 6_Default/backbone-MobileNetV2Backbone/features-CellList/2-InvertedResidual/expand-ConvBNAct/"
              "conv-ConvBiasReLU/Custom-op0, alloc size: 1207959552B.\n\n"
              "----------------------------------------------------\n- C++ Call Stack: (For framework developers)\n")
    for error, line in ((RuntimeError(report), "error: out of memory: MindSpore could not allocate 1152 MiB ("),
                        (MemoryError(), "error: out of memory (")):
        def main(argv, error=error):
            raise error

        with pytest.raises(SystemExit) as exit_info:
            run(main, [])
        assert exit_info.value.code == 3
        err = capsys.readouterr().err
        assert err.startswith(line) and err.count("\n") == 1 and "--max_input_side" in err

    def buggy(argv):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run(buggy, [])


# A script whose main thread sits in one long C call that releases the GIL, as MindSpore's graph execution does
# (hashlib's key derivation), so that Python's signal handler cannot run until it returns; it prints "started"
# first, and the call's length after it ends.
LONG_C_CALL = """
import hashlib, sys, time
from dependency.atomic import atomic_write
from src.model_utils.cli import at_hard_exit, run

def long_call(iterations):
    start = time.perf_counter()
    hashlib.pbkdf2_hmac("sha256", b"x", b"salt", iterations)
    print(f"finished after {time.perf_counter() - start:.2f} s", flush=True)


def main(argv):
    with at_hard_exit(lambda: print("action ran", flush=True)):
        print("started", flush=True)
        if argv[2] == "while_writing":  # the long call fills the file
            atomic_write(argv[1], lambda f: (long_call(int(argv[0])), f.write(b"whole")))
        else:
            long_call(int(argv[0]))
            atomic_write(argv[1], lambda f: f.write(b"after the long call"))
    return 0

run(main, sys.argv[1:], on_interrupt=lambda: "what was kept")
"""


def _start(repo_root, iterations, out_file, where="before_writing"):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", LONG_C_CALL, str(iterations), str(out_file), where], cwd=repo_root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "started\n"
    return proc


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_an_interruption_stops_a_long_c_call_within_seconds(repo_root, tmp_path, signum):
    """The watchdog ends the process GRACE_SECONDS after the signal with the interrupted line and exit 130, the
    at_hard_exit actions run, and nothing is written afterwards, although the main thread is still in the C call."""
    import signal
    import time

    from src.model_utils.cli import GRACE_SECONDS

    # How long the call takes here: the interrupted one is made to last 6x (GRACE_SECONDS + 5 s).
    reference = _start(repo_root, 1_000_000, tmp_path / "reference.txt")
    out, _ = reference.communicate(timeout=300)
    per_million = float(out.split("finished after ")[1].split()[0])
    iterations = int(1_000_000 * 6 * (GRACE_SECONDS + 5) / max(per_million, 0.01))

    proc = _start(repo_root, iterations, tmp_path / "never.txt")
    time.sleep(0.5)
    sent = time.perf_counter()
    proc.send_signal(getattr(signal, signum))
    out, err = proc.communicate(timeout=600)
    took = time.perf_counter() - sent
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "error: interrupted; what was kept"
    assert "action ran" in out and "finished" not in out, out
    assert took < 3 * (GRACE_SECONDS + 5), took  # the call alone would have taken twice as long
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reference.txt"]  # nothing written after the signal


def test_an_interruption_while_a_file_is_written_waits_for_it(repo_root, tmp_path):
    """Stopped from the watchdog, the process first lets the main thread finish the file it is writing: the file is
    whole, no temporary is left, and the exit is still 130 with the interrupted line."""
    import signal
    import time

    from src.model_utils.cli import GRACE_SECONDS

    reference = _start(repo_root, 1_000_000, tmp_path / "reference.txt")
    out, _ = reference.communicate(timeout=300)
    per_million = float(out.split("finished after ")[1].split()[0])
    proc = _start(repo_root, int(1_000_000 * 2 * (GRACE_SECONDS + 1) / max(per_million, 0.01)),
                  tmp_path / "result.txt", "while_writing")
    time.sleep(0.5)  # inside the call
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "error: interrupted; what was kept"
    assert "finished after" in out and "action ran" in out
    assert (tmp_path / "result.txt").read_bytes() == b"whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reference.txt", "result.txt"]


def test_an_out_of_memory_line_names_the_scripts_own_keys(capsys):
    """train.py's keys are --train_size and --batch_size (inference's --max_input_side / --input_size mean nothing
    there); a MemoryError carrying its own line (train.py's estimate) is printed as it is."""
    from src.engine.memory import InsufficientMemoryError

    for error, expected in ((MemoryError(), "error: out of memory (a smaller --train_size or --batch_size needs less)"),
                            (InsufficientMemoryError("out of memory: training x needs 9 GB"),
                             "error: out of memory: training x needs 9 GB")):
        def main(argv, error=error):
            raise error

        with pytest.raises(SystemExit) as exit_info:
            run(main, [], memory_keys=("--train_size", "--batch_size"))
        assert exit_info.value.code == 3 and capsys.readouterr().err == expected + "\n"


SLOW_CLEAN_UP = """
import sys, time
from src.model_utils.cli import GRACE_SECONDS, at_hard_exit, run

def main(argv):
    with at_hard_exit(lambda: print("hard exit action ran", flush=True)):
        try:
            print("started", flush=True)
            time.sleep(60)
        finally:  # what the run does after taking up the interruption (ModelArts: copying its outputs out)
            time.sleep(GRACE_SECONDS + 2)
            print("clean-up done", flush=True)

run(main, sys.argv[1:], on_interrupt=lambda: "what was kept")
"""


def test_an_interruption_taken_up_by_the_main_thread_is_not_cut_short_by_the_watchdog(repo_root):
    """The main thread took the SIGTERM up (between two Python steps) and cleans up for longer than GRACE_SECONDS:
    the watchdog stands aside, the clean-up finishes and the interrupted line is printed once."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", SLOW_CLEAN_UP], cwd=repo_root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "started\n"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert out == "clean-up done\n" and err.count("error: interrupted") == 1
