"""Train the config's model (CenterFace by default) on one device or data-parallel on many (scripts/).

    python train.py --train_json train.json --train_image_dir images/ --output_path outputs/run1 \\
        [--device_target CPU|GPU|Ascend] [--is_distributed True] [--resume True] [--ckpt_path CKPT] ...
    python train.py --config_path configs/centernet_pose.yaml --mindrecord_dir DIR ...   # CenterNet pose
    python train.py --config_path configs/centernet_det.yaml --data_dir COCO_DIR ...     # CenterNet detection

One run per output folder: without `--resume True`, an `--output_path` whose ckpt/ holds checkpoints is refused
(exit 2, nothing written); other files there are left alone. `--resume True` continues from the newest checkpoint
that reads whole (a truncated newer one is skipped, with a warning). Exit code: see README "Exit codes and outputs"
(1: training done, but some images could not be read and were skipped, each named); Ctrl-C (exit 130) says where the
last checkpoint is.
"""
import logging
from pathlib import Path

from src.model_utils.cli import EXIT_PARTIAL, run
from src.model_utils.config import parse_config
from src.model_utils.moxing_adapter import moxing_wrapper
from src.tasks import get_task

_OUTPUT = {}


def main(argv=None):
    cfg = parse_config(argv, description=__doc__, script="train")
    task = get_task(cfg)
    _OUTPUT["path"] = Path(cfg.output_path)
    return moxing_wrapper(cfg)(train)(task, cfg)  # ModelArts: data in, outputs out (src/model_utils/moxing_adapter.py)


def train(task, cfg):
    from src.engine.memory import check_training_memory
    from src.engine.run import check_inputs

    # Before MindSpore loads and before anything is written: a run that cannot fit and bad paths fail at once.
    check_training_memory(task, cfg, logging.getLogger("train"))
    check_inputs(task, cfg)
    from src.model_utils.device import init_device

    device = init_device(cfg.device_target, cfg.device_id, cfg.mode, cfg.is_distributed, cfg.seed)
    from src.engine.run import run as train_run

    summary = train_run(task, cfg, device)
    return EXIT_PARTIAL if summary["unreadable_images"] else 0


def last_checkpoint_line():
    """What an interrupted run kept: the newest checkpoint of its output folder."""
    if "path" not in _OUTPUT:
        return None
    from src.engine.checkpoint import latest_checkpoint

    newest = latest_checkpoint(_OUTPUT["path"] / "ckpt")
    if newest is None:
        return f"no checkpoint written yet in {_OUTPUT['path'] / 'ckpt'}"
    return f"last checkpoint {newest}; continue with --resume True --output_path {_OUTPUT['path']}"


if __name__ == "__main__":
    run(main, on_interrupt=last_checkpoint_line, memory_keys=("--train_size", "--batch_size"))
