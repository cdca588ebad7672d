"""The optimizer of a recipe section: one rule for every training stage."""

from __future__ import annotations

import keras


def make_optimizer(cfg, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The section's optimizer with its learning rate, constant or cosine-decayed to 0.

    Args:
        cfg: a recipe section with `learning_rate` and `epochs`, and
            optionally `optimizer` ("sgd" or "adam"; default adam),
            `momentum` (SGD; default 0) and `schedule` ("constant" or
            "cosine"; default constant).
        steps_per_epoch: optimizer steps in one epoch (the cosine decay spans
            all epochs).
    """
    rate = cfg.learning_rate
    if getattr(cfg, "schedule", "constant") == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, max(1, cfg.epochs * steps_per_epoch))
    if getattr(cfg, "optimizer", "adam") == "sgd":
        return keras.optimizers.SGD(rate, momentum=getattr(cfg, "momentum", 0.0))
    return keras.optimizers.Adam(rate)
