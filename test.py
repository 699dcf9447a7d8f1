"""Test checkpoints on the model's evaluation set and write its result files (CenterFace: WIDER FACE val;
CenterNet pose: COCO val keypoints, with `--config_path configs/centernet_pose.yaml`; CenterNet detection: COCO val
boxes, with `--config_path configs/centernet_det.yaml`).

    python test.py --ckpt_path CKPT_OR_DIR --data_dir DIR [--ground_truth_path GT_DIR] [--start E1 --end E2]
                   [--output_path ./outputs/test] [--multi_scale True] [--flip_test True] [--nms soft_gaussian]
                   [--input_size 832,832] [--device_target CPU --device_id 0]

`--ckpt_path` is one checkpoint or a folder of `0-{epoch}_{step}.ckpt` files, of which the epochs
`start..end` are tested (end -1: up to the last). Results per checkpoint: `<output_path>/<ckpt stem>/`
(the model's result files, test_info.json, config.yaml); evaluate them with eval.py (`--pred_dir`) or the
scripts. Exit code 0 when every image was processed, 1 when some could not be read (README "Exit codes and outputs").
"""
from src.model_utils.cli import EXIT_PARTIAL, run
from src.model_utils.config import parse_config
from src.model_utils.moxing_adapter import moxing_wrapper
from src.tasks import get_task


def main(argv=None):
    cfg = parse_config(argv, description=__doc__, script="test")
    return moxing_wrapper(cfg)(run_tests)(cfg)  # ModelArts: data and checkpoints in, results out


def run_tests(cfg):
    from src.evaluation.sweep import test_checkpoints

    summaries = test_checkpoints(get_task(cfg), cfg)
    failed = sum(len(s.failed) for s in summaries)
    print(f"test: done, {len(summaries)} checkpoint(s) -> {cfg.output_path}"
          + (f"; {failed} unreadable image(s), see the log" if failed else ""))
    return EXIT_PARTIAL if failed else 0


if __name__ == "__main__":
    run(main)
