"""Detect faces and their 5 landmarks in an image or a folder of images.

    python predict.py --ckpt CKPT --image PATH_OR_DIR --out_dir DIR [--score_thresh 0.5]

Writes DIR/<stem>.json ({"image", "detections": [{"bbox": [x1, y1, x2, y2], "score", "landmarks": [[x, y] x 5]}]},
original-image pixels, sorted by score) and DIR/<stem>.jpg with the detections drawn. By default the network
sees the original size rounded up to a multiple of 32 (as the official demo); `--input_size H,W` fixes it.
Exit code 0 when every image was processed, 1 when some could not be read.
"""
import logging
from pathlib import Path

from src.model_utils.cli import run
from src.model_utils.config import ConfigError, parse_config, save_config

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
LOG = logging.getLogger("centerface")


def list_images(path):
    path = Path(path)
    if path.is_dir():
        images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise FileNotFoundError(f"--image {path}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return images
    if path.is_file():
        return [path]
    raise FileNotFoundError(f"--image {path}: no such file or folder")


def read_rgb(path):
    """RGB uint8 image, or None when the file cannot be decoded."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def build_detector(cfg):
    """The network from `cfg` with `cfg.ckpt` loaded, wrapped as a FaceDetector."""
    from src.inference.detector import FaceDetector, mindspore_forward
    from src.engine.checkpoint import load_weights
    from src.models.centerface import CenterFace

    from src.models.fold_bn import fold_batchnorm

    network = CenterFace(cfg.neck_width, cfg.activation, cfg.heatmap_prior)
    load_weights(network, cfg.ckpt, strict=True)
    fold_batchnorm(network)  # inference only: one op less per layer
    if cfg.cpu_kernels:
        from src.models.cpu_kernels import enable_cpu_kernels

        enable_cpu_kernels(network)  # CPU only; a no-op elsewhere
    if cfg.input_size and len(cfg.input_size) != 2:
        raise ConfigError(f"--input_size: expected H,W, got {cfg.input_size}")
    return FaceDetector(mindspore_forward(network), input_size=cfg.input_size or None,
                        score_thresh=cfg.score_thresh, top_k=cfg.top_k, nms=cfg.nms, nms_iou=cfg.nms_iou)


def main(argv=None):
    cfg = parse_config(argv, description=__doc__)
    if not cfg.ckpt:
        raise ConfigError("--ckpt is required (a CenterFace checkpoint, e.g. from src/convert_weight_centerface.py)")
    if not cfg.image:
        raise ConfigError("--image is required (an image file or a folder)")
    images = list_images(cfg.image)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out_dir)

    from tqdm import tqdm

    from src.model_utils.device import init_device

    init_device(cfg.device_target, cfg.device_id, cfg.mode)
    detector = build_detector(cfg)
    from src.inference.decode import detections_to_json
    from src.inference.draw import draw_detections, save_image
    from src.io_utils import write_json_atomic

    failed, faces = [], 0
    for path in tqdm(images, desc="predict", unit="img", disable=len(images) == 1):
        image = read_rgb(path)
        if image is None:
            LOG.error("%s: cannot be read as an image; skipped", path)
            failed.append(path)
            continue
        dets = detector(image)
        faces += len(dets)
        write_json_atomic(out_dir / f"{path.stem}.json", detections_to_json(dets, path.name), indent=1)
        save_image(out_dir / f"{path.stem}.jpg", draw_detections(image, dets))
        if len(images) == 1:
            for box, score in zip(dets.boxes, dets.scores):
                print(f"  face score {score:.3f} box [{', '.join(f'{v:.1f}' for v in box)}]")
    done = len(images) - len(failed)
    print(f"predict: {done}/{len(images)} images, {faces} faces (score >= {cfg.score_thresh}) -> {out_dir}"
          + (f"; {len(failed)} unreadable: {', '.join(p.name for p in failed[:5])}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    run(main)
