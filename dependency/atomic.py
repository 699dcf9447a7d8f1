"""The repository's one atomic file writer (the evaluators here and `src.io_utils` use it).

A reader sees either the old file or the whole new one: the content goes to a temporary file in the same
folder, which then replaces the target (`os.replace`). The file gets the usual permissions (0666 minus the
umask; `mkstemp` would leave 0600). An operating-system error (permission, disk full, a file where a folder is
expected) is raised as an OSError naming the target (a failed `write()` names no file, and the temporary's
name means nothing to a user).
"""
import errno
import os
import tempfile
import threading
from pathlib import Path

__all__ = ["WRITES", "atomic_write", "make_folder", "os_error_naming", "reraise_naming"]

NOT_A_FOLDER = "is a file; expected a folder"
# Held while a file is written (here and by the checkpoint writer): a process ended from another thread (Ctrl-C
# while the main thread runs a long graph, src/model_utils/cli.py) waits for it, so that no write is cut short.
WRITES = threading.RLock()


def os_error_naming(err, path):
    """`err` (an OSError) as an OSError of the same errno and subclass naming `path`, unless it names another
    file already. A hidden file in `path`'s folder (a writer's temporary) counts as no name."""
    path = Path(path)
    named = Path(str(err.filename)) if err.filename is not None else None
    if named is not None and not (named.name.startswith(".") and named.parent == path.parent):
        return err
    return OSError(err.errno, err.strerror or str(err), str(path))  # OSError() picks the errno's subclass


def make_folder(path):
    """`mkdir -p path`; returns the Path. A file where the folder should be is a NotADirectoryError naming it
    (Path.mkdir reports "File exists", which reads as if the folder were there)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as err:
        raise NotADirectoryError(errno.ENOTDIR, NOT_A_FOLDER, str(path)) from err
    return path


def atomic_write(path, write):
    """Call `write(binary_file)` to fill `path` atomically; parent folders are created. Returns the Path."""
    path = Path(path)
    make_folder(path.parent)
    with WRITES:
        return _write_and_replace(path, write)


def _write_and_replace(path, write):
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as err:
        reraise_naming(err, path)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):
            reraise_naming(err, path)
        raise
    return path


def reraise_naming(err, path):
    """Raise `os_error_naming(err, path)` (from `err` when it is a new exception)."""
    renamed = os_error_naming(err, path)
    if renamed is err:
        raise err
    raise renamed from err
