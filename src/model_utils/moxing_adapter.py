"""ModelArts support: copy data in from OBS before a run and outputs back after it (zoo API).

Used only with `enable_modelarts: True`; `moxing` exists only on ModelArts images, so it is imported
lazily and its absence is one clear error.
"""
import functools
import os
import time
import zlib

# Rank and device come from the same environment variables as on a local machine.
from src.model_utils.local_adapter import get_device_id, get_device_num, get_rank_id  # noqa: F401


def get_job_id():
    return os.getenv("JOB_ID", "default") or "default"


def _moxing():
    try:
        import moxing as mox  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise RuntimeError("enable_modelarts=True needs the `moxing` package (present on ModelArts images); "
                           "run with --enable_modelarts False on other machines") from None
    return mox


def sync_data(from_path, to_path):
    """Copy OBS <-> local once per server: local rank 0 copies, the other ranks wait for its lock file."""
    mox = _moxing()
    # crc32, not hash(): str hashes are salted per process, so each rank would wait for a different lock.
    lock = f"/tmp/copy_sync.lock{zlib.crc32(f'{from_path}->{to_path}'.encode()) % 100000}"
    if get_device_id() % min(get_device_num(), 8) == 0 and not mox.file.exists(lock):
        print(f"copy {from_path} -> {to_path}", flush=True)
        mox.file.copy_parallel(from_path, to_path)
        with open(lock, "w"):
            pass
    while not os.path.exists(lock):
        time.sleep(1)


def moxing_wrapper(config, pre_process=None, post_process=None):
    """Decorator for a script's main: sync data_url/checkpoint_url in and output_path out on ModelArts."""
    def decorator(run_func):
        @functools.wraps(run_func)
        def wrapped(*args, **kwargs):
            if config.enable_modelarts:
                if config.data_url:
                    sync_data(config.data_url, config.data_path)
                if config.checkpoint_url:
                    sync_data(config.checkpoint_url, config.load_path)
                if config.train_url:
                    os.makedirs(config.output_path, exist_ok=True)
            if pre_process:
                pre_process()
            result = run_func(*args, **kwargs)
            if post_process:
                post_process()
            if config.enable_modelarts and config.train_url:
                _moxing().file.copy_parallel(config.output_path, config.train_url)
            return result
        return wrapped
    return decorator
