"""Detect objects in an image or a folder of images with the model of the config (CenterFace by default).

    python predict.py [--config_path configs/centernet_det.yaml] --ckpt_path CKPT --image PATH_OR_DIR
                      --output_path DIR [--score_thresh 0.5] [--input_size H,W]

(The old zoos' `--ckpt_file`, `--load_checkpoint_path` and `--save_dir` are accepted too.) Writes DIR/<name>.json
(the model's record: boxes, scores and landmarks, keypoints or classes in original-image pixels, sorted by score)
and DIR/<name>.jpg with the detections drawn; for a folder, each result keeps the image's path relative to the
folder. Exit code 0 when every image was processed, 1 when some could not be read (see README "Exit codes and outputs").
"""
import logging
import time
from pathlib import Path

from src.model_utils.cli import EXIT_PARTIAL, require, run
from src.model_utils.config import parse_config, save_config
from src.tasks import get_task

LOG = logging.getLogger(__name__)


def output_names(images, root):
    """Output stem (without suffix) of each image: its path relative to the input folder, the suffix dropped;
    two images of one folder sharing a stem (photo.jpg, photo.png) keep their suffix apart (photo_jpg)."""
    root = Path(root)
    relative = [p.relative_to(root) if root.is_dir() else Path(p.name) for p in images]
    stems = [r.with_suffix("") for r in relative]
    clashes = {s for s in stems if stems.count(s) > 1}
    return [r.parent / f"{r.stem}_{r.suffix.lstrip('.').lower()}" if s in clashes else s
            for r, s in zip(relative, stems)]


def main(argv=None):
    start = time.perf_counter()
    cfg = parse_config(argv, description=__doc__, script="predict")
    task = get_task(cfg)
    require(cfg, "ckpt_path", hint=f"a {task.name} checkpoint")
    require(cfg, "image", hint="an image file or a folder")
    from src.data.image_io import list_images, read_image
    from src.io_utils import claim_output_folder, write_json_atomic

    # An output folder inside the input folder is left out of the walk; one that is the input folder (or holds
    # it) is not, so that claim_output_folder refuses it by name instead of the walk finding no image.
    inside = Path(cfg.image).resolve() in Path(cfg.output_path).resolve().parents
    images = list_images(cfg.image, exclude=cfg.output_path if inside else None)
    names = output_names(images, cfg.image)
    out_dir = claim_output_folder(cfg.output_path, "predict.py", inputs=images)
    save_config(cfg, out_dir)
    options = task.inference_options("predict")

    from tqdm import tqdm

    from src.model_utils.device import init_device

    init_device(cfg.device_target, cfg.device_id, cfg.mode)
    from src.inference.draw import save_image
    from src.inference.model import InferenceModel

    model = InferenceModel(task, dynamic_shape=options.shapes_vary)  # one graph for images of any size
    model.load(cfg.ckpt_path)
    failed, found = [], 0
    for path, name in tqdm(list(zip(images, names)), desc="predict", unit="img", disable=len(images) == 1):
        image = read_image(path)
        if image is None:
            LOG.error("%s: cannot be read as an image (missing, truncated or another format); skipped", path)
            failed.append(path)
            continue
        dets = task.detect(model, image, options)
        found += len(dets)
        record = task.to_json(dets, path.name)
        write_json_atomic(out_dir / f"{name}.json", record, indent=1)
        save_image(out_dir / f"{name}.jpg", task.draw(image, dets))
        if len(images) == 1:
            for det in record["detections"]:
                label = f" {det['label']}" if "label" in det else ""
                box = ", ".join(f"{v:.1f}" for v in det["bbox"])
                print(f"  {task.name}{label} score {det['score']:.3f} box [{box}]")
    done, seconds = len(images) - len(failed), time.perf_counter() - start
    # the elapsed time counts the set-up (network build and graph compilation) too: what the user waited
    print(f"predict: {done}/{len(images)} images, {found} detections (score >= {options.score_thresh}) in "
          f"{seconds:.1f} s ({done / seconds:.2f} images/s with set-up and compilation) -> {out_dir}"
          + (f"; {len(failed)} unreadable: {', '.join(p.name for p in failed[:5])}" if failed else ""))
    return EXIT_PARTIAL if failed else 0


if __name__ == "__main__":
    run(main)
