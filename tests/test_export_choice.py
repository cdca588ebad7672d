"""Issue 23, items 1-2: the exported model is chosen by measurement on the
validation split, and a model weaker than the original is never exported
silently (`lad_tf.evaluation.choice`)."""

from __future__ import annotations

import types

import keras
import numpy as np
import pytest

import lad_tf.models  # noqa: F401  registers LeNet for load_model
from lad_tf.evaluation.choice import (
    choice_lines,
    choose,
    choose_export,
    exported_method,
)
from lad_tf.recipe.schema import load_recipe
from lad_tf.utils.files import save_keras


def test_the_most_robust_eligible_model_is_chosen():
    figures = {"original": {"clean": 0.94, "worst_case": 0.34},
               "lad": {"clean": 0.95, "worst_case": 0.10},
               "pgd-at": {"clean": 0.96, "worst_case": 0.80},
               "trades": {"clean": 0.90, "worst_case": 0.95}}  # 4 points of clean lost
    choice = choose(figures, max_clean_drop=2.0)
    assert choice["chosen"] == choice["best"] == "pgd-at" and not choice["forced"]
    assert [n for n, r in choice["candidates"].items() if not r["eligible"]] == ["trades"]
    assert choose(figures, max_clean_drop=5.0)["chosen"] == "trades"  # now within the drop


def test_a_defence_weaker_than_the_original_is_never_chosen():
    figures = {"original": {"clean": 0.94, "worst_case": 0.34},
               "lad": {"clean": 0.99, "worst_case": 0.10}}
    assert choose(figures, 2.0)["chosen"] == "original"
    # A tie in worst case goes to the higher clean accuracy, then to the original.
    assert choose({"original": {"clean": 0.9, "worst_case": 0.0},
                   "lad": {"clean": 0.92, "worst_case": 0.0}}, 2.0)["chosen"] == "lad"
    assert choose({"original": {"clean": 0.9, "worst_case": 0.0},
                   "lad": {"clean": 0.9, "worst_case": 0.0}}, 2.0)["chosen"] == "original"


def test_forcing_a_weaker_model_warns_by_how_much():
    figures = {"original": {"clean": 0.94, "worst_case": 0.34},
               "lad": {"clean": 0.93, "worst_case": 0.10},
               "trades": {"clean": 0.80, "worst_case": 0.50}}
    choice = choose(figures, 2.0, forced="lad")
    assert choice["chosen"] == "lad" and choice["best"] == "original" and choice["forced"]
    assert "24.00 points below the original's 34.00%" in choice["warning"]
    assert "more than 2 points below" in choose(figures, 2.0, forced="trades")["warning"]
    assert choose(figures, 2.0, forced="original")["warning"] is None


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory, trained_lenet, mnist):
    """A run directory whose LAD model is the original with its last layer
    scrambled (weaker on validation), and its PGD-AT model the original itself."""
    run_dir = tmp_path_factory.mktemp("planted")
    save_keras(trained_lenet, run_dir / "classifier.keras")
    (run_dir / "methods").mkdir()
    weak = keras.models.clone_model(trained_lenet)
    weak.set_weights(trained_lenet.get_weights())
    kernel = weak.weights[-2]
    kernel.assign(np.random.default_rng(0).normal(0, 0.05, kernel.shape).astype("float32"))
    save_keras(weak, run_dir / "methods" / "lad.keras")
    save_keras(trained_lenet, run_dir / "methods" / "pgd-at.keras")
    x_val, y_val = mnist.x_train[-500:], mnist.y_train[-500:]  # never seen by trained_lenet
    data = types.SimpleNamespace(x_validation=x_val, y_validation=y_val, num_classes=10)
    return run_dir, data


def planted_recipe(*overrides):
    return load_recipe("mnist", None, [
        'hardening.methods=["lad","pgd-at"]', "export.per_class=5",
        'evaluation.robust_attacks=["apgd","pgd_restarts"]', "evaluation.pgd_eps=0.05",
        'export.attack_params={"apgd":{"max_iter":5},"pgd_restarts":{"nb_iter":5,"restarts":1}}',
        *overrides])


def test_a_planted_weaker_defence_is_not_exported(planted_run):
    run_dir, data = planted_run
    lines = []
    choice = choose_export(run_dir, planted_recipe(), data, keras.models.load_model, lines.append)
    rows = choice["candidates"]
    assert set(rows) == {"original", "lad", "pgd-at"} and choice["examples"] == 50
    assert rows["lad"]["clean"] < rows["original"]["clean"] - 0.02  # the plant is weaker
    assert rows["pgd-at"] == rows["original"]  # the same weights: the same figures
    assert choice["chosen"] == "original" and choice["warning"] is None  # tie: the original
    assert any(line.startswith("export choice: original (rule: highest validation worst case")
               for line in lines)
    assert (run_dir / "export-choice" / "lad-per-image.npz").is_file()  # cached per model


def test_forcing_the_planted_weaker_defence_warns(planted_run):
    run_dir, data = planted_run
    lines = []
    choice = choose_export(run_dir, planted_recipe("export.method=lad"), data,
                           keras.models.load_model, lines.append)
    assert choice["chosen"] == "lad" and choice["forced"] and choice["warning"]
    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == 1 and "points below the original's" in warnings[0]
    assert choice_lines(choice) == lines[-len(choice_lines(choice)):]


def test_a_run_without_a_validation_split_exports_its_first_method(tmp_path):
    data = types.SimpleNamespace(x_validation=np.zeros((0, 28, 28, 1), "float32"),
                                 y_validation=np.zeros((0,), "int64"), num_classes=10)
    choice = choose_export(tmp_path, planted_recipe(), data, keras.models.load_model, print)
    assert choice["chosen"] == "lad" and choice["candidates"] == {}


def test_exported_method_reads_the_run_or_falls_back(tmp_path):
    recipe = planted_recipe()
    assert exported_method(tmp_path, recipe) == "lad"  # a run made before the choice
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "harden.json").write_text('{"exported_method": "original"}')
    assert exported_method(tmp_path, recipe) == "original"


def test_export_method_the_run_does_not_train_is_one_error_line(tmp_path, capfd):
    from _cli import assert_clean_error, run_main, snapshot

    from lad_tf.cli.harden import main as harden_main

    (tmp_path / "export" / "models" / "lenet_digits_lad_demo" / "1").mkdir(parents=True)
    (tmp_path / "export" / "models" / "lenet_digits_lad_demo" / "1" / "saved_model.pb").write_text("x")
    before = snapshot(tmp_path)
    result = run_main(harden_main, "--export-method", "trades", "--run-dir", "run",
                      cwd=tmp_path, capfd=capfd)
    assert_clean_error(result, "'trades' is not a model this run builds",
                       "['auto', 'original', 'lad', 'pgd-at']", "--method")
    assert snapshot(tmp_path) == before and not (tmp_path / "run").exists()
