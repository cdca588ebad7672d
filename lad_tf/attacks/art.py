"""Adapters over IBM's adversarial-robustness-toolbox (ART) 1.20 attacks that
cleverhans 4.0.0 cannot run on Keras 3: JSMA, Carlini-Wagner L2, APGD-CE and
the score-based black-box Square attack. One function per attack, each with
the shape of the cleverhans adapters: (model, x, ...) -> x_adv.

ART reaches a Keras 3 model through `TensorFlowV2Classifier`, which gets the
model's logits and a from-logits cross-entropy; pixel values are clipped to
[0, 1]. Targeted attacks take `target` labels; untargeted ones take the true
labels `y` (or none: ART then uses the model's predictions).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def art_classifier(model, input_shape, num_classes: int):
    """Wraps a logits model for ART.

    Args:
        model: callable images float32 [B, H, W, C] in [0, 1] -> logits [B, K].
        input_shape: (H, W, C).
    """
    from art.estimators.classification import TensorFlowV2Classifier

    return TensorFlowV2Classifier(
        model=lambda x, training=False: model(x, training=False), nb_classes=num_classes,
        input_shape=tuple(input_shape),
        loss_object=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        clip_values=(0.0, 1.0))


def _one_hot(labels, num_classes):
    return None if labels is None else np.eye(num_classes, dtype="float32")[np.asarray(labels)]


def jsma(model, x, target, num_classes: int = 10, theta: float = 1.0, gamma: float = 0.1,
         batch_size: int = 64):
    """Targeted Jacobian saliency map attack (Papernot et al. 2016).

    Args:
        target: int [B], the class each example should be pushed to.
        theta: change applied to a chosen pixel; gamma: largest share of
            pixels that may be changed.
    """
    from art.attacks.evasion import SaliencyMapMethod

    attack = SaliencyMapMethod(art_classifier(model, x.shape[1:], num_classes), theta=theta,
                               gamma=gamma, batch_size=batch_size, verbose=False)
    return attack.generate(np.asarray(x, "float32"), y=_one_hot(target, num_classes))


def carlini_wagner_l2(model, x, target, num_classes: int = 10, confidence: float = 0.0,
                      max_iter: int = 20, binary_search_steps: int = 5,
                      learning_rate: float = 0.01, initial_const: float = 0.01,
                      batch_size: int = 64):
    """Targeted Carlini-Wagner L2 attack (Carlini and Wagner 2017).

    `initial_const` is the first weight of the attack term against the L2
    term; the binary search adjusts it per example.
    """
    from art.attacks.evasion import CarliniL2Method

    attack = CarliniL2Method(
        art_classifier(model, x.shape[1:], num_classes), confidence=confidence, targeted=True,
        learning_rate=learning_rate, binary_search_steps=binary_search_steps, max_iter=max_iter,
        initial_const=initial_const, batch_size=batch_size, verbose=False)
    return attack.generate(np.asarray(x, "float32"), y=_one_hot(target, num_classes))


def apgd(model, x, y=None, num_classes: int = 10, eps: float = 0.3, max_iter: int = 100,
         nb_random_init: int = 1, batch_size: int = 128):
    """Untargeted L-inf APGD with cross-entropy (Croce and Hein 2020), the core
    of AutoAttack; the step size adapts itself, so only eps is set."""
    from art.attacks.evasion import AutoProjectedGradientDescent

    attack = AutoProjectedGradientDescent(
        art_classifier(model, x.shape[1:], num_classes), norm=np.inf, eps=eps,
        eps_step=2 * eps / max(max_iter, 1), max_iter=max_iter, targeted=False,
        nb_random_init=nb_random_init, batch_size=batch_size, loss_type="cross_entropy",
        verbose=False)
    return attack.generate(np.asarray(x, "float32"), y=_one_hot(y, num_classes))


def square(model, x, y=None, num_classes: int = 10, eps: float = 0.3, max_iter: int = 100,
           batch_size: int = 128):
    """Score-based black-box L-inf Square attack (Andriushchenko et al. 2020):
    it reads only the model's outputs, never its gradients."""
    from art.attacks.evasion import SquareAttack

    attack = SquareAttack(art_classifier(model, x.shape[1:], num_classes), norm=np.inf,
                          eps=eps, max_iter=max_iter, batch_size=batch_size, verbose=False)
    return attack.generate(np.asarray(x, "float32"), y=_one_hot(y, num_classes))
