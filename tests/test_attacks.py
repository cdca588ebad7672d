"""The attack registry (`lad_tf.attacks.craft`) against a real, undefended LeNet.

Sanity properties of every eps-based attack: eps 0 changes nothing, the
iterative attacks (PGD, BIM, MIM) are at least as strong as FGSM, and success
never falls as eps grows. Also `craft`'s errors and a one-logit binary model.
C&W is left to test_art_attacks.py (it is the slow one)."""

import keras
import numpy as np
import pytest

from lad_tf.attacks import ATTACKS, accepted_params, craft
from lad_tf.utils.batching import predict_labels
from lad_tf.utils.errors import LadError
from lad_tf.utils.sampling import balanced_subset

EPS_ATTACKS = ["fgsm", "pgd", "bim", "mim", "apgd", "square", "apgd_t", "pgd_restarts"]


@pytest.fixture(scope="module")
def sample(mnist):
    idx = balanced_subset(mnist.y_test, 3, seed=2)  # 30 images, 3 per class
    return mnist.x_test[idx], mnist.y_test[idx]


def accuracy(model, x, y):
    return float(np.mean(predict_labels(model(x, training=False)) == y))


def test_registry_lists_every_attack_once():
    assert list(ATTACKS) == ["fgsm", "pgd", "bim", "mim", "jsma", "cw", "apgd", "square", "apgd_t",
                             "pgd_restarts", "ga", "ga_t"]
    assert sorted(n for n, s in ATTACKS.items() if "eps" in s.defaults) == sorted(EPS_ATTACKS)
    assert {n for n, s in ATTACKS.items() if s.targeted} == {"jsma", "cw", "ga_t"}
    assert {n for n, s in ATTACKS.items() if s.gradient_free} == {"square"}
    assert ATTACKS["pgd"].title == "PGD-40"
    for name, spec in ATTACKS.items():  # every default is a parameter craft accepts
        assert set(spec.defaults) <= set(accepted_params(name)), name


@pytest.mark.parametrize("name", EPS_ATTACKS)
def test_eps_zero_changes_nothing(trained_lenet, sample, name):
    x, y = sample
    calls = []
    x_adv = craft(name, trained_lenet, x, y, eps=0.0, batch_size=16,  # two calls, one short
                  progress=lambda done, total: calls.append((done, total)))
    assert calls == [(16, 30), (30, 30)]
    assert x_adv.dtype == np.float32 and x_adv.shape == x.shape
    np.testing.assert_array_equal(x_adv, x)
    assert accuracy(trained_lenet, x_adv, y) == accuracy(trained_lenet, x, y)


def test_iterative_attacks_at_least_as_strong_as_fgsm(trained_lenet, sample):
    x, y = sample
    # eps 0.15, not 0.3: at 0.3 even FGSM leaves this LeNet at 0%, and 0 <= 0
    # would say nothing about the iterative attacks.
    acc = {name: accuracy(trained_lenet, craft(name, trained_lenet, x, y, eps=0.15, **extra), y)
           for name, extra in [("fgsm", {}), ("pgd", {"seed": 0}), ("bim", {}), ("mim", {})]}
    assert acc["fgsm"] > 0.3, acc  # the comparison has room
    for name in ["pgd", "bim", "mim"]:
        assert acc[name] <= acc["fgsm"], acc


@pytest.mark.parametrize("name, extra", [("fgsm", {}), ("pgd", {"seed": 0})])
def test_success_grows_with_eps(trained_lenet, sample, name, extra):
    x, y = sample
    clean = predict_labels(trained_lenet(x, training=False)) == y
    success = []
    for eps in [0.0, 0.05, 0.1, 0.2, 0.3]:
        x_adv = craft(name, trained_lenet, x, y, eps=eps, **extra)
        assert np.abs(x_adv - x).max() <= eps + 1e-5
        # success: share of the correctly classified images that the attack flips
        flipped = predict_labels(trained_lenet(x_adv, training=False)) != y
        success.append(float(np.mean(flipped[clean])))
    assert success[0] == 0.0
    assert all(b >= a for a, b in zip(success, success[1:])), success
    assert success[-1] > 0.5, success


def test_craft_errors_name_the_fix(trained_lenet, sample):
    x, y = sample
    with pytest.raises(LadError, match="known attacks: fgsm, pgd, bim, mim, jsma, cw, apgd"):
        craft("deepfool", trained_lenet, x, y)
    with pytest.raises(LadError, match="no parameter 'epsilon'.*accepted: eps, eps_iter"):
        craft("pgd", trained_lenet, x, y, epsilon=0.1)
    with pytest.raises(LadError, match="targeted: pass target="):
        craft("jsma", trained_lenet, x, y)
    with pytest.raises(LadError, match="untargeted"):
        craft("fgsm", trained_lenet, x, target=y)
    with pytest.raises(LadError, match="3 labels for 30 images"):
        craft("fgsm", trained_lenet, x, y[:3])


@pytest.fixture(scope="module")
def binary_model():
    """A tiny untrained model with one sigmoid logit, as the CelebA classifiers have."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(1)])


def test_one_logit_binary_model(binary_model, sample):
    x, _ = sample
    pred = predict_labels(binary_model(x, training=False))
    x_fgsm = craft("fgsm", binary_model, x, pred, eps=0.1)
    assert x_fgsm.shape == x.shape and x_fgsm.min() >= 0 and x_fgsm.max() <= 1
    assert np.mean(predict_labels(binary_model(x_fgsm, training=False)) != pred) > 0.5

    x_jsma = craft("jsma", binary_model, x, target=1 - pred, num_classes=2)
    assert x_jsma.shape == x.shape and x_jsma.min() >= 0 and x_jsma.max() <= 1
    assert np.mean(predict_labels(binary_model(x_jsma, training=False)) == 1 - pred) > 0.5
    with pytest.raises(LadError, match="pass num_classes=2"):
        craft("jsma", binary_model, x, target=1 - pred, num_classes=10)


def test_batches_of_one_model_share_one_trace(trained_lenet, sample):
    """cleverhans' gradient is a tf.function taking the model function: the
    same wrapper for every batch of a model, so no batch traces it again
    (each retrace also printed a TensorFlow warning)."""
    from cleverhans.tf2.utils import compute_gradient

    x, y = sample
    for name in ("fgsm", "pgd"):  # first calls: one trace per attack and batch shape
        craft(name, trained_lenet, x, y, batch_size=16)
    before = compute_gradient.experimental_get_tracing_count()
    for name in ("fgsm", "pgd", "bim"):
        craft(name, trained_lenet, x, y, batch_size=16, eps=0.1)
    assert compute_gradient.experimental_get_tracing_count() == before
