"""Entry-point helper for the root scripts: every failure a user can cause or meet is one line and an exit code.

Exit codes (README "Exit codes and outputs"): 0 done; 1 done, but some inputs could not be read (named in the log);
2 bad input (a flag, a config value, a missing or malformed file); 3 an operating-system error while reading
or writing (permission, disk full, a file where a folder is expected) or out of memory; 130 interrupted (Ctrl-C,
or SIGTERM).

Ctrl-C: once MindSpore has run a graph, its runtime owns SIGINT and answers it by sending the process SIGTERM
(measured with MindSpore 2.10: the process died with status -15 and no word). `run` therefore turns a SIGINT or
SIGTERM of the script's own process into KeyboardInterrupt, so both end in the one "interrupted" path (train.py says
where its last checkpoint is). Forked helpers (dataset workers) inherit the handler and keep SIGTERM's default.

A Python signal handler runs only when the main thread is back in Python: while MindSpore executes a graph (one
training step of DLA-34 at 512x512 on CPU takes 20 s, a pose inference at 4096 px minutes) the interruption would
wait for it. MindSpore releases the GIL while a graph runs (measured: a Python thread keeps running), and the C
part of Python's signal handling writes the signal number to a wakeup fd at once, so a watchdog thread sees every
SIGINT/SIGTERM immediately. If the main thread has not taken it up within GRACE_SECONDS, the watchdog ends the
process itself with the same line and exit code 130, after the file being written (all writes go through
`dependency.atomic.WRITES`) is complete and the `at_hard_exit` actions (ModelArts: copy the outputs out) are done:
the output folder then holds what a KeyboardInterrupt would have left.
"""
import contextlib
import errno
import logging
import os
import re
import signal
import sys
import threading
import time

from src.model_utils.config import ConfigError

USER_ERRORS = (ConfigError, FileNotFoundError, ValueError)
EXIT_PARTIAL, EXIT_USAGE, EXIT_OS, EXIT_INTERRUPTED = 1, 2, 3, 130
INFERENCE_MEMORY_KEYS = ("--max_input_side", "--input_size", "--batch_size")
GRACE_SECONDS = 3.0  # the main thread's time to take up an interruption before the watchdog ends the process
WRITE_WAIT_SECONDS = 60.0  # the longest wait for a file being written (a checkpoint) before that


def setup_logging(level=logging.INFO):
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")


def os_error_line(err):
    """`path: reason` of an OSError, in one line."""
    reason = err.strerror or (errno.errorcode.get(err.errno) if err.errno else None) or str(err)
    where = err.filename if err.filename is not None else ""
    if err.filename2 is not None:
        where = f"{where} -> {err.filename2}"
    return f"{where}: {reason}" if where else str(reason)


def require(cfg, *keys, hint=""):
    """ConfigError naming the first of `keys` that is empty in `cfg`."""
    for key in keys:
        if not getattr(cfg, key):
            raise ConfigError(f"--{key} is required" + (f" ({hint})" if hint else ""))


_HARD_EXIT_ACTIONS = []


@contextlib.contextmanager
def at_hard_exit(action):
    """Within the block, `action()` runs before the watchdog ends an interrupted process (see the module
    docstring); an interruption taken up by the main thread unwinds through the block as KeyboardInterrupt
    instead, where the caller handles it."""
    _HARD_EXIT_ACTIONS.append(action)
    try:
        yield
    finally:
        _HARD_EXIT_ACTIONS.remove(action)


def interrupted_line(on_interrupt):
    extra = on_interrupt() if on_interrupt is not None else None
    return "error: interrupted" + (f"; {extra}" if extra else "")


class _Interrupts:
    """SIGINT and SIGTERM of the main process as KeyboardInterrupt, with the watchdog of the module docstring."""

    def __init__(self, on_interrupt):
        self.on_interrupt = on_interrupt
        self.main_pid = os.getpid()
        self.state = threading.Lock()
        self.taken_up = 0  # interruptions the main thread took up
        self.ending = False  # the watchdog is ending the process
        self.stopped = False

    def handler(self, signum, frame):
        if os.getpid() != self.main_pid:  # a forked child: die as the signal says
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        with self.state:
            if self.ending:
                return
            self.taken_up += 1
        raise KeyboardInterrupt

    def install(self):
        self.previous = {s: signal.signal(s, self.handler) for s in (signal.SIGINT, signal.SIGTERM)}
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)
        self.previous_fd = signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)
        self.watchdog = threading.Thread(target=self._watch, name="interrupt-watchdog", daemon=True)
        self.watchdog.start()

    def uninstall(self):
        """Restore the handlers and stop the watchdog. The main thread owns the pipe's write end, the watchdog its
        read end: each closes only its own, since the watchdog may see `stopped` before the wake-up byte is written
        (a signal's byte pending) and end first."""
        signal.set_wakeup_fd(self.previous_fd)
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.stopped = True
        with contextlib.suppress(BrokenPipeError):  # the watchdog already ended and closed the read end
            os.write(self.write_fd, b"\0")  # wakes the watchdog, which then closes the read end
        os.close(self.write_fd)

    def _watch(self):
        received = 0  # interruptions signalled so far; the main thread's handler counts those it took up
        while True:
            data = os.read(self.read_fd, 64)
            if self.stopped or not data:
                os.close(self.read_fd)
                return
            received += sum(byte in (signal.SIGINT, signal.SIGTERM) for byte in data)
            deadline = time.monotonic() + GRACE_SECONDS
            while self.taken_up < received and not self.stopped and time.monotonic() < deadline:
                time.sleep(0.05)
            with self.state:
                if self.taken_up >= received or self.stopped:
                    continue
                self.ending = True
            self._end_process()

    def _end_process(self):
        """The main thread is stuck in a long C++ call: finish the file being written, run the at_hard_exit actions,
        say what was kept and exit 130."""
        from dependency.atomic import WRITES

        actions = list(_HARD_EXIT_ACTIONS)  # those of the blocks the main thread is in now
        WRITES.acquire(timeout=WRITE_WAIT_SECONDS)  # never released: no new file is started after this
        for action in actions:
            try:
                action()
            except Exception as err:  # noqa: BLE001  (the exit must happen)
                print(f"warning: {err}", file=sys.stderr)
        try:
            line = interrupted_line(self.on_interrupt)
        except Exception:  # noqa: BLE001
            line = interrupted_line(None)
        import multiprocessing

        for child in multiprocessing.active_children():  # dataset workers
            child.terminate()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        print(line, file=sys.stderr, flush=True)
        _say_worker_exit_code(EXIT_INTERRUPTED)
        os._exit(EXIT_INTERRUPTED)


def _forget_wakeup_fd_in_child():
    """A forked child (a dataset worker) must not report its own signals to the parent's watchdog."""
    with contextlib.suppress(ValueError, OSError):
        signal.set_wakeup_fd(-1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_wakeup_fd_in_child)


def run(main, argv=None, on_interrupt=None, memory_keys=INFERENCE_MEMORY_KEYS):
    """Call `main(argv)` and exit with its code; user errors exit 2, OS errors 3, Ctrl-C (or SIGTERM) 130 within
    seconds (module docstring), each with one `error:` line on stderr. `on_interrupt()` may return a line saying
    what was kept (train.py: the last checkpoint). `memory_keys`: the flags an out-of-memory line suggests lowering
    (train.py: --train_size, --batch_size)."""
    setup_logging()
    interrupts = _Interrupts(on_interrupt)
    interrupts.install()
    try:
        _run(main, argv, on_interrupt, memory_keys)
    except SystemExit as done:
        _say_worker_exit_code(done.code)
        raise
    finally:
        if interrupts.ending:  # the watchdog is ending the process with exit 130: no other exit code wins
            threading.Event().wait()
        interrupts.uninstall()


WORKER_EXIT_LINE = "worker exit code {code}"


def _say_worker_exit_code(code):
    """A worker started by msrun ends its log with its exit code: msrun itself reports only that a worker failed
    (and stops the others), so the launcher reads the codes from the worker logs to pass the right one on
    (scripts/common.sh launch_distributed)."""
    if os.environ.get("MS_ROLE") == "MS_WORKER":
        code = 0 if code is None else code if isinstance(code, int) else 1
        print(WORKER_EXIT_LINE.format(code=code), file=sys.stderr, flush=True)


def _silence_half_built_objects():
    """An interruption can land inside a constructor (tqdm's, measured: its `__del__` then fails on the attribute
    `__init__` never set), and that object's finaliser runs at interpreter exit, after the interrupted line, as an
    "Exception ignored" traceback. Such errors of a process already ending on Ctrl-C say nothing: they are dropped,
    so the interrupted line stays the last one."""
    sys.unraisablehook = lambda unraisable: None


def _run(main, argv, on_interrupt, memory_keys):
    try:
        code = main(argv)
    except KeyboardInterrupt:
        _silence_half_built_objects()
        print(interrupted_line(on_interrupt), file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except FileNotFoundError as err:
        print(f"error: {os_error_line(err) if err.filename is not None else err}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except USER_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except OSError as err:
        print(f"error: {os_error_line(err)}", file=sys.stderr)
        sys.exit(EXIT_OS)
    except (MemoryError, RuntimeError) as err:
        line = out_of_memory_line(err, memory_keys)
        if line is None:  # any other RuntimeError is a bug: its traceback stays
            raise
        print(f"error: {line}", file=sys.stderr)
        sys.exit(EXIT_OS)
    sys.exit(code or 0)


_MINDSPORE_OUT_OF_MEMORY = re.compile(r"Memory isn't enough and alloc failed.*?alloc size: (\d+)B", re.S)


def out_of_memory_line(err, memory_keys=INFERENCE_MEMORY_KEYS):
    """One line for a MemoryError or MindSpore's "Memory not enough" RuntimeError (a 20-line report with a C++
    stack), suggesting smaller values of `memory_keys`; None for anything else. A MemoryError raised with its own
    line (train.py's estimate before starting) is that line."""
    keys = list(memory_keys)
    hint = f"a smaller {', '.join(keys[:-1])} or {keys[-1]} needs less" if len(keys) > 1 else f"a smaller {keys[0]}"
    if isinstance(err, MemoryError):
        return str(err) if getattr(err, "one_line", False) else f"out of memory ({hint})"
    match = _MINDSPORE_OUT_OF_MEMORY.search(str(err))
    if match is None:
        return None
    return f"out of memory: MindSpore could not allocate {int(match.group(1)) / 2 ** 20:.0f} MiB ({hint})"
