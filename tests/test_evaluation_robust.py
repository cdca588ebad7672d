"""The robust suite (lad_tf.evaluation.robust): APGD-T and PGD with restarts
on a real, undefended LeNet, the worst case per image, the gradient-masking
checks, the per-image cache and the suite's settings."""

import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from lad_tf.attacks import craft
from lad_tf.evaluation import robust
from lad_tf.utils.batching import predict_labels
from lad_tf.utils.cache import PerImageCache, ResultCache
from lad_tf.utils.errors import LadError
from lad_tf.utils.sampling import balanced_subset


@pytest.fixture(scope="module")
def sample(mnist):
    idx = balanced_subset(mnist.y_test, 5, seed=3)  # 50 images, 5 per class
    return mnist.x_test[idx], mnist.y_test[idx]


def correct(model, x_adv, y):
    return predict_labels(model(x_adv, training=False)) == y


@pytest.mark.parametrize("name", ["apgd", "apgd_t"])
def test_undefended_lenet_falls_to_apgd_ce_and_apgd_t(trained_lenet, sample, name):
    x, y = sample
    assert correct(trained_lenet, x, y).mean() >= 0.9
    x_adv = craft(name, trained_lenet, x, y, eps=0.3)  # AutoAttack's 100 steps
    assert np.abs(x_adv - x).max() <= 0.3 + 1e-5 and 0 <= x_adv.min() and x_adv.max() <= 1
    assert correct(trained_lenet, x_adv, y).mean() <= 0.05


def test_apgd_t_dlr_loss_is_arts(trained_lenet, sample):
    """The vectorised loss equals ART 1.20.1's own difference_logits_ratio."""
    from art.attacks.evasion import AutoProjectedGradientDescent

    from lad_tf.attacks.apgd_t import TargetedDLR, target_order
    from lad_tf.attacks.art import art_classifier

    x, _ = sample
    art = AutoProjectedGradientDescent(art_classifier(trained_lenet, x.shape[1:], 10),
                                       loss_type="difference_logits_ratio", verbose=False)
    theirs, ours = art.estimator._loss_object, TargetedDLR()
    theirs.reduction = ours.reduction = "none"
    logits = np.random.default_rng(0).normal(size=(32, 10)).astype("float32")
    labels = np.eye(10, dtype="float32")[np.arange(32) % 10]
    np.testing.assert_allclose(ours(labels, logits), theirs(tf.constant(labels),
                                                            tf.constant(logits)), rtol=1e-6)
    order = target_order(np.array([[0.0, 3.0, 1.0, 2.0]]), np.array([1]), 2)
    assert order.tolist() == [[3, 2]]  # the best wrong classes, best first, never the label


def test_apgd_t_needs_three_classes(sample):
    x, _ = sample
    keras.utils.set_random_seed(0)
    binary = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                               keras.layers.Dense(1)])
    with pytest.raises(LadError, match=r"needs >= 3 classes.*has 2.*apgd \(APGD-CE\)"):
        craft("apgd_t", binary, x[:4], np.zeros(4, int), num_classes=2)
    with pytest.raises(LadError, match="n_target_classes must be an integer >= 1"):
        craft("apgd_t", binary, x[:4], np.zeros(4, int), num_classes=10, n_target_classes=0)
    with pytest.raises(LadError, match="restarts must be an integer >= 1. Received: restarts=0"):
        craft("pgd_restarts", binary, x[:4], np.zeros(4, int), restarts=0)


def test_pgd_restarts_never_weaker_than_one_start(trained_lenet, sample):
    x, y = sample
    # eps 0.1 and 10 steps leave room: PGD does not break every image there.
    params = {"eps": 0.1, "eps_iter": 0.02, "nb_iter": 10, "seed": 0}
    one = correct(trained_lenet, craft("pgd", trained_lenet, x, y, **params), y).mean()
    two = correct(trained_lenet, craft("pgd_restarts", trained_lenet, x, y, restarts=2,
                                       **params), y).mean()
    assert 0.1 < one < 0.9, one
    assert two <= one + 0.02, (one, two)


def test_worst_case_is_at_most_every_attack(trained_lenet, sample):
    x, y = sample
    clean = correct(trained_lenet, x, y)
    per_attack = {name: correct(trained_lenet, craft(name, trained_lenet, x, y, eps=0.1,
                                                     **extra), y)
                  for name, extra in [("fgsm", {}), ("pgd", {"nb_iter": 10, "seed": 0}),
                                      ("apgd", {"max_iter": 10})]}
    worst = robust.worst_case(clean, per_attack)
    assert worst.dtype == bool and worst.shape == clean.shape
    for name, c in per_attack.items():
        assert worst.mean() <= c.mean(), name
        assert not np.any(worst & ~c), name  # never robust where an attack fooled it
    np.testing.assert_array_equal(worst, clean & np.logical_and.reduce(list(per_attack.values())))
    with pytest.raises(ValueError, match="same images"):
        robust.worst_case(clean, {"fgsm": per_attack["fgsm"][:10]})


NORMAL = {"apgd": 0.50, "apgd_t": 0.45, "pgd_restarts": 0.48, "pgd": 0.52, "square": 0.60}


@pytest.mark.parametrize("accuracy, high_eps, expected", [
    (NORMAL, 0.0, {"high_eps": "PASS", "square_vs_white_box": "PASS", "more_steps": "PASS"}),
    # Masked: PGD at eps 1 leaves 30%, Square (black box) beats every white-box
    # attack, and more PGD steps raise accuracy.
    ({**NORMAL, "square": 0.20, "pgd_restarts": 0.60}, 0.30,
     {"high_eps": "FLAG", "square_vs_white_box": "FLAG", "more_steps": "FLAG"}),
    # At the margins: 5% at eps 1, Square 2 points below, PGD-100 1 point above.
    ({**NORMAL, "square": 0.43, "pgd_restarts": 0.53}, 0.05,
     {"high_eps": "PASS", "square_vs_white_box": "PASS", "more_steps": "PASS"}),
    ({"apgd": 0.5}, None,
     {"high_eps": "not run", "square_vs_white_box": "not run", "more_steps": "not run"}),
])
def test_masking_checks(accuracy, high_eps, expected):
    checks = robust.masking_checks(accuracy, high_eps)
    assert {k: v["status"] for k, v in checks.items()} == expected
    if "square" in accuracy:
        assert checks["square_vs_white_box"]["best_white_box"] == min(
            v for k, v in accuracy.items() if k != "square")


def test_per_image_results_are_cached_per_model_and_attack(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return np.array([True, False, True, True])

    def run(model_print):
        cache = ResultCache(tmp_path, "lad", model_print, {"robust_per_class": 1})
        per_image = PerImageCache(tmp_path, "lad", cache.key)
        return robust.cached_correct(cache, per_image, "robust:apgd", compute)

    row, first = run("v1")
    assert row["accuracy"] == 0.75 and row["examples"] == 4 and len(calls) == 1
    row, again = run("v1")  # a resumed evaluation reads both files
    assert len(calls) == 1 and again.tolist() == first.tolist()
    assert json.loads((tmp_path / "lad.json").read_text())["results"]["robust:apgd"] == row
    run("v2")  # a retrained model is attacked afresh
    assert len(calls) == 2


@pytest.mark.parametrize("override, needle", [
    ("evaluation.robust_per_class=-1", "evaluation.robust_per_class must be an integer >= 0. "
                                       "Received: -1"),
    ('evaluation.robust_attacks=["apgd","cw"]', "robust_attacks must list untargeted attacks"),
    ('evaluation.robust_attacks=["fab"]', "robust_attacks names unknown attacks ['fab']"),
    ("evaluation.masking_eps=0", "evaluation.masking_eps must be a number > 0. Received: 0"),
    ("evaluation.masking_per_class=1.5", "evaluation.masking_per_class must be an integer >= 0"),
])
def test_recipe_rejects_bad_robust_suite_settings(override, needle):
    from lad_tf.recipe.schema import apply_overrides, recipe_from_dict

    with pytest.raises(LadError, match=re.escape(needle)):
        recipe_from_dict(apply_overrides({}, [override]))
    defaults = recipe_from_dict({}).evaluation
    assert (defaults.robust_per_class, defaults.robust_attacks, defaults.masking_eps,
            defaults.masking_per_class) == (100, ("apgd", "apgd_t", "square", "pgd_restarts"),
                                            1.0, 20)


def test_suite_plan_and_summary_follow_the_settings():
    import dataclasses

    from lad_tf.recipe.schema import EvaluationConfig

    cfg = dataclasses.replace(EvaluationConfig(), robust_per_class=3, masking_per_class=1,
                              attack_params={"pgd": {"nb_iter": 20}})
    plan = robust.suite_plan(cfg, 10)
    assert list(plan.attacks) == ["apgd", "apgd_t", "square", "pgd_restarts"]
    assert plan.attacks["square"]["max_iter"] == 5000  # AutoAttack's Square, not Square-100
    assert plan.reference["nb_iter"] == 20 and plan.reference["seed"] == 0
    # Check (a): PGD at masking_eps with Madry's step, 2.5 * eps / steps.
    assert plan.masking["eps"] == 1.0 and plan.masking["eps_iter"] == pytest.approx(2.5 / 20)
    binary = robust.suite_plan(cfg, 2)
    assert "apgd_t" not in binary.attacks
    y = np.repeat(np.arange(2), 10)
    summary = robust.suite_summary(cfg, y, 2)
    assert summary["skipped"] == {"apgd_t": "DLR needs >= 3 classes; this task has 2"}
    assert (summary["examples"], summary["masking_examples"]) == (6, 2)
    assert summary["titles"]["pgd"] == "PGD-20" and summary["attacks"] == [
        "apgd", "square", "pgd_restarts"]
    no_masking = robust.suite_plan(dataclasses.replace(cfg, masking_per_class=0), 10)
    assert no_masking.masking is None
