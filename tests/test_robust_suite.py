"""The robust suite (lad_tf.robust_suite): APGD-T and PGD with restarts on a
real, undefended LeNet, the worst case per image, the gradient-masking
checks, the per-image cache, the report rows and the frontier figure."""

import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from lad_tf import figures, robust_suite
from lad_tf.attacks import craft
from lad_tf.batching import predict_labels
from lad_tf.errors import LadError
from lad_tf.evaluate import ResultCache, balanced_subset, render_tables


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
    worst = robust_suite.worst_case(clean, per_attack)
    assert worst.dtype == bool and worst.shape == clean.shape
    for name, c in per_attack.items():
        assert worst.mean() <= c.mean(), name
        assert not np.any(worst & ~c), name  # never robust where an attack fooled it
    np.testing.assert_array_equal(worst, clean & np.logical_and.reduce(list(per_attack.values())))
    with pytest.raises(ValueError, match="same images"):
        robust_suite.worst_case(clean, {"fgsm": per_attack["fgsm"][:10]})


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
    checks = robust_suite.masking_checks(accuracy, high_eps)
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
        per_image = robust_suite.PerImageCache(tmp_path, "lad", cache.key)
        return robust_suite.cached_correct(cache, per_image, "robust:apgd", compute)

    row, first = run("v1")
    assert row["accuracy"] == 0.75 and row["examples"] == 4 and len(calls) == 1
    row, again = run("v1")  # a resumed evaluation reads both files
    assert len(calls) == 1 and again.tolist() == first.tolist()
    assert json.loads((tmp_path / "lad.json").read_text())["results"]["robust:apgd"] == row
    run("v2")  # a retrained model is attacked afresh
    assert len(calls) == 2


def _result():
    row = {"clean_accuracy": 0.99, "fgsm_accuracy": 0.5, "robust_examples": 20,
           "robust_clean_accuracy": 0.95, "robust_apgd_accuracy": 0.4, "robust_pgd_accuracy": 0.5,
           "robust_square_accuracy": 0.6, "robust_accuracy": 0.35,
           "masking_checks": robust_suite.masking_checks(
               {"apgd": 0.4, "pgd": 0.5, "square": 0.6}, 0.0)}
    masked = {**row, "masking_checks": robust_suite.masking_checks(
        {"apgd": 0.4, "pgd": 0.5, "square": 0.1}, 0.2)}
    suite = {"examples": 20, "per_class": 2, "eps": 0.3, "attacks": ["apgd", "square"],
             "titles": {"apgd": "APGD-CE (100 steps)", "square": "Square (5000 queries)",
                        "pgd": "PGD-40"}, "masking_eps": 1.0, "masking_examples": 10}
    return {"models": {"original": row, "not-a-registered-method": masked},
            "attack_titles": {"fgsm": "FGSM (eps 0.3)"}, "robust": suite,
            "settings": {"per_class": 2, "attacks": ["fgsm"], "transfer_attacks": []},
            "samples": {"untargeted": 20}}


def test_report_rows_show_worst_case_and_masking_flags():
    text = render_tables(_result())
    assert "| not-a-registered-method |" in text.splitlines()[4]  # unknown method: its name
    assert "| **worst case (robust accuracy)** | **35.00%** | **35.00%** |" in text
    assert "| Square (5000 queries) | 60.00% | 60.00% |" in text
    assert "| masking check (a): PGD at eps 1 ~ 0% | 0.00% PASS | 20.00% FLAG |" in text
    assert "60.00% vs 40.00% PASS | 10.00% vs 40.00% FLAG |" in text
    assert "| PGD-40, same images (check c) |" in text
    assert "ART 1.20 has no FAB" in text and "no FAB-T" in text
    assert "flagged: not-a-registered-method" in text


def test_frontier_figure_is_an_rgb_image():
    points = robust_suite.frontier_points(
        {"original": {"clean_accuracy": 0.99, "robust_accuracy": 0.0},
         "pgd-at": {"clean_accuracy": 0.98, "robust_accuracy": 0.9},
         "lad": {"clean_accuracy": 0.99, "robust_accuracy": 0.05},
         "no-suite": {"clean_accuracy": 0.9}}, {"pgd-at": 1200.0, "lad": 300.0})
    assert [p[0] for p in points] == ["original", "pgd-at", "lad"] and points[0][3] == 0.0
    image = figures.frontier_figure(points)
    assert image.dtype == np.float32 and image.ndim == 4 and image.shape[0] == 1
    assert image.shape[-1] == 3 and 0.0 <= image.min() and image.max() <= 1.0
    assert image.std() > 0.01
    with pytest.raises(ValueError, match="at least one point"):
        figures.frontier_figure([])


def test_frontier_labels_of_close_points_keep_their_vertical_order():
    """Two defences 1.4 points apart: the higher point's label stays above
    the lower one's, at least the gap apart (they once looked swapped)."""
    heights = dict(figures._label_heights(np.array([0.0, 82.3, 83.7]),
                                          np.array([99.24, 98.54, 98.38]), gap=0.3))
    assert heights[0] == 99.24  # far from the others: at its own height
    assert heights[1] == 98.54 and heights[2] <= heights[1] - 0.3


def test_training_seconds_of_a_harden_stage_still_running(tmp_path):
    """Methods done before the harden stage finished have no metrics/harden.json
    entry yet; their time comes from methods/<name>.json."""
    from lad_tf.evaluate import method_seconds

    (tmp_path / "methods").mkdir()
    (tmp_path / "methods" / "pgd-at.json").write_text('{"seconds": 1278.6}')
    (tmp_path / "methods" / "trades.json").write_text('{"seconds": 4')  # being written
    assert method_seconds(tmp_path) == {"pgd-at": 1278.6}


@pytest.mark.parametrize("override, needle", [
    ("evaluation.robust_per_class=-1", "evaluation.robust_per_class must be an integer >= 0. "
                                       "Received: -1"),
    ('evaluation.robust_attacks=["apgd","cw"]', "robust_attacks must list untargeted attacks"),
    ('evaluation.robust_attacks=["fab"]', "robust_attacks names unknown attacks ['fab']"),
    ("evaluation.masking_eps=0", "evaluation.masking_eps must be a number > 0. Received: 0"),
    ("evaluation.masking_per_class=1.5", "evaluation.masking_per_class must be an integer >= 0"),
])
def test_recipe_rejects_bad_robust_suite_settings(override, needle):
    from lad_tf.config import apply_overrides, recipe_from_dict

    with pytest.raises(LadError, match=re.escape(needle)):
        recipe_from_dict(apply_overrides({}, [override]))
    defaults = recipe_from_dict({}).evaluation
    assert (defaults.robust_per_class, defaults.robust_attacks, defaults.masking_eps,
            defaults.masking_per_class) == (100, ("apgd", "apgd_t", "square", "pgd_restarts"),
                                            1.0, 20)
