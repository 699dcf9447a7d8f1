"""ModelArts support (the zoo's API): copy the data in from OBS before a run and the outputs back after it.

    def main(argv=None):
        cfg = parse_config(argv)
        return moxing_wrapper(cfg, pre_process=..., post_process=...)(work)(cfg)

With `enable_modelarts: True` the wrapped call
1. copies `data_url` to `data_path` and `checkpoint_url` to `load_path` (a folder, or one file into that folder;
   once per server: see `sync_data`), and with `--resume True` the earlier outputs at `train_url` to `output_path`;
2. points the run at the copies (`use_local_copies`): a relative data path (train_json, train_image_dir, data_dir,
   mindrecord_dir, ground_truth_path, pred_dir) is taken under `data_path`, an empty data_dir is `data_path`; a
   relative checkpoint (ckpt_path, pretrained_backbone) is taken under `load_path`, an empty ckpt_path is the one
   checkpoint copied there (or that folder, which test.py/eval.py sweep). So the paths a user writes in the job
   are those inside the OBS folders;
3. runs `pre_process`, the work, `post_process`;
4. copies `output_path` to `train_url`: at the end, and also when the work fails or is interrupted (Ctrl-C,
   SIGTERM) after writing something there, so that the checkpoints of a stopped job are not lost.
Without `enable_modelarts` the call is the work alone. `moxing` exists only on ModelArts images: imported lazily,
its absence is one clear error before anything runs.
"""
import functools
import logging
import os
import time
import zlib
from pathlib import Path

# Rank and device come from the same environment variables as on a local machine.
from src.model_utils.local_adapter import get_device_id, get_device_num, get_rank_id  # noqa: F401

LOG = logging.getLogger(__name__)

# Keys naming inputs inside the data set (data_url) and checkpoints (checkpoint_url), when a config has them.
DATA_KEYS = ("train_json", "train_image_dir", "data_dir", "mindrecord_dir", "ground_truth_path", "pred_dir")
CHECKPOINT_KEYS = ("ckpt_path", "pretrained_backbone")


def get_job_id():
    return os.getenv("JOB_ID", "default") or "default"


def _moxing():
    try:
        import moxing as mox  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise RuntimeError("enable_modelarts=True needs the `moxing` package (present on ModelArts images); "
                           "run with --enable_modelarts False on other machines") from None
    return mox


def _copy(mox, from_path, to_path):
    """A folder to a folder; a single file into the folder `to_path` under its own name."""
    if mox.file.is_directory(from_path):
        mox.file.copy_parallel(from_path, to_path)
    else:
        os.makedirs(to_path, exist_ok=True)
        mox.file.copy(from_path, os.path.join(to_path, os.path.basename(from_path.rstrip("/"))))


def sync_data(from_path, to_path):
    """Copy OBS <-> local once per server: local rank 0 copies, the other ranks wait for its lock file."""
    mox = _moxing()
    # crc32, not hash(): str hashes are salted per process, so each rank would wait for a different lock.
    lock = f"/tmp/copy_sync.lock{zlib.crc32(f'{from_path}->{to_path}'.encode()) % 100000}"
    if get_device_id() % min(get_device_num(), 8) == 0 and not mox.file.exists(lock):
        print(f"copy {from_path} -> {to_path}", flush=True)
        _copy(mox, from_path, to_path)
        with open(lock, "w"):
            pass
    while not os.path.exists(lock):
        time.sleep(1)


def _under(folder, value):
    return value if os.path.isabs(value) else os.path.join(folder, value)


def use_local_copies(config):
    """Point `config` at the copies of data_url and checkpoint_url (module docstring, step 2)."""
    if config.data_url:
        for key in DATA_KEYS:
            if key in config and getattr(config, key):
                setattr(config, key, _under(config.data_path, getattr(config, key)))
        if "data_dir" in config and not config.data_dir:
            config.data_dir = config.data_path
    if config.checkpoint_url:
        for key in CHECKPOINT_KEYS:
            if key in config and getattr(config, key):
                setattr(config, key, _under(config.load_path, getattr(config, key)))
        if "ckpt_path" in config and not config.ckpt_path:
            found = sorted(Path(config.load_path).glob("*.ckpt"))
            config.ckpt_path = str(found[0] if len(found) == 1 else config.load_path)


def upload_outputs(config):
    """Copy `output_path` to `train_url` when there is something to copy; returns whether it did."""
    folder = Path(config.output_path)
    if not config.train_url or not folder.is_dir() or not any(folder.iterdir()):
        return False
    print(f"copy {folder} -> {config.train_url}", flush=True)
    _moxing().file.copy_parallel(str(folder), config.train_url)
    return True


def _upload_after_failure(config):
    """upload_outputs for a run that failed or was interrupted: a failing copy is one warning line, never in the
    way of the run's own error."""
    try:
        upload_outputs(config)
    except Exception as err:  # noqa: BLE001  (the run's own error is what the user must see)
        LOG.warning("copying %s to %s failed: %s", config.output_path, config.train_url, err)


def moxing_wrapper(config, pre_process=None, post_process=None):
    """Decorator for a script's work: on ModelArts, sync in, point the config at the copies, run `pre_process`,
    the work and `post_process`, sync `output_path` out (module docstring); elsewhere the work alone."""
    def decorator(run_func):
        @functools.wraps(run_func)
        def wrapped(*args, **kwargs):
            if not config.enable_modelarts:
                return run_func(*args, **kwargs)
            mox = _moxing()  # a clear error before anything is copied or run
            if config.data_url:
                sync_data(config.data_url, config.data_path)
            if config.checkpoint_url:
                sync_data(config.checkpoint_url, config.load_path)
            if config.train_url and "resume" in config and config.resume and mox.file.exists(config.train_url):
                sync_data(config.train_url, config.output_path)  # the checkpoints to resume from
            use_local_copies(config)
            from src.model_utils.cli import at_hard_exit

            with at_hard_exit(lambda: _upload_after_failure(config)):
                try:
                    if pre_process:
                        pre_process()
                    result = run_func(*args, **kwargs)
                    if post_process:
                        post_process()
                except BaseException:
                    _upload_after_failure(config)
                    raise
            upload_outputs(config)
            return result
        return wrapped
    return decorator
