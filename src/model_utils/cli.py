"""Entry-point helper for the root scripts: every failure a user can cause or meet is one line and an exit code.

Exit codes (README "Exit codes"): 0 done; 1 done, but some inputs could not be read (named in the log);
2 bad input (a flag, a config value, a missing or malformed file); 3 an operating-system error while reading
or writing (permission, disk full, a file where a folder is expected); 130 interrupted (Ctrl-C).
"""
import errno
import logging
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


def run(main, argv=None, on_interrupt=None):
    """Call `main(argv)` and exit with its code; user errors exit 2, OS errors 3, Ctrl-C 130, each with one
    `error:` line on stderr. `on_interrupt()` may return a line saying what was kept (train.py: the last
    checkpoint)."""
    setup_logging()
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
    sys.exit(code or 0)
