"""Square attack (Andriushchenko et al. 2020) through ART 1.20.1's SquareAttack."""

from __future__ import annotations

import numpy as np

from lad_tf.attacks.art import art_classifier, one_hot
from lad_tf.attacks.norms import resolve_norm


def square(model, x, y=None, num_classes: int = 10, eps: float = 0.3, max_iter: int = 100,
           batch_size: int = 128, norm="inf"):
    """Score-based black-box Square attack (L-inf, or L2 with norm=2): it reads only the model's
    outputs, never its gradients.

    Args:
        model: callable images -> logits [B, K]; a single (sigmoid) logit
            counts as two classes (pass num_classes=2).
        x: float32 [B, H, W, C] in [0, 1].
        y: optional int [B] true labels (else the model's predictions).
        num_classes: K (2 for a one-logit binary model).
        eps: the budget in `norm`; 0 returns x unchanged.
        max_iter: random-search iterations (model queries per image).
        batch_size: images per ART batch.
        norm: "inf" or 2 (`lad_tf.attacks.norms`).
    Returns: float32 [B, H, W, C] in [0, 1].
    """
    # lazy: ART takes ~1 s to import, and only its attacks need it
    from art.attacks.evasion import SquareAttack

    x = np.asarray(x, "float32")
    if eps == 0:  # ART rejects eps 0; no budget is no attack
        return x.copy()
    # ART accepts only Python int/float (a NumPy float32 eps fails its check).
    attack = SquareAttack(art_classifier(model, x.shape[1:], num_classes),
                          norm=resolve_norm(norm, "square"),
                          eps=float(eps), max_iter=max_iter, batch_size=batch_size, verbose=False)
    return attack.generate(x, y=one_hot(y, num_classes))
