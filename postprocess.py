"""Offline (Ascend 310) inference, last step: output .bin files -> detections -> result files -> metrics.

    python postprocess.py --preprocess_path ./outputs/infer_310/preprocess --result_path ./outputs/infer_310/result
                          --output_path ./outputs/infer_310/pred [--ground_truth_path GT_DIR]

For every meta file of preprocess.py, reads `<result_path>/<name>_<k>.bin` (the model's heads in order),
decodes them with the stored affine exactly as test.py does (same `score_thresh`, `top_k`, `nms`, `nms_iou`,
`soft_sigma` of the test settings) and writes the model's result files into `output_path` (CenterFace: WIDER
files; CenterNet: the COCO results json). When the evaluation's ground truth is given
(`--ground_truth_path`, or `--data_dir` with COCO annotations) it then prints the metrics. Exit code 0 when
every image was decoded, 1 when some outputs were missing or malformed.
"""
import logging

from src.model_utils.cli import EXIT_PARTIAL, require, run
from src.model_utils.config import parse_config
from src.tasks import get_task

LOG = logging.getLogger(__name__)


def main(argv=None):
    cfg = parse_config(argv, description=__doc__, script="postprocess")
    task = get_task(cfg)
    require(cfg, "preprocess_path", "result_path", "output_path")
    from tqdm import tqdm

    from src.evaluation.offline_io import list_meta_files, read_heads, read_meta
    from src.io_utils import claim_output_folder

    options = task.inference_options("test")
    eval_set = task.eval_set(need_images=False)
    meta_files = list_meta_files(cfg.preprocess_path)
    out_dir = claim_output_folder(cfg.output_path, "postprocess.py")
    writer = eval_set.writer(out_dir)
    failed, found = [], 0
    for meta_file in tqdm(meta_files, desc="postprocess", unit="img"):
        image, meta = read_meta(meta_file)
        try:
            outputs = read_heads(cfg.result_path, image.key, meta.input_hw, task.heads, task.output_stride)
        except (FileNotFoundError, ValueError) as err:
            LOG.error("%s; skipped", err)
            failed.append(image.key)
            continue
        dets = task.merge([task.decode(outputs, meta, options)], options)
        writer.add(image, dets, meta.orig_hw)
        found += len(dets)
    writer.close()
    print(f"postprocess: {len(meta_files) - len(failed)}/{len(meta_files)} images, {found} detections -> "
          f"{out_dir}" + (f"; {len(failed)} without valid outputs (e.g. {failed[0]})" if failed else ""), flush=True)
    if eval_set.can_evaluate:
        eval_set.evaluate(out_dir)
    return EXIT_PARTIAL if failed else 0


if __name__ == "__main__":
    run(main)
