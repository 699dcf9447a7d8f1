"""Export a checkpoint of the config's model to MINDIR, ONNX or AIR.

    python export.py --ckpt_path CKPT --file_format MINDIR|ONNX|AIR [--batch_size 1] [--input_size 640,640]
                     [--file_name NAME] [--config_path configs/centernet_pose.yaml]     # the old zoo's --ckpt_file too

BatchNorm is folded first. The exported model takes the model's network input (CenterFace: RGB 0..255 NCHW;
CenterNet pose and detection: BGR (x/255 - mean)/std NCHW) and returns its heads in order (the task's `heads`;
README, each model's section). An ONNX graph names them as the task says (`input_name`, `output_names`: CenterFace
the official input.1 and 537..540, CenterNet "input" and the head names).
"""
from pathlib import Path

import numpy as np  # noqa: F401  (keeps numpy's import ahead of MindSpore's)

from src.model_utils.cli import require, run
from src.model_utils.config import ConfigError, parse_config
from src.model_utils.moxing_adapter import moxing_wrapper
from src.tasks import get_task


def main(argv=None):
    cfg = parse_config(argv, description=__doc__, script="export")
    task = get_task(cfg)

    def into_output_path():  # ModelArts uploads output_path: the exported file goes there (as the zoo's export)
        cfg.file_name = str(Path(cfg.output_path) / (cfg.file_name or task.name))

    return moxing_wrapper(cfg, pre_process=into_output_path)(export)(task, cfg)


def export(task, cfg):
    require(cfg, "ckpt_path", hint="the checkpoint to export (also --ckpt_file)")
    if len(cfg.input_size) != 2:
        raise ConfigError(f"--input_size {cfg.input_size}: export needs a fixed H,W")
    task.check_export(cfg.file_format)
    from src.model_utils.device import init_device

    init_device(cfg.device_target, cfg.device_id, cfg.mode)
    from src.export_utils import export_network
    from src.inference.model import load_network

    network = load_network(task, cfg.ckpt_path)
    height, width = cfg.input_size
    shape = (cfg.batch_size, 3, height, width)
    path = export_network(network, cfg.file_name or task.name, cfg.file_format, shape, cfg.device_target,
                          names=(task.input_name, task.output_names), fold_bn=False, dynamic=cfg.onnx_dynamic)
    print(f"exported {cfg.ckpt_path} -> {path} (input {'x'.join(map(str, shape))}, {task.name})")
    return 0


if __name__ == "__main__":
    run(main)
