"""Training hooks: one job each, called by the epoch loop (`src.engine.loop`) at fixed points (`base.HookBase`)."""
from src.engine.hooks.base import HookBase
from src.engine.hooks.checkpointer import CheckpointHook
from src.engine.hooks.history import HISTORY_CSV, HISTORY_JSON, LOSS_CURVE_PNG, HistoryHook, plot_loss_curve
from src.engine.hooks.step_log import LOG_FORMATS, StepLogHook

__all__ = ["HISTORY_CSV", "HISTORY_JSON", "LOG_FORMATS", "LOSS_CURVE_PNG", "CheckpointHook", "HistoryHook", "HookBase",
           "StepLogHook", "plot_loss_curve"]
