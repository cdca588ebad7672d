"""APGD-CE (Croce and Hein 2020) through ART 1.20.1's AutoProjectedGradientDescent.

ART's `loss_type="cross_entropy"` wraps the model in a new plain estimator
with ART's cross-entropy, whose loss gradient runs in eager mode; the same
loss (`CrossEntropy`) is handed to ART as the classifier's own
(`loss_type=None`), so the estimator's traced gradients serve it
(`lad_tf.attacks.art`) and ART's APGD runs unchanged on it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from lad_tf.attacks.art import PerExampleLoss, art_classifier, one_hot
from lad_tf.attacks.norms import resolve_norm


class CrossEntropy(PerExampleLoss):
    """ART 1.20.1's APGD cross-entropy on logits: softmax cross-entropy per
    image, then ART's reduction (`PerExampleLoss`)."""

    @staticmethod
    def per_example(y_true, y_pred):
        """float32 [B]: each image's loss (the estimator traces it, `lad_tf.attacks.art`)."""
        return tf.nn.softmax_cross_entropy_with_logits(tf.cast(y_true, tf.float32),
                                                       tf.cast(y_pred, tf.float32))


def apgd(model, x, y=None, num_classes: int = 10, eps: float = 0.3, max_iter: int = 100,
         nb_random_init: int = 1, eps_step: float | None = None, batch_size: int = 128,
         norm="inf"):
    """Untargeted APGD with cross-entropy (L-inf, or L2 with norm=2), the core of AutoAttack; the
    step size adapts itself, so only eps is set.

    Args:
        model: callable images -> logits [B, K]; a single (sigmoid) logit
            counts as two classes (pass num_classes=2).
        x: float32 [B, H, W, C] in [0, 1].
        y: optional int [B] true labels (else the model's predictions).
        num_classes: K (2 for a one-logit binary model).
        eps: the budget in `norm`; 0 returns x unchanged.
        max_iter: steps per restart; nb_random_init: restarts.
        eps_step: the initial step, which APGD halves when progress stalls;
            None: 2 * eps, AutoAttack's choice.
        batch_size: images per ART batch.
        norm: "inf" or 2 (`lad_tf.attacks.norms`).
    Returns: float32 [B, H, W, C] in [0, 1].
    """
    # lazy: ART takes ~1 s to import, and only its attacks need it
    from art.attacks.evasion import AutoProjectedGradientDescent

    x = np.asarray(x, "float32")
    if eps == 0:  # ART rejects eps 0; no budget is no attack
        return x.copy()
    # ART accepts only Python int/float (a NumPy float32 eps fails its check).
    eps = float(eps)
    attack = AutoProjectedGradientDescent(
        art_classifier(model, x.shape[1:], num_classes, loss_object=CrossEntropy()),
        norm=resolve_norm(norm, "apgd"), eps=eps,
        eps_step=float(2 * eps if eps_step is None else eps_step), max_iter=max_iter,
        targeted=False, nb_random_init=nb_random_init, batch_size=batch_size,
        loss_type=None, verbose=False)
    return attack.generate(x, y=one_hot(y, num_classes))
