"""Small I/O helpers shared by the scripts: atomic writes of bytes, JSON and checkpoints (with the clean-up of
interrupted checkpoint writes); output folders that hold one run. OS errors name the path they concern."""
import contextlib
import errno
import json
import os
import re
from pathlib import Path

from dependency.atomic import NOT_A_FOLDER, WRITES, atomic_write, make_folder, reraise_naming


def atomic_write_bytes(path, data):
    """Write `data` to `path` so that readers see either the old file or the whole new one."""
    atomic_write(path, lambda handle: handle.write(data))


def write_json_atomic(path, obj, **dumps_kwargs):
    """`obj` as JSON (json.dumps keyword arguments, e.g. indent=1 or separators=(",", ":")), atomically."""
    atomic_write_bytes(path, json.dumps(obj, **dumps_kwargs).encode("utf-8"))


# Temporaries of a checkpoint write. Ours is `.<name>.<pid>.part.ckpt`; MindSpore 2.10's save_checkpoint writes
# to the name it is given with `.ckpt` replaced by `.tmp` (mindspore/train/serialization.py `_exec_save`), then
# renames it to that name: `.<name>.<pid>.part.tmp`. A SIGKILL or a full disk in the middle leaves one of them
# behind. Earlier versions wrote `.tmp-<pid>-<name>` (MindSpore's: `.tmp-<pid>-<stem>.tmp`) and
# `.<stem>.<pid>.part.ckpt`; the patterns below cover those too. None of them matches a checkpoint name.
CHECKPOINT_TEMPORARY = re.compile(r"^\.(?:.+\.(?P<pid>\d+)\.part|tmp-(?P<old_pid>\d+)-.+)\.(?:ckpt|tmp)$")


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def files_matching(folder, pattern):
    """[(path, match)] of the files directly in `folder` whose names match the compiled regex `pattern`, in name
    order; [] when the folder does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(entry, pattern.match(entry.name)) for entry in sorted(folder.iterdir())]
    return [(entry, match) for entry, match in found if match is not None and entry.is_file()]


def stale_checkpoint_temporaries(folder):
    """Checkpoint temporaries in `folder` (see CHECKPOINT_TEMPORARY) that no running writer owns: written by
    this process (which writes one checkpoint at a time) or by a process that no longer exists."""
    stale = []
    for entry, match in files_matching(folder, CHECKPOINT_TEMPORARY):
        pid = int(match.group("pid") or match.group("old_pid"))
        if pid == os.getpid() or not _process_alive(pid):
            stale.append(entry)
    return stale


def remove_stale_checkpoint_temporaries(folder):
    """Delete `stale_checkpoint_temporaries(folder)`; returns the removed paths."""
    removed = []
    for entry in stale_checkpoint_temporaries(folder):
        try:
            entry.unlink()
        except FileNotFoundError:  # removed meanwhile
            continue
        removed.append(entry)
    return removed


@contextlib.contextmanager
def _mindspore_log_silenced():
    """MindSpore's logger off for a moment: its CRITICAL line on a failed save names the temporary file; the
    OSError raised instead names the checkpoint."""
    from mindspore import log as ms_log

    logger = ms_log._get_logger() if hasattr(ms_log, "_get_logger") else None
    disabled = getattr(logger, "disabled", False)
    if logger is not None:
        logger.disabled = True
    try:
        yield
    finally:
        if logger is not None:
            logger.disabled = disabled


def _fsync(path, directory=False):
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint_atomic(save_obj, path, append_dict=None):
    """mindspore.save_checkpoint through a temporary file in the same folder, flushed to disk, then os.replace:
    readers (and a resume after a crash) see the old file or the whole new one, never a part.

    Stale temporaries of earlier interrupted writes in the folder are removed first. Any failure of the write
    (permission, disk full, a file where the folder should be, or a RuntimeError from MindSpore's writer) is
    raised as an OSError naming `path`; the temporaries of this write are removed.
    """
    import mindspore as ms

    path = Path(path)
    if path.suffix != ".ckpt":
        raise ValueError(f"checkpoint path {path}: must end in .ckpt (mindspore.load_checkpoint reads no other name)")
    make_folder(path.parent)
    try:
        remove_stale_checkpoint_temporaries(path.parent)
    except OSError as err:
        reraise_naming(err, path.parent)
    tmp = path.parent / f".{path.name}.{os.getpid()}.part.ckpt"
    temporaries = (tmp, tmp.with_suffix(".tmp"))  # ours, and the one MindSpore writes before renaming it to ours
    with WRITES:
        try:
            with _mindspore_log_silenced():
                ms.save_checkpoint(save_obj, str(tmp), append_dict=append_dict)
            _fsync(tmp)
            os.replace(tmp, path)
            with contextlib.suppress(OSError):  # the new name made durable; not every file system can fsync a folder
                _fsync(path.parent, directory=True)
        except OSError as err:
            reraise_naming(err, path)
        except RuntimeError as err:  # MindSpore's writer may wrap an I/O failure
            raise OSError(errno.EIO, f"writing the checkpoint failed ({err})", str(path)) from err
        finally:
            for item in temporaries:
                if item.exists():
                    item.unlink()
    return path


class OutputFolderError(ValueError):
    """An output folder cannot be used for this run (it holds inputs or another run's files)."""


RUN_MANIFEST = ".run.json"


def run_manifest_owner(folder):
    """The script named by `folder`'s run manifest, or None (no manifest, or an unreadable one)."""
    manifest = Path(folder) / RUN_MANIFEST
    if not manifest.is_file():
        return None
    try:
        return json.loads(manifest.read_text()).get("script")
    except (OSError, ValueError, AttributeError):
        return None


def write_run_manifest(folder, script):
    """Mark `folder` as the output folder of a run of `script` (this process)."""
    write_json_atomic(Path(folder) / RUN_MANIFEST, {"script": script, "pid": os.getpid()})


def claim_output_folder(path, script, inputs=(), keep=()):
    """Make `path` the output folder of one run of `script`, so that it never mixes runs nor touches inputs.

    * An input file (`inputs`: files this run reads) inside the folder is an error: outputs must never sit
      among, or replace, the inputs they were computed from.
    * A folder holding an earlier run of the same script (its `.run.json` manifest names the script) is
      emptied first, so that it describes this run only (e.g. a re-test whose images now fail leaves no stale
      result files behind). Names in `keep` are left alone.
    * A non-empty folder without such a manifest, or from another script, is an error (it may hold a user's
      files): pick an empty or new folder.
    Then writes the manifest; returns the folder as a Path. OutputFolderError (one line) when refused.
    """
    import shutil

    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, NOT_A_FOLDER, str(folder))
    resolved = folder.resolve()
    for item in inputs:
        item = Path(item).resolve()
        if resolved == item or resolved in item.parents:
            raise OutputFolderError(f"output folder {folder} holds the input {item}; outputs are never written "
                                    f"among their inputs: choose another folder")
    if folder.is_dir():
        entries = [e for e in folder.iterdir() if e.name not in keep]
        if entries:
            owner = run_manifest_owner(folder)
            if owner != script:
                raise OutputFolderError(
                    f"output folder {folder} is not empty and holds no earlier {script} run "
                    f"({len(entries)} entries, e.g. {entries[0].name}); choose an empty or new folder")
            for entry in entries:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
    write_run_manifest(folder, script)
    return folder
