"""Entry-point helper for the root scripts: bad input becomes one line on stderr and exit code 2."""
import logging
import sys

from src.model_utils.config import ConfigError

USER_ERRORS = (ConfigError, FileNotFoundError, ValueError)


def setup_logging(level=logging.INFO):
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")


def run(main, argv=None):
    """Call `main(argv)`; a user error (bad flag, missing file, bad value) exits 2 with one clear line."""
    setup_logging()
    try:
        code = main(argv)
    except USER_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    sys.exit(code or 0)
