"""Offline (Ascend 310) inference, last step: output .bin files -> detections -> WIDER files -> AP.

    python postprocess.py --preprocess_path ./outputs/infer_310/preprocess --result_path ./outputs/infer_310/result
                          --save_dir ./outputs/infer_310/pred [--ground_truth_path GT_DIR]

For every meta file of preprocess.py, reads `<result_path>/<stem>_0.bin .. _3.bin` (heatmap, scale, offset,
landmarks), decodes them with the stored affine exactly as test.py does (same `test_score_thresh`,
`test_top_k`, `nms`, `nms_iou`, `soft_sigma`), and writes `<save_dir>/<event>/<stem>.txt` (WIDER format) and
`.json` (with landmarks). With `--ground_truth_path` it then prints the three `Easy/Medium/Hard Val AP` lines.
Exit code 0 when every image was decoded, 1 when some outputs were missing or malformed.
"""
import logging

from src.model_utils.cli import run
from src.model_utils.config import ConfigError, parse_config

LOG = logging.getLogger("centerface")


def main(argv=None):
    cfg = parse_config(argv, description=__doc__)
    for key in ("preprocess_path", "result_path", "save_dir"):
        if not getattr(cfg, key):
            raise ConfigError(f"--{key} is required (see `python postprocess.py --help`)")
    from tqdm import tqdm

    from src.evaluation.offline_io import list_meta_files, read_heads, read_meta
    from src.evaluation.wider_test import InferenceOptions, merge_passes, pass_detections, resolve_gt_dir, \
        write_results

    options = InferenceOptions.from_config(cfg)
    gt_dir = resolve_gt_dir(cfg.ground_truth_path) if cfg.ground_truth_path else None
    failed, faces = [], 0
    meta_files = list_meta_files(cfg.preprocess_path)
    for meta_file in tqdm(meta_files, desc="postprocess", unit="img"):
        image, meta = read_meta(meta_file)
        try:
            heads = read_heads(cfg.result_path, image.stem, meta.input_hw)
        except (FileNotFoundError, ValueError) as err:
            LOG.error("%s; skipped", err)
            failed.append(image.stem)
            continue
        dets = merge_passes([pass_detections([h[0] for h in heads], meta, options)], options)
        write_results(cfg.save_dir, image, dets, meta.orig_hw)
        faces += len(dets)
    print(f"postprocess: {len(meta_files) - len(failed)}/{len(meta_files)} images, {faces} faces -> {cfg.save_dir}"
          + (f"; {len(failed)} without valid outputs (e.g. {failed[0]})" if failed else ""), flush=True)
    if gt_dir is not None:
        from dependency.evaluate.eval import evaluate, format_aps

        print(format_aps(evaluate(cfg.save_dir, gt_dir)), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    run(main)
