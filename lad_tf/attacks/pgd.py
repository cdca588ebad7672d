"""PGD (Madry et al. 2018) through cleverhans 4.0.0's TF2 implementation."""

import tensorflow as tf
from cleverhans.tf2.attacks.projected_gradient_descent import projected_gradient_descent

from lad_tf.attacks.logits import softmax_logits
from lad_tf.attacks.norms import resolve_norm


def pgd(model, x, eps: float = 0.3, eps_iter: float = 0.01, nb_iter: int = 40, y=None,
        rand_init: bool = True, seed: int | None = None, targeted: bool = False,
        norm="inf"):
    """Untargeted PGD with a random start, L-inf (Madry et al.) or L2.

    Args:
        model: callable images -> logits [B, K]; a single (sigmoid) logit
            is attacked through `softmax_logits`.
        x: float32 [B, H, W, C] in [0, 1].
        eps: the budget in `norm`; eps_iter: step size (an L2 step length
            for norm 2); nb_iter: number of steps.
        y: optional int [B] true labels (else the model's predictions).
        norm: "inf" or 2 (`lad_tf.attacks.norms`).
    Returns: float32 [B, H, W, C] in [0, 1].
    """
    # cleverhans rejects eps_iter > eps; a step larger than the budget is the
    # budget itself after projection, so clamp it (this makes eps 0 a no-op).
    eps_iter = min(eps_iter, eps)
    if seed is not None:
        tf.random.set_seed(seed)
    return projected_gradient_descent(
        softmax_logits(model), tf.convert_to_tensor(x, tf.float32), eps, eps_iter, nb_iter,
        resolve_norm(norm, "pgd"),
        clip_min=0.0, clip_max=1.0, y=None if y is None else tf.convert_to_tensor(y),
        targeted=targeted, rand_init=rand_init, sanity_checks=False)
