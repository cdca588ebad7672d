"""TRADES (Zhang et al. 2019): clean cross-entropy plus a KL robustness term."""

from __future__ import annotations

import keras
import tensorflow as tf

from lad_tf.defences.perturb import kl_divergence, pgd_linf
from lad_tf.defences.pgd_at import PGDAdversarialTraining


class TRADES(PGDAdversarialTraining):
    """J = CE(f(x), y) + beta * KL(softmax f(x) || softmax f(x_adv)).

    x_adv maximises the KL term by PGD-k from x + 0.001 N(0, 1) (the authors'
    start), projected to the eps ball. A one-logit model enters the KL as the
    two-class softmax of [0, l].

    Args:
        classifier, eps, step, steps, eps_ramp_steps: as `PGDAdversarialTraining`.
        beta: weight of the KL term (the authors use 1.0 on MNIST, 6.0 on CIFAR-10).
    """

    def __init__(self, classifier, eps: float = 0.3, step: float = 0.075, steps: int = 10,
                 beta: float = 1.0, eps_ramp_steps: int = 0, **kwargs):
        super().__init__(classifier, eps=eps, step=step, steps=steps,
                         eps_ramp_steps=eps_ramp_steps, **kwargs)
        if beta < 0:
            raise ValueError(f"beta must be >= 0. Received: beta={beta}")
        self.beta = float(beta)

    def adversarial(self, x, y):
        eps = self.current_eps()
        step = self.step * eps / max(self.eps, 1e-12)
        clean = tf.stop_gradient(self.two_class_logits(x))
        start = tf.clip_by_value(x + 0.001 * tf.random.normal(tf.shape(x)), 0.0, 1.0)
        loss_of = lambda b: tf.reduce_sum(kl_divergence(clean, self.two_class_logits(b)))  # noqa: E731
        return pgd_linf(loss_of, x, eps, step, self.steps, start=start)

    def compute_loss_terms(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        x_adv = self.adversarial(x, y)
        logits = self(x, training=True)
        natural = self.loss_fn(self.labels(y), logits)
        robust = tf.reduce_mean(kl_divergence(self.two_class_logits(x, training=True),
                                              self.two_class_logits(x_adv, training=True)))
        return {"loss": natural + self.beta * robust, "y": y, "logits": logits,
                "natural_loss": natural, "robust_loss": robust}
