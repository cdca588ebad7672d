"""Issue 23, end to end: the mnist recipe (svm.per_class 200, hardening.per_class
200, ...) on a folder of 30 real MNIST digits per class runs to the end,
with the per-class counts that do not fit lowered to what the folder holds.
Only budgets are set (epochs, steps, attack iterations, which attacks and
defences run); no per-class count is."""

from __future__ import annotations

import json

import pytest
from _cli import run_main, run_module
from _folders import mnist_digits, write_png_folder

from lad_tf.cli.harden import main as harden_main

BUDGETS = [
    "classifier.epochs=1", "generator.epochs=1", "svm.epochs=1", "hardening.epochs=1",
    "hardening.sweep_eps=[1.0]", "generation.eps_sweep=[1.0]", "selection.pgd_steps=2",
    'evaluation.attacks=["fgsm","pgd"]', "evaluation.transfer_attacks=[]",
    "evaluation.pgd_iterations=3", 'evaluation.robust_attacks=["pgd_restarts"]',
    'evaluation.attack_params={"pgd_restarts": {"nb_iter": 2, "restarts": 1}, '
    '"jsma": {"gamma": 0.01}}',
    'export.attack_params={"pgd_restarts": {"nb_iter": 2, "restarts": 1}}',
]
BUDGET_ARGS = ["--method", "lad", *[arg for pair in BUDGETS for arg in ("--set", pair)]]
# 30 images per class: 6 test, then 4 provider (class 0; 5 for one class), 20 train / validation.
LOWERED = {"svm.per_class": (200, 4), "generation.per_class": (50, 4),
           "hardening.per_class": (200, 4), "hardening.sweep_per_class": (50, 4),
           "evaluation.diversity_per_class": (5, 4), "evaluation.lad_per_class": (10, 6)}


@pytest.mark.slow
def test_mnist_recipe_runs_to_the_end_on_30_images_per_class(data_dir, tmp_path, capfd):
    folder = write_png_folder(tmp_path / "digits", *mnist_digits(data_dir, 30))
    run_dir = tmp_path / "run"
    result = run_module("lad_tf.harden", "--data", str(folder), "--dataset", "mnist",
                        "--run-dir", str(run_dir), "--export-base", str(tmp_path / "serving"),
                        *BUDGET_ARGS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    recipe = json.loads((run_dir / "recipe.json").read_text())
    for key, (asked, fitted) in LOWERED.items():
        section, name = key.split(".")
        assert recipe[section][name] == fitted, key
        line = f"recipe: {key} {asked} -> {fitted} (the "
        assert result.stderr.count(line) == 1, key  # printed once
    assert "the provider split's smallest class, '0', has 4 images" in result.stderr
    record = json.loads((run_dir / "recipe_fitted.json").read_text())
    assert {c["key"]: (c["from"], c["to"]) for c in record["changes"]} == LOWERED
    assert recipe["evaluation"]["per_class"] == 450  # takes what each class has: kept
    assert "evaluation.per_class" in {c["key"] for c in record["capped"]}
    # The stages drew the lowered counts.
    metrics = json.loads((run_dir / "report.json").read_text())["stages"]
    assert metrics["generate"]["hardening_set"]["per_class"] == 4
    assert metrics["generate"]["sweep_per_class"] == 4
    assert (run_dir / "export.json").is_file() and (tmp_path / "serving").is_dir()
    # Resumed with the same flags, the run's fitted recipe is the one asked for.
    again = run_main(harden_main, "--data", folder, "--dataset", "mnist", "--run-dir", run_dir,
                     "--resume", "--export-base", tmp_path / "serving", *BUDGET_ARGS,
                     "--stop-after", "classifier", cwd=tmp_path, capfd=capfd)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "reusing classifier.keras" in again.stderr
    assert json.loads((run_dir / "recipe.json").read_text()) == recipe
    assert json.loads((run_dir / "recipe_fitted.json").read_text()) == record
