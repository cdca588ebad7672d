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


def test_targeted_subset_pairs_every_image_with_every_other_class():
    from lad_tf.sampling import targeted_subset

    labels = np.repeat(np.arange(10), 7)
    idx, target = targeted_subset(labels, 5, 10, seed=0)
    assert len(idx) == 5 * 10 * 9
    assert not np.any(labels[idx] == target)
    for image in np.unique(idx):  # each image once per other class
        assert sorted(target[idx == image]) == sorted(set(range(10)) - {labels[image]})
    idx2, target2 = targeted_subset(np.array([0, 1, 1, 0]), 2, 2)
    assert (target2 == 1 - np.array([0, 1, 1, 0])[idx2]).all()


def test_registries_match_the_names_a_recipe_may_use():
    from lad_tf.attacks import ATTACKS, NOT_IN_RECIPES
    from lad_tf.defences import DEFENCES as METHODS
    from lad_tf.config import ATTACK_NAMES, METHOD_NAMES

    assert NOT_IN_RECIPES == {"ga", "ga_t"}  # GA needs a trained AC-GAN (issue 11)
    assert tuple(n for n in ATTACKS if n not in NOT_IN_RECIPES) == ATTACK_NAMES
    assert tuple(METHODS) == METHOD_NAMES


def test_blackbox_cnn_is_another_architecture_than_lenet():
    import keras

    from lad_tf.models import build_classifier

    lenet, blackbox = build_classifier("lenet"), build_classifier("blackbox_cnn")
    kinds = lambda model: [type(layer).__name__ for layer in model.layers]  # noqa: E731
    assert type(blackbox).__name__ != type(lenet).__name__
    assert "MaxPooling2D" in kinds(lenet) and "MaxPooling2D" not in kinds(blackbox)
    assert kinds(blackbox).count("Conv2D") == 3 and kinds(lenet).count("Conv2D") == 2
    assert blackbox.count_params() != lenet.count_params()
    assert blackbox.latent_dim != lenet.latent_dim
    # It takes the digits / MNIST images and any other size ('same' padding).
    assert blackbox(keras.ops.zeros((2, 28, 28, 1))).shape == (2, 10)
    other = build_classifier("blackbox_cnn", image_shape=(32, 32, 3), num_classes=1)
    assert other(keras.ops.zeros((1, 32, 32, 3))).shape == (1, 1)


def test_diversity_stats_on_known_distances():
    from lad_tf.evaluate import diversity_stats

    source = np.zeros((2, 2, 1), "float32")
    groups = [np.stack([np.full((2, 2, 1), v, "float32") for v in (0.0, 0.5, 1.0)])]
    stats = diversity_stats(groups, [[0, 1, 1]], [source], [(0, 1), (0, 1), (0, 2)])
    # per-pixel gaps 0.5, 1, 0.5 over 4 pixels -> L2 1, 2, 1
    assert stats["mean_pairwise_l2"] == pytest.approx(4 / 3)
    assert stats["mean_l2_to_source"] == pytest.approx((0 + 1 + 2) / 3)
    assert stats["distinct_labels_per_source"] == 2
    assert stats["distinct_label_paths"] == 2 and stats["label_paths"] == 3
    assert "distinct_label_paths" not in diversity_stats(groups, [[0, 1, 1]], [source], None)


def test_undefended_lenet_falls_to_every_gradient_attack(trained_lenet, subset):
    """Issue 3 check 3 for the whole white-box suite: an evaluation that cannot
    break an undefended model is broken."""
    from lad_tf.attacks import craft

    x, y = subset
    for name in ("pgd", "bim", "mim"):
        x_adv = craft(name, trained_lenet, x, y=y, nb_iter=40, eps_iter=0.01)
        assert accuracy(trained_lenet, x_adv, y) < 0.05, name


def test_mnist_tables_put_paper_and_run_side_by_side():
    from lad_tf.paper import mnist_tables

    row = {"clean_accuracy": 0.99, "fgsm_accuracy": 0.5, "pgd_accuracy": 0.25, "jsma_accuracy": 0.125,
           "cw_accuracy": 0.0625, **{f"transfer_{a}_accuracy": 0.75 for a in ("fgsm", "pgd", "jsma", "cw")}}
    result = {"models": {"original": row, "lad": {**row, "fgsm_accuracy": 0.6}, "pgd-at": row},
              "attack_titles": {"fgsm": "FGSM (eps 0.3)"},
              "sweep_models": {"0.5": {"transfer_fgsm_accuracy": 0.8}, "2": {}}}
    text = mnist_tables(result)
    assert "| FGSM (eps 0.3) | 1.77% | 50.00% | 21.67% | 60.00% | 50.00% |" in text
    assert "ours: FT-0.5" in text and "| 41.71% | 75.00% | 49.60% | 80.00% |" in text
    assert "| GA | 99.82% | not built |" in text
    assert "| GA-FT | 97.23% | not built |" in text
    assert "| JSMA-FT | 95.71% | not run |" in text
