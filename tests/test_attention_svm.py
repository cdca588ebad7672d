"""Attention SVMs on real MNIST latents and the boundary-guided perturbation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from lad_tf.lad.attention_svm import (
    AttentionSVM,
    fit_attention_svms,
    ordered_pairs,
    pair_datasets,
    svm_accuracy,
)
from lad_tf.lad.boundary import perturb_latents


def test_ordered_pairs():
    pairs = ordered_pairs(10)
    assert len(pairs) == 90 and len(set(pairs)) == 90
    assert all(s != t for s, t in pairs)
    assert ordered_pairs(1) == [(0, 1), (1, 0)]


@pytest.fixture(scope="module")
def fitted_pairs(provider_latents):
    """SVMs for the real MNIST pairs 3 -> 8 and 4 -> 9 (hard pairs), 150 latents a class."""
    z, y = provider_latents
    pairs = [(3, 8), (4, 9)]
    z_fit, y_fit, z_hold, y_hold = pair_datasets(z, y, pairs, 150, 1 / 3, seed=0)
    keras.utils.set_random_seed(0)
    svm = AttentionSVM(len(pairs), z.shape[1], "scaled_softmax", c=1.0)
    fit_attention_svms(svm, z_fit, y_fit, epochs=20, batch_size=32, learning_rate=1e-3)
    return svm, z_hold, y_hold


def test_pair_datasets_shapes_and_labels(provider_latents):
    z, y = provider_latents
    z_fit, y_fit, z_hold, y_hold = pair_datasets(z, y, [(0, 1), (1, 0)], 30, 1 / 3)
    assert z_fit.shape == (2, 40, 500) and z_hold.shape == (2, 20, 500)
    assert (y_fit[0] == -1).sum() == 20 and (y_fit[0] == 1).sum() == 20
    # The same latents with the roles swapped: labels flip.
    np.testing.assert_array_equal(z_fit[0][:20], z_fit[1][20:])


def test_svm_separates_real_mnist_classes(fitted_pairs):
    svm, z_hold, y_hold = fitted_pairs
    accuracy = svm_accuracy(svm, z_hold, y_hold)
    assert accuracy.shape == (2,)
    assert accuracy.min() >= 0.95, accuracy


@pytest.mark.parametrize("attention", ["softmax", "scaled_softmax", "exp_softmax"])
def test_attention_is_a_distribution_over_dimensions(attention, provider_latents):
    z = tf.convert_to_tensor(provider_latents[0][None, :5])
    svm = AttentionSVM(1, 500, attention)
    beta = svm.attention(z).numpy()
    sums = beta.sum(-1)
    expected = {"softmax": 1.0, "scaled_softmax": 500.0,
                "exp_softmax": None}[attention]
    if expected is None:  # exp(softmax): each entry just above 1
        assert beta.min() > 1.0 and beta.max() < 1.1
    else:
        np.testing.assert_allclose(sums, expected, rtol=1e-4)


def test_score_moves_toward_target_as_eps_grows(fitted_pairs):
    svm, z_hold, y_hold = fitted_pairs
    n_src = int((y_hold[0] == -1).sum())
    source = tf.convert_to_tensor(z_hold[:, :n_src])  # the source-class latents
    eps_values = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0]
    mean_scores = [float(np.mean(svm(perturb_latents(svm, source, e)).numpy())) for e in eps_values]
    assert mean_scores[0] < 0  # sources start on the source side
    assert all(b > a for a, b in zip(mean_scores, mean_scores[1:])), mean_scores
    # Calibrated eps 1 is the step to the boundary: most sources reach it and
    # eps 2 carries nearly all across.
    crossed_1 = np.mean(svm(perturb_latents(svm, source, 1.0)).numpy() > -0.05)
    crossed_2 = np.mean(svm(perturb_latents(svm, source, 2.0)).numpy() > 0)
    assert crossed_1 >= 0.9 and crossed_2 >= 0.98, (crossed_1, crossed_2)
    # The raw unit moves the same way, by eps * beta * d.
    raw = [float(np.mean(svm(perturb_latents(svm, source, e, unit="raw")).numpy()))
           for e in (0.0, 10.0, 100.0)]
    assert raw[0] < raw[1] < raw[2]
