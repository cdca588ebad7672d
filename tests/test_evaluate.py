"""Attack sanity on a real, briefly trained LeNet."""

import numpy as np
import pytest

from lad_tf.attacks import fgsm, pgd
from lad_tf.evaluate import accuracy, attack_accuracy, balanced_subset


def test_balanced_subset():
    labels = np.repeat(np.arange(4), [5, 10, 10, 2])
    idx = balanced_subset(labels, 3, seed=0)
    assert np.bincount(labels[idx]).tolist() == [3, 3, 3, 2]
    np.testing.assert_array_equal(idx, balanced_subset(labels, 3, seed=0))


@pytest.fixture(scope="module")
def subset(mnist):
    idx = balanced_subset(mnist.y_test, 20, seed=0)
    return mnist.x_test[idx], mnist.y_test[idx]


def test_attack_at_eps_zero_changes_nothing(trained_lenet, subset):
    x, y = subset
    clean = accuracy(trained_lenet, x, y)
    assert attack_accuracy(trained_lenet, fgsm, x, y, 100, eps=0.0) == clean
    assert attack_accuracy(trained_lenet, pgd, x, y, 100, eps=0.0, eps_iter=0.01,
                           nb_iter=5, seed=0) == clean


def test_pgd_is_stronger_than_fgsm_and_breaks_lenet(trained_lenet, subset):
    x, y = subset
    clean = accuracy(trained_lenet, x, y)
    fgsm_acc = attack_accuracy(trained_lenet, fgsm, x, y, 100, eps=0.3)
    pgd_acc = attack_accuracy(trained_lenet, pgd, x, y, 100, eps=0.3, eps_iter=0.01,
                              nb_iter=40, seed=0)
    assert clean >= 0.95
    assert pgd_acc <= fgsm_acc < clean
    assert pgd_acc < 0.05  # an undefended LeNet falls to PGD-40 at eps 0.3


def test_attacks_stay_in_budget_and_range(trained_lenet, subset):
    x, _ = subset
    for x_adv in (fgsm(trained_lenet, x[:10], eps=0.1),
                  pgd(trained_lenet, x[:10], eps=0.1, eps_iter=0.01, nb_iter=5, seed=0)):
        x_adv = np.asarray(x_adv)
        assert np.abs(x_adv - x[:10]).max() <= 0.1 + 1e-6
        assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
