"""Small I/O helpers shared by the scripts: atomic writes and checkpoint loading with clear errors."""
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


def write_json_atomic(path, obj, indent=None):
    atomic_write_bytes(path, json.dumps(obj, indent=indent).encode("utf-8"))


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


def load_weights(network, ckpt_path, strict=True):
    """Load a checkpoint into `network`; a missing file or mismatching keys are one clear error."""
    import mindspore as ms

    if not Path(ckpt_path).is_file():
        raise FileNotFoundError(f"checkpoint {ckpt_path}: no such file")
    params = ms.load_checkpoint(str(ckpt_path))
    shapes = {name: tuple(p.shape) for name, p in network.parameters_and_names()}
    names = set(shapes)
    missing = sorted(names - set(params))
    if strict and missing:
        raise ValueError(f"checkpoint {ckpt_path}: {len(missing)} network parameters missing, e.g. {missing[:3]}")
    # load_param_into_net would raise a RuntimeError (a traceback in the scripts, cli.run only catches user
    # errors): a width-64 checkpoint given to a width-24 network is a user error, named in one line.
    wrong = [f"{k} {tuple(params[k].shape)} vs network {shapes[k]}" for k in sorted(names & set(params))
             if tuple(params[k].shape) != shapes[k]]
    if wrong:
        raise ValueError(f"checkpoint {ckpt_path}: {len(wrong)} parameter shapes differ from the network "
                         f"(another neck_width?), e.g. {wrong[:2]}")
    not_loaded, _ = ms.load_param_into_net(network, {k: v for k, v in params.items() if k in names},
                                           strict_load=strict)
    if strict and not_loaded:
        raise ValueError(f"checkpoint {ckpt_path}: could not load {not_loaded[:3]}")
    return params
