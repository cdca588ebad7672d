"""JSMA (Papernot et al. 2016) through ART 1.20.1's SaliencyMapMethod."""

from __future__ import annotations

import numpy as np

from lad_tf.attacks.art import art_classifier, one_hot


def jsma(model, x, target, num_classes: int = 10, theta: float = 1.0, gamma: float = 0.1,
         batch_size: int = 64):
    """Targeted Jacobian saliency map attack.

    Args:
        model: callable images -> logits [B, K]; a single (sigmoid) logit
            counts as two classes (pass num_classes=2).
        x: float32 [B, H, W, C] in [0, 1].
        target: int [B], the class each example should be pushed to.
        num_classes: K (2 for a one-logit binary model).
        theta: change applied to a chosen pixel; gamma: largest share of
            pixels that may be changed.
        batch_size: images per ART batch.
    Returns: float32 [B, H, W, C] in [0, 1].
    """
    # lazy: ART takes ~1 s to import, and only its attacks need it
    from art.attacks.evasion import SaliencyMapMethod

    attack = SaliencyMapMethod(art_classifier(model, x.shape[1:], num_classes), theta=theta,
                               gamma=gamma, batch_size=batch_size, verbose=False)
    return attack.generate(np.asarray(x, "float32"), y=one_hot(target, num_classes))
