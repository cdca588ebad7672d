"""Fast single-step adversarial training: Wong et al. (2020) FGSM with a
random start, or de Jorge et al. (2022) N-FGSM."""

from __future__ import annotations

from lad_tf.defences.pgd_at import PGDAdversarialTraining


class FastAdversarialTraining(PGDAdversarialTraining):
    """Trains on one-step examples crafted against the current weights.

    J = J(theta; x_fgsm, y) with x_fgsm from a uniform start in the eps ball
    and one step of 1.25 eps (Wong et al.), or with `nfgsm` from noise in
    2 eps and one step of eps without projection (N-FGSM). Single-step
    training can collapse (catastrophic overfitting); `RobustSelection`
    detects that on the validation split and rolls back.

    Args:
        classifier: a `LatentClassifier` returning logits (trained in place).
        eps: L-inf budget; eps_ramp_steps: see `Defence`.
        nfgsm: N-FGSM instead of FGSM with a random start.
        random_start: False gives plain FGSM training (no random start), the
            variant known to collapse; kept for the overfitting guard's test.
        step_factor: the step in units of eps (1.25, Wong et al.). Without a
            random start it has no effect: the step starts at x and is
            projected back to the eps ball, so every factor >= 1 gives the
            same full-eps FGSM step.
    """

    def __init__(self, classifier, eps: float = 0.3, eps_ramp_steps: int = 0,
                 nfgsm: bool = False, random_start: bool = True, step_factor: float = 1.25,
                 **kwargs):
        super().__init__(classifier, eps=eps, step=step_factor * eps, steps=1,
                         eps_ramp_steps=eps_ramp_steps, **kwargs)
        self.nfgsm, self.random_start = bool(nfgsm), bool(random_start)
        self.step_factor = float(step_factor)

    def adversarial(self, x, y):
        return self.single_step_examples(x, y, self.nfgsm, self.step_factor, self.random_start)
