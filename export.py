"""Export a CenterFace checkpoint to MINDIR, ONNX or AIR.

    python export.py --ckpt_file CKPT --file_format MINDIR|ONNX|AIR --batch_size 1 --input_h 640 --input_w 640
                     --file_name centerface
"""
import numpy as np  # noqa: F401  (keeps numpy's import ahead of MindSpore's)

from src.model_utils.cli import run
from src.model_utils.config import ConfigError, parse_config


def main(argv=None):
    cfg = parse_config(argv, description=__doc__, script_defaults={"batch_size": 1})
    if not cfg.ckpt_file:
        raise ConfigError("--ckpt_file is required")
    from src.model_utils.device import init_device

    init_device(cfg.device_target, cfg.device_id, cfg.mode)
    from src.export_utils import export_network
    from src.engine.checkpoint import load_weights
    from src.models.centerface import CenterFace

    network = CenterFace(cfg.neck_width, cfg.activation, cfg.heatmap_prior)
    load_weights(network, cfg.ckpt_file, strict=True)
    path = export_network(network, cfg.file_name, cfg.file_format,
                          (cfg.batch_size, 3, cfg.input_h, cfg.input_w), cfg.device_target, cfg.official_names)
    print(f"exported {cfg.ckpt_file} -> {path} (input {cfg.batch_size}x3x{cfg.input_h}x{cfg.input_w}, RGB 0..255)")
    return 0


if __name__ == "__main__":
    run(main)
