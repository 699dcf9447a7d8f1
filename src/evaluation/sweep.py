"""test.py and eval.py for any task: run checkpoints over the task's evaluation set, then evaluate results.

    summaries = test_checkpoints(task, cfg)   # one result folder per checkpoint: <output_path>/<ckpt stem>/
    evaluate_results(task, cfg, folder)       # the task's metrics of one result folder

The network is built once; each checkpoint's weights are swapped into it (`InferenceModel.load`), so a sweep
over many checkpoints compiles the graph once per input shape, not once per checkpoint. Each result folder
describes one run only (`claim_output_folder`): re-testing a checkpoint replaces its earlier results.
"""
import logging
from pathlib import Path

from src.evaluation.checkpoints import result_dir, select_checkpoints
from src.evaluation.eval_set import run_eval_set
from src.io_utils import claim_output_folder
from src.model_utils.cli import require
from src.model_utils.config import save_config

LOG = logging.getLogger(__name__)

__all__ = ["test_checkpoints", "evaluate_results"]


def test_checkpoints(task, cfg, script="test.py", progress=True):
    """Run every selected checkpoint (`ckpt_path`, epochs `start..end`) over the task's evaluation set with
    the "test" inference options; returns the CheckpointSummary list (each printed as it finishes)."""
    require(cfg, "ckpt_path", hint="a checkpoint or a folder of 0-{epoch}_{step}.ckpt files")
    options = task.inference_options("test")
    checkpoints = select_checkpoints(cfg.ckpt_path, cfg.start, cfg.end)
    eval_set = task.eval_set()
    images = eval_set.images
    folders = [result_dir(cfg.output_path, ckpt) for ckpt in checkpoints]
    for folder in folders:  # before any work: a folder that cannot be used stops the run at once
        claim_output_folder(folder, script, inputs=[image.path for image in images])

    from src.inference.model import InferenceModel
    from src.model_utils.device import init_device

    init_device(cfg.device_target, cfg.device_id, cfg.mode)
    model = InferenceModel(task, dynamic_shape=options.shapes_vary)
    from src.inference.passes import plan_passes

    print(f"test: {len(checkpoints)} checkpoint(s) x {len(images)} images, "
          f"{len(plan_passes(options, task.flip_in_batch))} pass(es) per image -> {cfg.output_path}", flush=True)
    summaries = []
    for ckpt, folder in zip(checkpoints, folders):
        model.load(ckpt)
        save_config(cfg, folder)
        summary = run_eval_set(task, model, eval_set, options, folder, checkpoint=str(ckpt), progress=progress)
        summaries.append(summary)
        print(summary.line(), flush=True)
    return summaries


def evaluate_results(task, cfg, folder):
    """The task's metrics of one result folder (printed by the task's evaluator)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"result folder {folder}: no such folder (run test.py first)")
    return task.eval_set(need_images=False).evaluate(folder)
