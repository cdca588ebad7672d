"""BIM (Kurakin et al. 2017) through cleverhans 4.0.0's TF2 implementation."""

import numpy as np
import tensorflow as tf
from cleverhans.tf2.attacks.basic_iterative_method import basic_iterative_method

from lad_tf.attacks.logits import softmax_logits


def bim(model, x, eps: float = 0.3, eps_iter: float = 0.01, nb_iter: int = 40, y=None,
        targeted: bool = False):
    """Untargeted L-inf basic iterative method: iterated FGSM steps projected
    onto the eps ball, from x itself (PGD without a random start).

    Args:
        model: callable images -> logits [B, K]; a single (sigmoid) logit
            is attacked through `softmax_logits`.
        x: float32 [B, H, W, C] in [0, 1].
        eps: L-inf budget; eps_iter: step size; nb_iter: number of steps.
        y: optional int [B] true labels (else the model's predictions).
    Returns: float32 [B, H, W, C] in [0, 1].
    """
    # A step larger than the budget is the budget itself after projection;
    # clamping keeps cleverhans' eps_iter <= eps rule and makes eps 0 a no-op.
    eps_iter = min(eps_iter, eps)
    return basic_iterative_method(
        softmax_logits(model), tf.convert_to_tensor(x, tf.float32), eps, eps_iter, nb_iter, np.inf,
        clip_min=0.0, clip_max=1.0, y=None if y is None else tf.convert_to_tensor(y),
        targeted=targeted, sanity_checks=False)
