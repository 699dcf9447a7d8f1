"""The contract every registered task keeps with the shared machinery (src/tasks/base.py), run over the registry.

For each name of `src.tasks.task_names()`, from the task's shipped config at a small size: its own synthetic data
(`Task.synthetic_dataset`), one real training step as the engine takes it (network + loss + optimizer through
`src.engine.train_step.TrainStep`, checkpoint written by `src.engine.checkpoint`), then predict.py's path
(`InferenceModel`, `Task.detect`, `to_json`, `draw`), test.py's (`run_eval_set` with the task's eval set and
writer) and eval.py's (`evaluate`, `headline_aps`), and export.py's (`load_network` + `export_network` to MINDIR,
loaded back by MindSpore and run). A model is covered by registering it: nothing here names one.

The numbers are only checked for being what they claim (a finite loss, APs in [0, 1], the exported graph
computing the network): one step does not teach a network anything.
"""
import json
import logging
import math

import numpy as np
import pytest

import mindspore as ms

from src.model_utils.config import parse_config
from src.tasks import get_task, task_config_path, task_names

SIZE = 128  # input side: divisible by 32 (every network's total stride) and small enough for 2 CPU cores
BATCH = 2
SMALL = ["--train_size", f"{SIZE},{SIZE}", "--input_size", f"{SIZE},{SIZE}", "--batch_size", str(BATCH),
         "--device_target", "CPU", "--num_workers", "1"]
# Exported MINDIR vs the BatchNorm-folded network it was exported from, both on CPU in one process: the same
# operators on the same weights (measured: bit-identical for both tasks). The tolerance only allows another
# execution order of oneDNN's sums (a few float32 ulps per layer, ~1e-6 of a head's range over ~100 layers); a
# wrong weight, a dropped layer or swapped outputs differ by 1e-2 of the range and more.
EXPORT_RTOL_OF_RANGE = 1e-4


def config(name, script, values=()):
    argv = ["--config_path", str(task_config_path(name)), *SMALL]
    for key, value in dict(values).items():
        argv += [f"--{key}", str(value)]
    return parse_config(argv, script=script)


@pytest.fixture(scope="module", params=task_names())
def trained(request, tmp_path_factory):
    """(name, data config values, state) after one training step of the task on its synthetic data; state holds
    the loss, components, parameters before and after and the checkpoint written."""
    from src.engine.checkpoint import save_checkpoint
    from src.engine.optim import build_optimizer, param_groups
    from src.engine.train_step import NetworkWithLoss, TrainStep, build_loss_scaler

    name = request.param
    root = tmp_path_factory.mktemp(name)
    data = get_task(config(name, "train")).synthetic_dataset(root / "data", num_train=BATCH, num_val=2,
                                                             image_size=SIZE, seed=3)
    cfg = config(name, "train", data)
    task = get_task(cfg)
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)  # one step: eager beats compiling the training graph
    try:
        ms.set_seed(cfg.seed)
        network = task.build_network()
        source = task.training_source(logging.getLogger("contract"))
        source.set_epoch(0)
        samples = [source[i] for i in range(BATCH)]
        batch = [ms.Tensor(np.stack(arrays)) for arrays in zip(*samples)]
        optimizer = build_optimizer(cfg.optimizer, param_groups(network, cfg.weight_decay), cfg.lr,
                                    weight_decay=cfg.weight_decay, momentum=cfg.momentum, eps=cfg.adam_eps)
        before = {p.name: p.asnumpy().copy() for p in optimizer.parameters}
        loss_fn = task.build_loss()
        outputs = network(batch[0])
        # d total / d each head's output: a head the loss does not read gets exactly zero
        head_grads = ms.grad(lambda *heads: loss_fn(*heads, *batch[1:])[0], tuple(range(len(outputs))))(*outputs)
        head_gradients = {name: float(np.abs(g.asnumpy()).max()) for name, g in zip(task.head_names, head_grads)}
        with_loss = NetworkWithLoss(network, loss_fn)
        grad_fn = ms.value_and_grad(lambda *inputs: with_loss(*inputs)[0], None, optimizer.parameters)
        gradients = {p.name: float(np.abs(g.asnumpy()).max())
                     for p, g in zip(optimizer.parameters, grad_fn(*batch)[1])}
        step = TrainStep(with_loss, optimizer,
                         build_loss_scaler(cfg.loss_scale_mode, cfg.loss_scale), jit=False)
        loss, overflow, _, components = step(*batch)
        after = {p.name: p.asnumpy().copy() for p in optimizer.parameters}
        ckpt = save_checkpoint(root / "ckpt", network, epoch=1, step_in_epoch=1, global_step=1,
                               extra={"model": task.name})
    finally:
        ms.set_context(mode=previous)
    state = {"loss": float(loss.asnumpy()), "overflow": bool(overflow.asnumpy()),
             "components": [float(c.asnumpy()) for c in components], "gradients": gradients,
             "head_gradients": head_gradients, "before": before, "after": after,
             "ckpt": ckpt, "root": root, "num_samples": len(source)}
    return name, data, state


def test_one_training_step_learns(trained):
    name, _, state = trained
    task = get_task(config(name, "train"))
    assert state["num_samples"] == BATCH
    assert math.isfinite(state["loss"]) and state["loss"] > 0, state["loss"]
    assert not state["overflow"]
    assert len(state["components"]) == len(task.loss_components)
    assert all(math.isfinite(c) for c in state["components"]), state["components"]
    heads = state["head_gradients"]
    assert all(g > 0 for g in heads.values()), f"{name}: heads the loss does not read (zero gradient): {heads}"
    # Adam moves a parameter by ~lr * g / (|g| + 1e-8) on its first update: every parameter whose gradient is
    # well above that epsilon must have moved. Smaller gradients are common at random initialisation with a batch
    # of 2 (measured for CenterFace at 128 px: 1e-13..1e-7 in the stride-16/32 stages, where training-mode
    # BatchNorm nearly cancels them) and their step can vanish in float32, so they are not asked to move.
    moving = [n for n, g in state["gradients"].items() if g > 1e-6]
    unchanged = [n for n in moving if np.array_equal(state["before"][n], state["after"][n])]
    assert moving and not unchanged, f"{name}: {len(unchanged)} of {len(moving)} not updated: {unchanged[:5]}"

def test_predict_decodes_writes_and_draws(trained):
    from src.data.image_io import read_image
    from src.inference.model import InferenceModel

    name, data, state = trained
    task = get_task(config(name, "predict", {**data, "score_thresh": 0.0, "top_k": 5}))
    options = task.inference_options("predict")
    model = InferenceModel(task, dynamic_shape=options.shapes_vary)
    model.load(state["ckpt"])
    image_info = task.eval_set().images[0]
    image = read_image(image_info.path)
    dets = task.detect(model, image, options)
    # score_thresh 0: every peak counts, so some are found (the NMS may merge some of the 5 best)
    assert 1 <= len(dets) <= 5
    assert np.all(np.diff(dets.scores) <= 0) and np.all((dets.scores >= 0) & (dets.scores <= 1))
    assert np.all(np.isfinite(dets.boxes)) and np.all(dets.boxes[:, 2:] >= dets.boxes[:, :2])
    assert dets.keypoints.shape == (len(dets), task.keypoints.num_points, 2)
    record = json.loads(json.dumps(task.to_json(dets, image_info.path.name)))  # JSON as predict.py writes it
    assert record["image"] == image_info.path.name
    assert [d["score"] for d in record["detections"]] == pytest.approx(dets.scores.tolist())
    drawn = task.draw(image, dets)
    # the image, possibly enlarged by an integer factor so that labels stay readable on small images
    factor = drawn.shape[0] // image.shape[0]
    assert factor >= 1 and drawn.shape == (image.shape[0] * factor, image.shape[1] * factor, 3)
    assert drawn.dtype == image.dtype
    assert not np.array_equal(drawn[::factor, ::factor], image)  # something was drawn

def test_test_writes_results_that_evaluate(trained, capsys):
    from src.evaluation.eval_set import run_eval_set
    from src.inference.model import InferenceModel

    name, data, state = trained
    task = get_task(config(name, "test", data))
    options = task.inference_options("test")
    model = InferenceModel(task, dynamic_shape=options.shapes_vary)
    model.load(state["ckpt"])
    eval_set = task.eval_set()
    assert eval_set.can_evaluate
    out = state["root"] / "test"
    summary = run_eval_set(task, model, eval_set, options, out, checkpoint=state["ckpt"], progress=False)
    assert summary.images == len(eval_set.images) == 2 and not summary.failed
    aps = task.headline_aps(task.eval_set(need_images=False).evaluate(out))
    assert aps, name
    for ap_name, value in aps.items():
        assert 0.0 <= value <= 1.0, f"{name} {ap_name}: {value}"


def test_export_round_trip(trained):
    from src.export_utils import export_network
    from src.inference.model import load_network

    name, data, state = trained
    task = get_task(config(name, "export", data))
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        network = load_network(task, state["ckpt"])  # export.py's sequence: BatchNorm folded, inference mode
        shape = (1, 3, SIZE, SIZE)
        path = export_network(network, str(state["root"] / "export" / task.name), "MINDIR", shape,
                              names=(task.input_name, task.output_names), fold_bn=False)
        batch = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32) * 128
        want = network(ms.Tensor(batch))
        got = ms.nn.GraphCell(ms.load(str(path)))(ms.Tensor(batch))
    finally:
        ms.set_context(mode=previous)
    assert len(got) == len(want) == len(task.heads)
    for (head, channels), g, w in zip(task.heads, got, want):
        g, w = g.asnumpy(), w.asnumpy()
        assert w.shape == (1, channels, SIZE // task.output_stride, SIZE // task.output_stride), head
        assert g.shape == w.shape, head
        scale = float(np.abs(w).max())
        np.testing.assert_allclose(g, w, rtol=0, atol=EXPORT_RTOL_OF_RANGE * scale, err_msg=f"{name} {head}")
