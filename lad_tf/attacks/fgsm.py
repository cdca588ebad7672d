"""FGSM (Goodfellow et al. 2015) through cleverhans 4.0.0's TF2 implementation."""

import numpy as np
import tensorflow as tf
from cleverhans.tf2.attacks.fast_gradient_method import fast_gradient_method

from lad_tf.attacks.logits import softmax_logits


def fgsm(model, x, eps: float = 0.3, y=None, targeted: bool = False):
    """Untargeted L-inf FGSM.

    Args:
        model: callable images -> logits [B, K]; a single (sigmoid) logit
            is attacked through `softmax_logits`.
        x: float32 [B, H, W, C] in [0, 1].
        y: optional int [B] true labels; without them cleverhans uses the
            model's predictions (no label leaking).
    Returns: float32 [B, H, W, C] in [0, 1].
    """
    return fast_gradient_method(
        softmax_logits(model), tf.convert_to_tensor(x, tf.float32), eps, np.inf,
        clip_min=0.0, clip_max=1.0, y=None if y is None else tf.convert_to_tensor(y),
        targeted=targeted)
