"""lad_tf.attacks.budget: the one copy of attack parameters, titles and
the batch / progress policy."""

import dataclasses

import numpy as np
import pytest

from lad_tf.attacks import budget
from lad_tf.recipe.schema import EvaluationConfig


def test_attack_params_share_the_recipe_budget():
    cfg = dataclasses.replace(EvaluationConfig(), fgsm_eps=0.2, pgd_eps=0.25, pgd_step=0.02,
                              pgd_iterations=7, seed=3,
                              attack_params={"mim": {"decay_factor": 0.5}, "pgd": {"nb_iter": 9}})
    assert budget.attack_params(cfg, "fgsm") == {"eps": 0.2}
    assert budget.attack_params(cfg, "pgd") == {"eps": 0.25, "eps_iter": 0.02, "nb_iter": 9,
                                                "seed": 3}  # the recipe's override wins
    assert budget.attack_params(cfg, "bim") == {"eps": 0.25, "eps_iter": 0.02, "nb_iter": 7}
    assert budget.attack_params(cfg, "mim") == {"eps": 0.25, "eps_iter": 0.02, "nb_iter": 7,
                                                "decay_factor": 0.5}
    assert budget.attack_params(cfg, "pgd_restarts") == {"eps": 0.25, "eps_iter": 0.02, "seed": 3}
    for name in ("apgd", "square", "apgd_t"):
        assert budget.attack_params(cfg, name) == {"eps": 0.25}
    assert budget.attack_params(cfg, "jsma") == {}


def test_titles():
    cfg = EvaluationConfig()
    assert budget.attack_title(cfg, "pgd") == "PGD-40 (eps 0.3)"
    assert budget.attack_title(cfg, "square") == "Square (black box) (eps 0.3)"
    assert budget.attack_title(cfg, "pgd_restarts") == "PGD-100 x 5 restarts (eps 0.3)"
    assert budget.attack_title(cfg, "apgd_t") == "APGD-T (DLR, 9 targets x 100 steps) (eps 0.3)"
    assert budget.attack_title(cfg, "cw") == "C&W-L2 (targeted)"
    square = budget.suite_params("square", {"eps": 0.3})
    assert square == {"max_iter": 5000, "eps": 0.3}
    assert budget.suite_title("square", square) == "Square (5000 queries)"
    assert budget.suite_title("apgd", {"nb_random_init": 3}) == "APGD-CE (100 steps x 3 restarts)"


def test_quick_settings_keep_the_recipes_own_attack_params():
    cfg = dataclasses.replace(EvaluationConfig(), attack_params={"cw": {"max_iter": 2}})
    quick = budget.quick_settings(cfg)
    assert quick.per_class == 3 and quick.robust_per_class == 2
    assert quick.attack_params["cw"] == {"max_iter": 2}
    assert quick.attack_params["square"] == {"max_iter": 20}
    assert quick.pgd_eps == cfg.pgd_eps


def test_batch_and_progress_policy():
    assert budget.attack_batch_size("pgd", 500) == 500  # cleverhans: whole batches
    assert budget.attack_batch_size("pgd_restarts", 500) == 500
    assert budget.attack_batch_size("jsma", 500) == 128  # ART: at most 128
    assert budget.attack_batch_size("cw", 64) == 64
    assert budget.progress_logger(print, "lad", "pgd", 100, 128) is None  # one batch
    lines = []
    progress = budget.progress_logger(lines.append, "lad", "jsma", 1000, 10)
    for done in range(10, 1001, 10):
        progress(done, 1000)
    assert len(lines) == 4 and lines[-1] == "  lad jsma: 1000/1000 images"
    unlabelled = []
    budget.progress_logger(unlabelled.append, "", "cw", 300, 128)(300, 300)
    assert unlabelled == ["  cw: 300/300 images"]


def test_run_attack_crafts_with_the_budget(trained_lenet, mnist):
    cfg = dataclasses.replace(EvaluationConfig(), fgsm_eps=0.1, batch_size=4)
    x, y = mnist.x_test[:6], mnist.y_test[:6]
    lines = []
    x_adv = budget.run_attack("fgsm", trained_lenet, x, y, None, cfg, lines.append, "original")
    assert x_adv.shape == x.shape and np.abs(x_adv - x).max() == pytest.approx(0.1, abs=1e-6)
    assert lines[-1] == "  original fgsm: 6/6 images"
    stronger = budget.run_attack("fgsm", trained_lenet, x, y, None, cfg, lines.append,
                                 "original", params={"eps": 0.2})
    assert np.abs(stronger - x).max() == pytest.approx(0.2, abs=1e-6)
