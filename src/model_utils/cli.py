"""Entry-point helper for the root scripts: every failure a user can cause or meet is one line and an exit code.

Exit codes (README "Exit codes"): 0 done; 1 done, but some inputs could not be read (named in the log);
2 bad input (a flag, a config value, a missing or malformed file); 3 an operating-system error while reading
or writing (permission, disk full, a file where a folder is expected) or out of memory; 130 interrupted (Ctrl-C,
or SIGTERM).

Ctrl-C: once MindSpore has run a graph, its runtime owns SIGINT and answers it by sending the process SIGTERM
(measured with MindSpore 2.10: the process died with status -15 and no word). `run` therefore turns a SIGTERM
of the script's own process into KeyboardInterrupt, so both end in the one "interrupted" path (train.py says
where its last checkpoint is). Forked helpers (dataset workers) inherit the handler and keep SIGTERM's default.
"""
import errno
import logging
import os
import re
import signal
import sys

from src.model_utils.config import ConfigError

USER_ERRORS = (ConfigError, FileNotFoundError, ValueError)
EXIT_PARTIAL, EXIT_USAGE, EXIT_OS, EXIT_INTERRUPTED = 1, 2, 3, 130


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


def _sigterm_as_interrupt(main_pid):
    def handler(signum, frame):
        if os.getpid() != main_pid:  # a forked child: die as SIGTERM says
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise KeyboardInterrupt
    return handler


def run(main, argv=None, on_interrupt=None):
    """Call `main(argv)` and exit with its code; user errors exit 2, OS errors 3, Ctrl-C (or SIGTERM) 130, each
    with one `error:` line on stderr. `on_interrupt()` may return a line saying what was kept (train.py: the last
    checkpoint)."""
    setup_logging()
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt(os.getpid()))
    try:
        _run(main, argv, on_interrupt)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(main, argv, on_interrupt):
    try:
        code = main(argv)
    except KeyboardInterrupt:
        extra = on_interrupt() if on_interrupt is not None else None
        print("error: interrupted" + (f"; {extra}" if extra else ""), file=sys.stderr)
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
        line = out_of_memory_line(err)
        if line is None:  # any other RuntimeError is a bug: its traceback stays
            raise
        print(f"error: {line}", file=sys.stderr)
        sys.exit(EXIT_OS)
    sys.exit(code or 0)


_MINDSPORE_OUT_OF_MEMORY = re.compile(r"Memory isn't enough and alloc failed.*?alloc size: (\d+)B", re.S)


def out_of_memory_line(err):
    """One line for a MemoryError or MindSpore's "Memory not enough" RuntimeError (a 20-line report with a C++
    stack); None for anything else."""
    hint = "a smaller --max_input_side, --input_size or --batch_size needs less"
    if isinstance(err, MemoryError):
        return f"out of memory ({hint})"
    match = _MINDSPORE_OUT_OF_MEMORY.search(str(err))
    if match is None:
        return None
    return f"out of memory: MindSpore could not allocate {int(match.group(1)) / 2 ** 20:.0f} MiB ({hint})"
