"""A stand-in for the epoch loop's state that a hook reads (`hook.trainer`), so each hook is tested alone."""
import logging
from types import SimpleNamespace

import pytest


class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture()
def fake_trainer(tmp_path, request):
    """A loop state of 4 steps per epoch, 2 epochs, rank 0, an empty history, a logger whose lines are kept in
    `.lines`; attach hooks with `fake_trainer.attach(hook, ...)`."""
    logger = logging.getLogger(f"fake_trainer.{request.node.name}")
    logger.handlers, logger.propagate = [], False
    logger.setLevel(logging.INFO)
    handler = ListHandler()
    logger.addHandler(handler)
    state = SimpleNamespace(steps_per_epoch=4, epochs=2, rank=0, global_step=0, logger=logger, lines=handler.lines,
                            output_dir=tmp_path, hooks=[],
                            history={"global_step": [], "epoch": [], "iter": [], "loss": [], "overflow": [],
                                     "loss_scale": [], "components": {}})

    def attach(*hooks):
        for hook in hooks:
            hook.trainer = state
            state.hooks.append(hook)
        return hooks[0]

    state.attach = attach
    return state
