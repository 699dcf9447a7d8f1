"""Run logger: rank 0 logs to stdout, every rank to `output_dir/log_rank{rank}.txt`.

Calling `get_logger` again for the same name replaces the handlers (no duplicated lines when a script
or a test builds several runs in one process). A log file that cannot be written (disk full, removed
permission) stops the run with an OSError naming it, instead of logging's default (a traceback on stderr for
every line, and training going on without its log).
"""
import logging
import sys

from dependency.atomic import make_folder

__all__ = ["get_logger"]

_FORMAT = "%(asctime)s %(levelname)s %(message)s"


class _StrictFileHandler(logging.FileHandler):
    """FileHandler raising the OSError of a failed write, naming the file (see the module docstring)."""

    def handleError(self, record):
        err = sys.exc_info()[1]
        if isinstance(err, OSError):
            raise OSError(err.errno, err.strerror or str(err), self.baseFilename) from err
        super().handleError(record)


def get_logger(output_dir, rank=0, name="train", level=logging.INFO):
    """Logger `name.rank{rank}` writing to stdout (rank 0 only) and to `output_dir/log_rank{rank}.txt`."""
    folder = make_folder(output_dir)
    logger = logging.getLogger(f"{name}.rank{int(rank)}")
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        try:
            handler.close()
        except OSError:  # the old log file failed (and said so); the new one is what matters now
            pass
    formatter = logging.Formatter(_FORMAT, datefmt="%Y-%m-%d %H:%M:%S")
    file_handler = _StrictFileHandler(folder / f"log_rank{int(rank)}.txt", mode="a", encoding="utf-8")
    file_handler.setFormatter(formatter)
    logger.addHandler(file_handler)
    if int(rank) == 0:
        stream_handler = logging.StreamHandler(sys.stdout)
        stream_handler.setFormatter(formatter)
        logger.addHandler(stream_handler)
    return logger
