"""LAD + fast AT: Eq. 4 with a single-step (FGSM with random start, or
N-FGSM) term in place of the clean term."""

from __future__ import annotations

from lad_tf.defences.lad import LAD


class LADFast(LAD):
    """J~ = alpha * J(theta; x_fgsm, y) + (1 - alpha) * J(theta; G(z'), y_s).

    x_fgsm as in `FastAdversarialTraining` (Wong et al.; `nfgsm`: N-FGSM).

    Args:
        classifier, alpha: as `LAD`.
        eps, eps_ramp_steps: the single step's budget and ramp.
        nfgsm: N-FGSM instead of FGSM with a random start.
        step_factor: FGSM step in units of eps (Wong et al.: 1.25).
    """

    def __init__(self, classifier, alpha: float = 0.5, eps: float = 0.3, eps_ramp_steps: int = 0,
                 nfgsm: bool = False, step_factor: float = 1.25, **kwargs):
        super().__init__(classifier, alpha=alpha, eps=eps, eps_ramp_steps=eps_ramp_steps,
                         **kwargs)
        self.nfgsm, self.step_factor = bool(nfgsm), float(step_factor)

    def first_term_input(self, x, y):
        return self.single_step_examples(x, y, self.nfgsm, self.step_factor)
