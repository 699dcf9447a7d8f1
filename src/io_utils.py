"""Small I/O helpers shared by the scripts: atomic writes of bytes, JSON and checkpoints; output folders that
hold one run."""
import json
import os
from pathlib import Path

from dependency.atomic import atomic_write


def atomic_write_bytes(path, data):
    """Write `data` to `path` so that readers see either the old file or the whole new one."""
    atomic_write(path, lambda handle: handle.write(data))


def write_json_atomic(path, obj, **dumps_kwargs):
    """`obj` as JSON (json.dumps keyword arguments, e.g. indent=1 or separators=(",", ":")), atomically."""
    atomic_write_bytes(path, json.dumps(obj, **dumps_kwargs).encode("utf-8"))


def save_checkpoint_atomic(save_obj, path, append_dict=None):
    """mindspore.save_checkpoint through a temporary file in the same folder, then os.replace."""
    import mindspore as ms

    path = Path(path)
    if path.suffix != ".ckpt":
        raise ValueError(f"checkpoint path {path}: must end in .ckpt (mindspore.load_checkpoint reads no other name)")
    path.parent.mkdir(parents=True, exist_ok=True)
    # save_checkpoint appends ".ckpt" to names without it, so the temporary name keeps the suffix.
    tmp = path.parent / f".{path.stem}.{os.getpid()}.part.ckpt"
    try:
        ms.save_checkpoint(save_obj, str(tmp), append_dict=append_dict)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class OutputFolderError(ValueError):
    """An output folder cannot be used for this run (it holds inputs or another run's files)."""


RUN_MANIFEST = ".run.json"


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
        raise OutputFolderError(f"output folder {folder}: a file of that name exists; expected a folder")
    resolved = folder.resolve()
    for item in inputs:
        item = Path(item).resolve()
        if resolved == item or resolved in item.parents:
            raise OutputFolderError(f"output folder {folder} holds the input {item}; outputs are never written "
                                    f"among their inputs: choose another folder")
    if folder.is_dir():
        entries = [e for e in folder.iterdir() if e.name not in keep]
        manifest = folder / RUN_MANIFEST
        if entries:
            owner = None
            if manifest.is_file():
                try:
                    owner = json.loads(manifest.read_text()).get("script")
                except (OSError, ValueError, AttributeError):
                    owner = None
            if owner != script:
                raise OutputFolderError(
                    f"output folder {folder} is not empty and holds no earlier {script} run "
                    f"({len(entries)} entries, e.g. {entries[0].name}); choose an empty or new folder")
            for entry in entries:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
    write_json_atomic(folder / RUN_MANIFEST, {"script": script, "pid": os.getpid()})
    return folder
