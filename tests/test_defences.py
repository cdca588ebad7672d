"""The defences of `lad_tf.defences`: each train_step's loss equals its
formula computed by hand, the training perturbations stay in budget and raise
the loss, adversarial training raises robust accuracy on real MNIST, and the
one-logit (CelebA) path trains with a correct accuracy metric."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from lad_tf.defences import (
    DEFENCES,
    LAD,
    LADPGD,
    TRADES,
    FastAdversarialTraining,
    LADFast,
    PGDAdversarialTraining,
)
from lad_tf.defences.perturb import fgsm_random_start, n_fgsm, pgd_linf
from lad_tf.models import build_classifier

RTOL = 1e-4  # float32 losses of the same batch, computed twice by different code paths


def _copy(model):
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def _ce(model, x, y):
    logits = np.asarray(model(x, training=False), "float64")
    logits -= logits.max(1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean(), logp


def _fixed_delta(x, eps, seed=0):
    return np.clip(x + np.random.default_rng(seed).uniform(-eps, eps, x.shape), 0, 1).astype("float32")


@pytest.fixture
def batch(mnist):
    return mnist.x_train[:64], mnist.y_train[:64], mnist.x_provider[:64], mnist.y_provider[:64]


def test_every_registered_defence_builds_with_its_section():
    from lad_tf.recipe.schema import Recipe

    recipe = Recipe()
    for name, spec in DEFENCES.items():
        model = spec.build(build_classifier("lenet"), getattr(recipe, spec.section), 10)
        assert isinstance(model, keras.Model), name


def test_registry_is_the_one_method_list_in_its_order():
    """DEFENCES is keyed by lad_tf.recipe.names.METHOD_NAMES (the list recipes are
    checked against), in that order; each `<attack>-ft` fine-tunes on that attack."""
    from lad_tf.recipe.names import METHOD_NAMES

    assert tuple(DEFENCES) == METHOD_NAMES
    assert all(spec.name == name for name, spec in DEFENCES.items())
    fine_tuning = {n: s for n, s in DEFENCES.items() if n.endswith("-ft")}
    assert sorted(fine_tuning) == ["cw-ft", "fgsm-ft", "jsma-ft", "pgd-ft"]
    for name, spec in fine_tuning.items():
        assert (spec.attack, spec.data, spec.section) == (name[:-3], "crafted", "hardening")
    assert DEFENCES["lad"].title == "LAD" and DEFENCES["lad+pgd"].section == "lad_pgd"


@pytest.mark.parametrize("cls", [PGDAdversarialTraining, FastAdversarialTraining])
def test_adversarial_training_loss_is_ce_on_its_examples(cls, trained_lenet, batch, monkeypatch):
    x, y, _, _ = batch
    x_adv = _fixed_delta(x, 0.3)
    model = cls(_copy(trained_lenet), eps=0.3)
    monkeypatch.setattr(model, "adversarial", lambda xb, yb: tf.constant(x_adv))
    expected, _ = _ce(model.classifier, x_adv, y)
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    logs = model.train_on_batch(x, y, return_dict=True)
    assert logs["loss"] == pytest.approx(expected, rel=RTOL)


def test_trades_loss_is_ce_plus_beta_kl(trained_lenet, batch, monkeypatch):
    x, y, _, _ = batch
    x_adv = _fixed_delta(x, 0.3, seed=1)
    model = TRADES(_copy(trained_lenet), eps=0.3, beta=3.0)
    monkeypatch.setattr(model, "adversarial", lambda xb, yb: tf.constant(x_adv))
    ce, logp = _ce(model.classifier, x, y)
    _, logq = _ce(model.classifier, x_adv, y)
    kl = (np.exp(logp) * (logp - logq)).sum(1).mean()
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    logs = model.train_on_batch(x, y, return_dict=True)
    assert logs["loss"] == pytest.approx(ce + 3.0 * kl, rel=RTOL)


@pytest.mark.parametrize("cls", [LAD, LADFast, LADPGD])
def test_eq4_loss_with_its_first_term(cls, trained_lenet, batch, monkeypatch):
    x, y, x_gen, y_gen = batch
    first = x if cls is LAD else _fixed_delta(x, 0.3, seed=2)
    model = cls(_copy(trained_lenet), alpha=0.3)
    if cls is not LAD:
        monkeypatch.setattr(model, "first_term_input", lambda xb, yb: tf.constant(first))
    j_first, _ = _ce(model.classifier, first, y)
    j_gen, _ = _ce(model.classifier, x_gen, y_gen)
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    logs = model.train_on_batch(((x, y), (x_gen, y_gen)), return_dict=True)
    assert logs["loss"] == pytest.approx(0.3 * j_first + 0.7 * j_gen, rel=RTOL)
    assert logs["clean_loss"] == pytest.approx(j_first, rel=RTOL)
    assert logs["adv_loss"] == pytest.approx(j_gen, rel=RTOL)


@pytest.mark.parametrize("craft", ["pgd", "fgsm_rs", "fgsm"])
def test_training_perturbations_stay_in_budget_and_raise_the_loss(craft, trained_lenet, mnist):
    x, y = tf.constant(mnist.x_test[:128]), tf.constant(mnist.y_test[:128])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    loss_of = lambda b: loss(y, trained_lenet(b, training=False))  # noqa: E731
    x_adv = {"pgd": lambda: pgd_linf(loss_of, x, 0.2, 0.05, 5),
             "fgsm_rs": lambda: fgsm_random_start(loss_of, x, 0.2),
             "fgsm": lambda: fgsm_random_start(loss_of, x, 0.2, random_start=False)}[craft]()
    assert float(tf.reduce_max(tf.abs(x_adv - x))) <= 0.2 + 1e-6
    assert float(tf.reduce_min(x_adv)) >= 0 and float(tf.reduce_max(x_adv)) <= 1
    assert float(loss_of(x_adv)) > float(loss_of(x)) + 0.5


def test_n_fgsm_leaves_the_ball_but_not_the_image_range(trained_lenet, mnist):
    x, y = tf.constant(mnist.x_test[:64]), tf.constant(mnist.y_test[:64])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x_adv = n_fgsm(lambda b: loss(y, trained_lenet(b, training=False)), x, 0.1)
    gap = float(tf.reduce_max(tf.abs(x_adv - x)))
    assert 0.1 < gap <= 0.3 + 1e-6  # noise 2 eps + a step of eps, no projection
    assert float(tf.reduce_min(x_adv)) >= 0 and float(tf.reduce_max(x_adv)) <= 1


def test_eps_ramp_grows_linearly_then_stays(trained_lenet):
    model = PGDAdversarialTraining(_copy(trained_lenet), eps=0.3, eps_ramp_steps=10)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    seen = []
    for step in (0, 5, 10, 20):
        model.optimizer.iterations.assign(step)
        seen.append(float(model.current_eps()))
    assert seen == pytest.approx([0.0, 0.15, 0.3, 0.3], abs=1e-6)


def test_pgd_training_raises_robust_accuracy(trained_lenet, mnist):
    from lad_tf.defences.selection import RobustSelection

    classifier = _copy(trained_lenet)
    check = RobustSelection(classifier, mnist.x_test[:300], mnist.y_test[:300], eps=0.2, steps=10)
    _, before = check.evaluate()
    model = PGDAdversarialTraining(classifier, eps=0.2, step=0.05, steps=5)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(mnist.x_train[:3200], mnist.y_train[:3200], batch_size=64, epochs=1, verbose=0)
    _, after = check.evaluate()
    assert after > before + 0.1, (before, after)


def test_one_logit_defences_train_with_a_logit_accuracy():
    """A binary (CelebA-style) model: accuracy counts logit > 0 as class 1."""
    keras.utils.set_random_seed(0)
    classifier = build_classifier("lenet", num_classes=1)
    x = np.random.default_rng(0).uniform(0, 1, (32, 28, 28, 1)).astype("float32")
    y = (np.arange(32) % 2).astype("int64")
    for model in (PGDAdversarialTraining(classifier, eps=0.1, steps=2),
                  TRADES(classifier, eps=0.1, steps=2), FastAdversarialTraining(classifier, eps=0.1)):
        model.compile(optimizer=keras.optimizers.SGD(0.0))
        logs = model.train_on_batch(x, y, return_dict=True)
        assert np.isfinite(logs["loss"]) and 0 <= logs["adv_accuracy"] <= 1
    model = LADPGD(classifier, eps=0.1, steps=2)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    model.evaluate(x, y, verbose=0)
    clean = model.get_metrics_result()["clean_accuracy"]
    # evaluate (a compiled graph) and an eager call may differ in the last bits, so
    # logits within 1e-5 of 0 may land on either side: allow exactly that share
    logits = np.asarray(classifier(x))[:, 0]
    near_zero = np.mean(np.abs(logits) < 1e-5)
    assert abs(float(clean) - np.mean((logits > 0) == y)) <= near_zero + 1e-9


def test_scratch_init_keeps_the_architecture_and_draws_fresh_weights(trained_lenet):
    """`init: scratch`: same class and weight shapes, none of the trained values."""
    from lad_tf.defences.trainer import fresh_copy

    fresh = fresh_copy(trained_lenet, seed=0)
    assert type(fresh) is type(trained_lenet)
    trained, new = trained_lenet.get_weights(), fresh.get_weights()
    assert [w.shape for w in new] == [w.shape for w in trained]
    kernels = [i for i, w in enumerate(trained) if w.ndim > 1]
    assert all(not np.allclose(new[i], trained[i]) for i in kernels)
    again = fresh_copy(trained_lenet, seed=0).get_weights()  # seeded: reproducible
    assert all(np.allclose(a, b, atol=0.0) for a, b in zip(again, new))


def test_recipe_refuses_an_unknown_init():
    from lad_tf.recipe.schema import recipe_from_dict
    from lad_tf.utils.errors import LadError

    with pytest.raises((LadError, ValueError), match="init must be original or scratch"):
        recipe_from_dict({"lad_pgd": {"init": "pretrained"}})
