"""Test CenterFace checkpoints on the WIDER FACE validation images; writes WIDER-format result files.

    python test.py --ckpt_path CKPT_OR_DIR --data_dir WIDER_val/images --ground_truth_path GT_DIR
                   [--start E1 --end E2] [--save_dir ./outputs/test] [--multi_scale True] [--flip_test True]
                   [--nms soft_gaussian] [--test_input_size 832,832] [--device_target CPU --device_id 0]

`--ckpt_path` is one checkpoint or a folder of `0-{epoch}_{step}.ckpt` files, of which the epochs
`start..end` are tested (end -1: up to the last). Images are `<data_dir>/<event>/<name>.jpg`, listed by the
ground-truth `wider_face_val.mat` (`--ground_truth_path`: its folder or the file). Default: the old zoo's
single scale, each image fitted into 832x832 at scale 0.999; `--test_input_size ""` uses the original size.
Per checkpoint: `<save_dir>/<ckpt stem>/<event>/<stem>.txt` (stem, count, `x y w h score` by score) and
`.json` (boxes, scores, 5 landmarks), plus test_info.json and config.yaml. Evaluate with scripts/eval.sh or
eval.py. Exit code 0 when every image was processed, 1 when some could not be read.
"""
from src.model_utils.cli import run
from src.model_utils.config import ConfigError, parse_config, save_config


def main(argv=None):
    cfg = parse_config(argv, description=__doc__)
    for key in ("ckpt_path", "data_dir", "ground_truth_path"):
        if not getattr(cfg, key):
            raise ConfigError(f"--{key} is required (see `python test.py --help`)")
    from src.evaluation.wider_test import (CenterFaceRunner, InferenceOptions, infer_images, list_wider_images,
                                           plan_passes, result_dir, select_checkpoints)

    options = InferenceOptions.from_config(cfg)
    checkpoints = select_checkpoints(cfg.ckpt_path, cfg.start, cfg.end)
    images = list_wider_images(cfg.data_dir, cfg.ground_truth_path)

    from src.model_utils.device import init_device

    init_device(cfg.device_target, cfg.device_id, cfg.mode)
    runner = CenterFaceRunner(cfg.neck_width, cfg.activation, dynamic_shape=options.shapes_vary,
                              cpu_kernels=cfg.cpu_kernels)
    summaries = []
    for ckpt in checkpoints:
        runner.load(ckpt)
        out_dir = result_dir(cfg.save_dir, ckpt)
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out_dir)
        summary = infer_images(runner, images, options, out_dir, checkpoint=str(ckpt))
        summaries.append(summary)
        print(summary.line(), flush=True)
    failed = sum(len(s.failed) for s in summaries)
    print(f"test: {len(summaries)} checkpoint(s) x {len(images)} images, {len(plan_passes(options))} pass(es) "
          f"per image -> {cfg.save_dir}" + (f"; {failed} unreadable image(s), see the log" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    run(main)
