"""MIM (Dong et al. 2018) through cleverhans 4.0.0's TF2 implementation."""

import numpy as np
import tensorflow as tf
from cleverhans.tf2.attacks.momentum_iterative_method import momentum_iterative_method

from lad_tf.attacks.logits import softmax_logits


def mim(model, x, eps: float = 0.3, eps_iter: float = 0.01, nb_iter: int = 40, y=None,
        decay_factor: float = 1.0, targeted: bool = False):
    """Untargeted L-inf momentum iterative method: BIM whose steps follow an
    accumulated (momentum) gradient, normalised by its mean absolute value.

    Args:
        model: callable images -> logits [B, K]; a single (sigmoid) logit
            is attacked through `softmax_logits`.
        x: float32 [B, H, W, C] in [0, 1].
        eps: L-inf budget; eps_iter: step size; nb_iter: number of steps.
        y: optional int [B] true labels (else the model's predictions).
        decay_factor: weight of the past momentum in each step.
    Returns: float32 [B, H, W, C] in [0, 1].
    """
    # Same clamp as BIM and PGD, so the three agree on what eps_iter means.
    eps_iter = min(eps_iter, eps)
    return momentum_iterative_method(
        softmax_logits(model), tf.convert_to_tensor(x, tf.float32), eps, eps_iter, nb_iter, np.inf,
        clip_min=0.0, clip_max=1.0, y=None if y is None else tf.convert_to_tensor(y),
        targeted=targeted, decay_factor=decay_factor, sanity_checks=False)
