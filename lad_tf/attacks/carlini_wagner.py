"""Carlini-Wagner L2 (Carlini and Wagner 2017) through ART 1.20.1's CarliniL2Method."""

from __future__ import annotations

import numpy as np

from lad_tf.attacks.art import art_classifier, one_hot


def carlini_wagner_l2(model, x, target, num_classes: int = 10, confidence: float = 0.0,
                      max_iter: int = 20, binary_search_steps: int = 5,
                      learning_rate: float = 0.01, initial_const: float = 0.01,
                      batch_size: int = 64):
    """Targeted Carlini-Wagner L2 attack.

    These function defaults are ART's; `lad_tf.attacks.ATTACKS["cw"]` holds
    the stronger ones (learning_rate 0.1, initial_const 10) that reach the
    target within 20 iterations.

    Args:
        model: callable images -> logits [B, K]; a single (sigmoid) logit
            counts as two classes (pass num_classes=2).
        x: float32 [B, H, W, C] in [0, 1].
        target: int [B], the class each example should be pushed to.
        num_classes: K (2 for a one-logit binary model).
        confidence: logit margin the target must win by.
        max_iter: optimiser steps per binary-search step.
        binary_search_steps: rounds that adjust `initial_const` per example.
        learning_rate: the optimiser's step.
        initial_const: first weight of the attack term against the L2 term.
        batch_size: images per ART batch.
    Returns: float32 [B, H, W, C] in [0, 1].
    """
    # lazy: ART takes ~1 s to import, and only its attacks need it
    from art.attacks.evasion import CarliniL2Method

    attack = CarliniL2Method(
        art_classifier(model, x.shape[1:], num_classes), confidence=confidence, targeted=True,
        learning_rate=learning_rate, binary_search_steps=binary_search_steps, max_iter=max_iter,
        initial_const=initial_const, batch_size=batch_size, verbose=False)
    return attack.generate(np.asarray(x, "float32"), y=one_hot(target, num_classes))
