"""Small I/O helpers shared by the scripts: atomic writes of bytes, JSON and checkpoints."""
import json
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path, data):
    """Write `data` to `path` so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
