"""Model-agnostic MindSpore 2.x training machinery: optimizer groups, lr schedules, functional train step
with loss scaling, atomic checkpoints with resume, logger and the epoch-loop Trainer."""
