"""Evaluate the model of the config: a result folder of test.py (`--pred_dir`), or checkpoints run first.

    python eval.py --pred_dir outputs/test/0-140_1610 --ground_truth_path GT_DIR [--eval_iou 0.5]  # CenterFace
    python eval.py --pred PRED_DIR --gt GT_DIR [--eval_iou 0.5]                                   # zoo flags
    python eval.py --config_path configs/centernet_pose.yaml --data_dir COCO_DIR --run_mode val \\
                   --load_checkpoint_path CKPT [--visual_image True --save_result_dir DIR]        # pose (seed)
    python eval.py --config_path configs/centernet_det.yaml --data_dir COCO_DIR --run_mode val \\
                   --load_checkpoint_path CKPT [--flip_test True]                                  # detection

With `--pred_dir` the results are evaluated as they are; otherwise `--ckpt_path` (a checkpoint or a folder
of epoch checkpoints, `--start/--end`) is run over the evaluation set first, as test.py, and each result
folder is evaluated. CenterFace prints the three `Easy/Medium/Hard Val AP` lines (official WIDER algorithm);
CenterNet pose pycocotools' keypoint and bbox tables; CenterNet detection the bbox table over all categories. Exit
code: see README "Exit codes and outputs".
"""
from src.model_utils.cli import EXIT_PARTIAL, run
from src.model_utils.config import parse_config
from src.model_utils.moxing_adapter import moxing_wrapper
from src.tasks import get_task


def main(argv=None):
    cfg = parse_config(argv, description=__doc__, script="eval")
    return moxing_wrapper(cfg)(evaluate)(get_task(cfg), cfg)  # ModelArts: data and checkpoints in, results out


def evaluate(task, cfg):
    from src.evaluation.sweep import evaluate_results, test_checkpoints

    if cfg.pred_dir:
        evaluate_results(task, cfg, cfg.pred_dir)
        return 0
    summaries = test_checkpoints(task, cfg, script="eval.py")
    for summary in summaries:
        evaluate_results(task, cfg, summary.out_dir)
    return EXIT_PARTIAL if any(s.failed for s in summaries) else 0


if __name__ == "__main__":
    run(main)
