"""LAD + PGD: Eq. 4 with Madry's PGD term in place of the clean term."""

from __future__ import annotations

from lad_tf.defences.lad import LAD


class LADPGD(LAD):
    """J~ = alpha * J(theta; x_pgd, y) + (1 - alpha) * J(theta; G(z'), y_s).

    The model trains on the worst-case L-inf neighbourhood of the training
    batch (Madry) and on LAD's boundary-guided latent examples at once. The
    "clean_*" metrics then describe the PGD batch.

    Args:
        classifier, alpha: as `LAD`.
        eps, step, steps: the PGD budget, step size and number of steps.
        eps_ramp_steps: see `Defence`.
    """

    def __init__(self, classifier, alpha: float = 0.5, eps: float = 0.3, step: float = 0.075,
                 steps: int = 10, eps_ramp_steps: int = 0, **kwargs):
        super().__init__(classifier, alpha=alpha, eps=eps, eps_ramp_steps=eps_ramp_steps,
                         **kwargs)
        if steps < 1:
            raise ValueError(f"steps must be >= 1. Received: steps={steps}")
        self.step, self.steps = float(step), int(steps)

    def first_term_input(self, x, y):
        return self.pgd_examples(x, y, self.step, self.steps)
