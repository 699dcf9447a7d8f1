"""The repository's one atomic file writer (the evaluators here and `src.io_utils` use it).

A reader sees either the old file or the whole new one: the content goes to a temporary file in the same
folder, which then replaces the target (`os.replace`). The file gets the usual permissions (0666 minus the
umask; `mkstemp` would leave 0600).
"""
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path, write):
    """Call `write(binary_file)` to fill `path` atomically; parent folders are created. Returns the Path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
