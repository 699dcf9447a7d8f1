"""Offline (Ascend 310) inference, step 1: evaluation images -> network input .bin files + per-image meta.

    python preprocess.py --data_dir DIR [--ground_truth_path GT_DIR] --preprocess_path ./outputs/infer_310/preprocess
                         [--input_size 832,832] [--config_path configs/centernet_pose.yaml]

Each image of the model's evaluation set (CenterFace: WIDER val; CenterNet pose: COCO val) becomes the input of
test.py's single-scale pass at the fixed `input_size`: `<preprocess_path>/input/<name>.bin` (float32 1x3xHxW,
the model's normalisation) and `<preprocess_path>/meta/<name>.json` (the affine back to the original image;
src/evaluation/offline_io.py). Export the MindIR with the same H and W (export.py --input_size H,W
--batch_size 1). The folder holds one run: an earlier preprocess.py run there is replaced. Exit code 0 when
every image was written, 1 when some could not be read.
"""
import logging

from src.model_utils.cli import EXIT_PARTIAL, require, run
from src.model_utils.config import ConfigError, parse_config
from src.tasks import get_task

LOG = logging.getLogger(__name__)


def main(argv=None):
    cfg = parse_config(argv, description=__doc__, script="preprocess")
    task = get_task(cfg)
    require(cfg, "preprocess_path")
    from tqdm import tqdm

    from src.data.image_io import read_image
    from src.evaluation.offline_io import INPUT_DIR, META_DIR, check_unique_keys, write_input
    from src.inference.passes import plan_passes
    from src.io_utils import claim_output_folder

    options = task.inference_options("test")
    if options.input_size is None or options.flip or len(options.scales) > 1:
        raise ConfigError("preprocess.py: the offline chain runs one pass of a fixed-shape MindIR: a fixed "
                          "--input_size H,W (CenterNet: --keep_res False), one test scale and --flip_test False")
    (single_pass,) = plan_passes(options, task.flip_in_batch)
    images = task.eval_set().images
    check_unique_keys(images)
    root = claim_output_folder(cfg.preprocess_path, "preprocess.py", inputs=[image.path for image in images])

    failed = []
    for image_info in tqdm(images, desc="preprocess", unit="img"):
        image = read_image(image_info.path)
        if image is None:
            LOG.error("%s: missing, truncated or not a readable image; skipped", image_info.path)
            failed.append(image_info.path)
            continue
        chw, meta = task.make_input(image, single_pass, options)
        write_input(root, image_info, chw, meta, extra={"fit_scale": single_pass.scale})
    done = len(images) - len(failed)
    print(f"preprocess: {done}/{len(images)} images -> {root}/{INPUT_DIR} (1x3x{options.input_size[0]}x"
          f"{options.input_size[1]} float32) and {root}/{META_DIR}"
          + (f"; {len(failed)} unreadable (e.g. {failed[0]})" if failed else ""))
    return EXIT_PARTIAL if failed else 0


if __name__ == "__main__":
    run(main)
