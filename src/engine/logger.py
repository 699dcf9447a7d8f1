"""Run logger: rank 0 logs to stdout, every rank to `output_dir/log_rank{rank}.txt`.

Calling `get_logger` again for the same name replaces the handlers (no duplicated lines when a script
or a test builds several runs in one process).
"""
import logging
import sys
from pathlib import Path

__all__ = ["get_logger"]

_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def get_logger(output_dir, rank=0, name="train", level=logging.INFO):
    """Logger `name.rank{rank}` writing to stdout (rank 0 only) and to `output_dir/log_rank{rank}.txt`."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"{name}.rank{int(rank)}")
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter(_FORMAT, datefmt="%Y-%m-%d %H:%M:%S")
    file_handler = logging.FileHandler(folder / f"log_rank{int(rank)}.txt", mode="a", encoding="utf-8")
    file_handler.setFormatter(formatter)
    logger.addHandler(file_handler)
    if int(rank) == 0:
        stream_handler = logging.StreamHandler(sys.stdout)
        stream_handler.setFormatter(formatter)
        logger.addHandler(stream_handler)
    return logger
