"""Export a checkpoint of the config's model to MINDIR, ONNX or AIR.

    python export.py --ckpt_file CKPT --file_format MINDIR|ONNX|AIR [--batch_size 1] [--input_h 640] [--input_w 640]
                     [--file_name NAME] [--config_path configs/centernet_pose.yaml]

BatchNorm is folded first. The exported model takes the model's network input (CenterFace: RGB 0..255 NCHW;
CenterNet: BGR (x/255 - mean)/std NCHW) and returns its heads in order (README, each model's section); ONNX names
them as the task says (CenterFace: the official names; CenterNet: "input" and the head names).
"""
import numpy as np  # noqa: F401  (keeps numpy's import ahead of MindSpore's)

from src.model_utils.cli import require, run
from src.model_utils.config import ConfigError, parse_config
from src.tasks import get_task


def main(argv=None):
    cfg = parse_config(argv, description=__doc__, script="export")
    task = get_task(cfg)
    require(cfg, "ckpt_path", hint="the checkpoint to export (also --ckpt_file)")
    if len(cfg.input_size) != 2:
        raise ConfigError(f"--input_size {cfg.input_size}: export needs a fixed H,W (or --input_h and --input_w)")
    task.check_export(cfg, cfg.file_format)
    from src.model_utils.device import init_device

    init_device(cfg.device_target, cfg.device_id, cfg.mode)
    from src.export_utils import export_network
    from src.inference.model import load_network

    network = load_network(task, cfg, cfg.ckpt_path)
    height, width = cfg.input_size
    shape = (cfg.batch_size, 3, height, width)
    path = export_network(network, cfg.file_name or task.name, cfg.file_format, shape, cfg.device_target,
                          official_names=False, fold_bn=False, dynamic=cfg.onnx_dynamic, names=task.onnx_names(cfg))
    print(f"exported {cfg.ckpt_path} -> {path} (input {'x'.join(map(str, shape))}, {task.name})")
    return 0


if __name__ == "__main__":
    run(main)
