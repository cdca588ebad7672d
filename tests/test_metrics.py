"""lad_tf.utils.metrics: accuracy and attack accuracy on a real, briefly trained LeNet."""

import numpy as np
import pytest

from lad_tf.attacks import fgsm, pgd
from lad_tf.utils.batching import predict
from lad_tf.utils.metrics import (
    accuracy,
    attack_accuracy,
    perturbation_sizes,
    score_examples,
)
from lad_tf.utils.sampling import balanced_subset


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
    # the fixture's one epoch gives 94-97% here, by the machine's thread count (0.945
    # with one TensorFlow thread); the test is about the attacks, not the training
    assert clean >= 0.9
    assert pgd_acc <= fgsm_acc < clean
    assert pgd_acc < 0.05  # an undefended LeNet falls to PGD-40 at eps 0.3


def test_attacks_stay_in_budget_and_range(trained_lenet, subset):
    x, _ = subset
    for x_adv in (fgsm(trained_lenet, x[:10], eps=0.1),
                  pgd(trained_lenet, x[:10], eps=0.1, eps_iter=0.01, nb_iter=5, seed=0)):
        x_adv = np.asarray(x_adv)
        assert np.abs(x_adv - x[:10]).max() <= 0.1 + 1e-6
        assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0


def test_undefended_lenet_falls_to_every_gradient_attack(trained_lenet, subset):
    """Issue 3 check 3 for the whole white-box suite: an evaluation that cannot
    break an undefended model is broken."""
    from lad_tf.attacks import craft

    x, y = subset
    for name in ("pgd", "bim", "mim"):
        x_adv = craft(name, trained_lenet, x, y=y, nb_iter=40, eps_iter=0.01)
        assert accuracy(trained_lenet, x_adv, y) < 0.05, name


def test_predict_does_not_depend_on_the_batch_size(trained_lenet, subset):
    """Batches of 7 (padded last batch) and of 500 give the same labels; an
    empty input gives no labels."""
    x, y = subset
    labels = predict(trained_lenet, x)
    # two batchings may differ in the last bits of the logits, so a near-tie may flip:
    # compare where the top two logits are more than 1e-4 apart (nearly every image)
    top2 = np.sort(np.asarray(trained_lenet(x)), axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-4
    assert clear.mean() >= 0.9
    np.testing.assert_array_equal(predict(trained_lenet, x, batch_size=7)[clear], labels[clear])
    assert labels.dtype == np.int64 and labels.shape == y.shape
    assert accuracy(trained_lenet, x, y) == pytest.approx(np.mean(labels == y), abs=0)
    assert predict(trained_lenet, x[:0]).shape == (0,)


def test_score_examples_counts_target_hits(trained_lenet, subset):
    x, y = subset
    labels = predict(trained_lenet, x)
    target = (labels + 1) % 10
    row = score_examples(trained_lenet, x, y, target)
    assert row == {"accuracy": pytest.approx(np.mean(labels == y)), "examples": len(y),
                   "target_success": 0.0}
    assert "target_success" not in score_examples(trained_lenet, x, y, None)


def test_perturbation_sizes():
    x = np.zeros((2, 2, 2, 1), "float32")
    x_adv = x.copy()
    x_adv[0, 0, 0, 0] = 0.5  # L-inf 0.5, L2 0.5
    x_adv[1] = 0.25  # L-inf 0.25, L2 sqrt(4 * 0.0625) = 0.5
    sizes = perturbation_sizes(x, x_adv)
    assert sizes["mean_linf"] == pytest.approx(0.375)
    assert sizes["median_l2"] == pytest.approx(0.5)
    assert perturbation_sizes(x[:0], x_adv[:0]) == {"mean_linf": 0.0, "median_l2": 0.0}
