"""Robustness evaluation: clean accuracy and white-box FGSM / PGD accuracy.

Attacks run on a balanced subset of the test set (the same images for every
model), crafted against the model under test (white box). The generated
examples used for hardening come from the provider split, never from here.
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from lad_tf.attacks import fgsm, pgd
from lad_tf.batching import batched, predict_labels


def balanced_subset(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of `per_class` examples of every class (fewer if a class is short)."""
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


def accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    """Top-1 accuracy of a logits model on x float32 [N, H, W, C] in [0, 1]."""
    call = tf.function(lambda b: model(b, training=False), reduce_retracing=True)
    return float(np.mean(predict_labels(batched(call, x, batch_size)) == y))


def attack_accuracy(model, attack, x, y, batch_size: int, progress=None, **kwargs) -> float:
    """Accuracy on adversarial images crafted batch by batch against `model`.

    Args:
        progress: optional callable(done, total) called after each batch.
    """
    correct = 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        x_adv = attack(model, xb, y=yb, **kwargs)
        correct += int(np.sum(predict_labels(model(x_adv, training=False)) == yb))
        if progress:
            progress(min(start + batch_size, len(x)), len(x))
    return correct / max(len(x), 1)


def evaluate_model(model, x_test, y_test, config, log=print) -> dict:
    """Clean accuracy on the whole test set; FGSM / PGD on a balanced subset.

    Args:
        config: an `EvaluationConfig`.
    Returns: a dict of accuracies in [0, 1] and the seconds each took.
    """
    idx = balanced_subset(y_test, config.per_class, config.seed)
    xs, ys = x_test[idx], y_test[idx]
    result = {"test_examples": int(len(y_test)), "attack_examples": int(len(idx))}
    t0 = time.perf_counter()
    result["clean_accuracy"] = accuracy(model, x_test, y_test, config.batch_size)
    result["clean_accuracy_attack_subset"] = accuracy(model, xs, ys, config.batch_size)
    log(f"  clean accuracy {result['clean_accuracy']:.4f} on {len(y_test)} test images")
    t1 = time.perf_counter()
    result["fgsm_accuracy"] = attack_accuracy(model, fgsm, xs, ys, config.batch_size,
                                              eps=config.fgsm_eps)
    pgd_progress = (lambda done, total: log(f"  PGD: {done}/{total} images attacked")) \
        if len(idx) > config.batch_size else None
    log(f"  FGSM eps {config.fgsm_eps}: accuracy {result['fgsm_accuracy']:.4f} on {len(idx)} images")
    t2 = time.perf_counter()
    result["pgd_accuracy"] = attack_accuracy(
        model, pgd, xs, ys, config.batch_size, progress=pgd_progress, eps=config.pgd_eps,
        eps_iter=config.pgd_step, nb_iter=config.pgd_iterations, seed=config.seed)
    t3 = time.perf_counter()
    log(f"  PGD-{config.pgd_iterations} eps {config.pgd_eps}: accuracy "
        f"{result['pgd_accuracy']:.4f} on {len(idx)} images")
    result["seconds"] = {"clean": t1 - t0, "fgsm": t2 - t1, "pgd": t3 - t2}
    return result
