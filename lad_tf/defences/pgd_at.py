"""Madry et al. (2018) PGD adversarial training."""

from __future__ import annotations

import keras

from lad_tf.defences.base import Defence


class PGDAdversarialTraining(Defence):
    """Trains on PGD-k examples crafted against the current weights in every step.

    J = J(theta; x_pgd, y), x_pgd = PGD-k(x) with a random start in the
    eps ball (Madry et al.: eps 0.3 on MNIST).

    Args:
        classifier: a `LatentClassifier` returning logits (trained in place).
        eps: L-inf budget; step: PGD step size; steps: PGD steps k.
        eps_ramp_steps: see `Defence`.
    """

    def __init__(self, classifier, eps: float = 0.3, step: float = 0.075, steps: int = 10,
                 eps_ramp_steps: int = 0, **kwargs):
        super().__init__(classifier, eps=eps, eps_ramp_steps=eps_ramp_steps, **kwargs)
        if steps < 1:
            raise ValueError(f"steps must be >= 1. Received: steps={steps}")
        self.step, self.steps = float(step), int(steps)

    def adversarial(self, x, y):
        return self.pgd_examples(x, y, self.step, self.steps)

    def compute_loss_terms(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        x_adv = self.adversarial(x, y)
        logits = self(x_adv, training=True)
        return {"loss": self.loss_fn(self.labels(y), logits), "y": y, "logits": logits}
