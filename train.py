"""Train CenterFace on one device or data-parallel on many (see scripts/train_*.sh).

    python train.py --train_json train.json --train_image_dir images/ --output_path outputs/run1 \
        [--device_target CPU|GPU|Ascend] [--is_distributed True] [--resume True] [--pretrained CKPT] ...
"""
from src.model_utils.cli import run
from src.model_utils.config import parse_config


def main(argv=None):
    cfg = parse_config(argv, description=__doc__)
    from src.train_centerface import check_inputs

    check_inputs(cfg)  # before MindSpore loads: bad paths fail in a fraction of a second
    from src.model_utils.device import init_device

    device = init_device(cfg.device_target, cfg.device_id, cfg.mode, cfg.is_distributed, cfg.seed)
    from src.train_centerface import run as train_run

    train_run(cfg, device)
    return 0


if __name__ == "__main__":
    run(main)
