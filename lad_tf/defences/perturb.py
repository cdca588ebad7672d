"""In-graph L-inf perturbations that the defences craft inside `train_step`.

Evaluation attacks come from cleverhans and ART (`lad_tf.attacks`); training
needs the same attacks as traced TensorFlow ops with a tensor eps (the eps
ramp changes it every step), so they are written here once.

Every function takes `loss_of(x_adv) -> scalar loss` to ascend, clean images
x float32 [B, H, W, C] in [0, 1], and returns x_adv of the same shape and
range, with no gradient flowing back into the model's weights.
"""

from __future__ import annotations

import tensorflow as tf


def input_gradient(loss_of, x):
    """d loss_of(x) / d x, float32 [B, H, W, C]."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = loss_of(x)
    return tape.gradient(loss, x)


def _project(x_adv, x, eps):
    return tf.clip_by_value(tf.clip_by_value(x_adv, x - eps, x + eps), 0.0, 1.0)


def pgd_linf(loss_of, x, eps, step, steps: int, rand_init: bool = True, start=None, seed=None):
    """Madry et al.'s PGD: a uniform start in the eps ball (or `start`, or x
    itself without `rand_init`), then `steps` signed-gradient steps of size
    `step`, each projected back to the ball around x."""
    x_adv = x
    if start is not None:
        x_adv = _project(start, x, eps)
    elif rand_init:
        x_adv = _project(x + tf.random.uniform(tf.shape(x), -eps, eps, seed=seed), x, eps)
    for _ in range(int(steps)):
        x_adv = _project(x_adv + step * tf.sign(input_gradient(loss_of, x_adv)), x, eps)
    return tf.stop_gradient(x_adv)


def fgsm_random_start(loss_of, x, eps, step_factor: float = 1.25, random_start: bool = True):
    """Wong et al. (2020) fast AT: one FGSM step of `step_factor * eps` from a
    uniform start in the eps ball, projected to the ball (`random_start`
    False: plain FGSM from x, the variant prone to catastrophic overfitting)."""
    return pgd_linf(loss_of, x, eps, step_factor * eps, steps=1, rand_init=random_start)


def n_fgsm(loss_of, x, eps, noise_factor: float = 2.0):
    """de Jorge et al. (2022) N-FGSM: uniform noise in `noise_factor * eps`,
    one FGSM step of eps, no projection to the eps ball (only to [0, 1])."""
    x_noisy = tf.clip_by_value(
        x + tf.random.uniform(tf.shape(x), -noise_factor * eps, noise_factor * eps), 0.0, 1.0)
    x_adv = x_noisy + eps * tf.sign(input_gradient(loss_of, x_noisy))
    return tf.stop_gradient(tf.clip_by_value(x_adv, 0.0, 1.0))


def kl_divergence(p_logits, q_logits):
    """Per-example KL(softmax(p) || softmax(q)) [B] over the last axis."""
    p_log = tf.nn.log_softmax(p_logits)
    return tf.reduce_sum(tf.exp(p_log) * (p_log - tf.nn.log_softmax(q_logits)), axis=-1)
