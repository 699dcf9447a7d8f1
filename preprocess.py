"""Offline (Ascend 310) inference, step 1: WIDER val images -> network input .bin files + per-image meta.

    python preprocess.py --data_dir WIDER_val/images --ground_truth_path GT_DIR
                         --preprocess_path ./outputs/infer_310/preprocess [--test_input_size 832,832]

Each image is fitted into the fixed `test_input_size` canvas at `test_scale` exactly as test.py's single-scale
pass does, and written as `<preprocess_path>/input/<stem>.bin` (float32 1x3xHxW, raw RGB 0..255) with
`<preprocess_path>/meta/<stem>.json` holding the affine that maps original pixels to input pixels (file layout:
src/evaluation/offline_io.py). Export the MindIR with the same H and W (export.py --input_h H --input_w W
--batch_size 1). Earlier *.bin/*.json files in input/ and meta/ are removed first. Exit code 0 when every image
was written, 1 when some could not be read.
"""
import logging
from pathlib import Path

from src.model_utils.cli import run
from src.model_utils.config import ConfigError, parse_config

LOG = logging.getLogger("centerface")


def main(argv=None):
    cfg = parse_config(argv, description=__doc__)
    for key in ("data_dir", "ground_truth_path", "preprocess_path"):
        if not getattr(cfg, key):
            raise ConfigError(f"--{key} is required (see `python preprocess.py --help`)")
    from tqdm import tqdm

    from src.evaluation.offline_io import INPUT_DIR, META_DIR, check_unique_stems, write_input
    from src.evaluation.wider_test import InferenceOptions, list_wider_images, pass_input, plan_passes, read_rgb

    options = InferenceOptions.from_config(cfg)
    if options.input_size is None or options.flip or len(options.scales) > 1:
        raise ConfigError("preprocess.py: the offline chain runs one pass of a fixed-shape MindIR; set "
                          "--test_input_size H,W and leave --multi_scale and --flip_test off")
    (single_pass,) = plan_passes(options)
    images = list_wider_images(cfg.data_dir, cfg.ground_truth_path)
    check_unique_stems(images)
    root = Path(cfg.preprocess_path)
    stale = [p for sub, pattern in ((INPUT_DIR, "*.bin"), (META_DIR, "*.json")) for p in (root / sub).glob(pattern)]
    for path in stale:
        path.unlink()
    if stale:
        LOG.info("removed %d files of an earlier run from %s/{%s,%s}", len(stale), root, INPUT_DIR, META_DIR)

    failed = []
    for image_info in tqdm(images, desc="preprocess", unit="img"):
        image = read_rgb(image_info.path)
        if image is None:
            LOG.error("%s: missing or not a readable image; skipped", image_info.path)
            failed.append(image_info.path)
            continue
        chw, meta = pass_input(image, single_pass)
        write_input(root, image_info, chw, meta, extra={"fit_scale": single_pass.scale})
    done = len(images) - len(failed)
    print(f"preprocess: {done}/{len(images)} images -> {root}/{INPUT_DIR} (1x3x{options.input_size[0]}x"
          f"{options.input_size[1]} float32) and {root}/{META_DIR}"
          + (f"; {len(failed)} unreadable (e.g. {failed[0]})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    run(main)
