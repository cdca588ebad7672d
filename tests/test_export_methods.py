"""Every model of a run can be served: `python -m lad_tf.export RUN --method NAME`
and `lad_tf.export_model(RUN, method=NAME)` export any defence the run trained
or its original classifier, with a model card that names it; bad input is one
`error:` line and writes nothing."""

from __future__ import annotations

import json
import shutil
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from _cli import assert_clean_error, run_main, run_module, snapshot

import lad_tf
from lad_tf.cli.export import main as export_main
from lad_tf.defences import title
from lad_tf.models import build_classifier
from lad_tf.recipe.schema import load_recipe
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import save_keras

CHOICE = {"rule": "highest validation worst case within 2 points of the original's clean "
                  "accuracy", "max_clean_drop": 2.0, "eps": 0.1, "norm": "linf",
          "suite": ["PGD-20"], "examples": 40,
          "candidates": {"original": {"clean": 0.9, "worst_case": 0.1, "eligible": True},
                         "lad": {"clean": 0.89, "worst_case": 0.3, "eligible": True},
                         "pgd-at": {"clean": 0.8, "worst_case": 0.5, "eligible": False}},
          "chosen": "lad", "forced": False, "warning": None}
FILES = {"original": "classifier.keras", "lad": "methods/lad.keras",
         "pgd-at": "methods/pgd-at.keras", "lad-eps-0.3": "methods/lad-eps-0.3.keras"}
# the recipe's export.name is lenet_digits_lad; the run exports lad
NAMES = {"lad": "lenet_digits_lad", "pgd-at": "lenet_digits_lad_pgd-at",
         "original": "lenet_digits_lad_original"}
ACCURACY = {"original": 0.9, "lad": 0.88, "pgd-at": 0.8}  # the evaluation's clean accuracy


def _row(accuracy: float) -> dict:
    return {"clean_accuracy": accuracy, "pgd_accuracy": accuracy / 2, "details": {"pgd": []}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished-looking run (no pipeline): three LeNets with different weights
    as the original and the defences lad and pgd-at, a sweep model, hardened.keras
    (= lad, the run's choice), recipe, metrics/harden.json and report.json.

    Returns: (run directory, {name: Keras model}, images float32 [4, 28, 28, 1])."""
    run_dir = tmp_path_factory.mktemp("run")
    (run_dir / "methods").mkdir()
    models = {}
    for seed, (key, file) in enumerate(FILES.items()):
        keras.utils.set_random_seed(seed)
        models[key] = build_classifier("lenet")
        save_keras(models[key], run_dir / file)
    shutil.copy(run_dir / FILES["lad"], run_dir / "hardened.keras")
    recipe = load_recipe("digits").to_dict()
    recipe["hardening"]["methods"] = ["lad", "pgd-at"]
    recipe["export"]["name"] = "lenet_digits_lad"
    (run_dir / "recipe.json").write_text(json.dumps(recipe))
    (run_dir / "metrics").mkdir()
    (run_dir / "metrics" / "harden.json").write_text(json.dumps(
        {"exported_method": "lad", "export_choice": CHOICE}))
    rows = {key: _row(accuracy) for key, accuracy in ACCURACY.items()}
    evaluation = {"samples": {"pgd": 100}, "attack_titles": {"pgd": "PGD-20"}, "models": rows,
                  "original": rows["original"], "hardened": rows["lad"], "exported_method": "lad"}
    (run_dir / "report.json").write_text(json.dumps(
        {"dataset": {"name": "digits"}, "stages": {"evaluate": evaluation}}))
    x = np.random.default_rng(0).uniform(0, 1, (4, 28, 28, 1)).astype("float32")
    return run_dir, models, x


def check_export(path, model, x, key: str, chosen: bool) -> dict:
    """The SavedModel answers as `model` does and its card names `key`; returns the card."""
    served = tf.saved_model.load(str(path)).signatures["serving_default"]
    logits = served(images=tf.constant(x))["logits"].numpy()
    np.testing.assert_allclose(logits, np.asarray(model(x)), atol=1e-5)
    card = json.loads((path / "assets" / "model_card.json").read_text())
    assert card["method"] == (title(key) if key != "original"
                              else "none (the run's original classifier)")
    assert (card["method_key"], card["chosen_by_run"]) == (key, chosen)
    assert card["export_choice"] == CHOICE
    assert set(card["evaluation"]) == {"samples", "attack_titles", key}  # that model's row only
    assert card["evaluation"][key] == {"clean_accuracy": ACCURACY[key],
                                       "pgd_accuracy": ACCURACY[key] / 2}  # no details
    return card


def test_the_models_differ(run):
    """Each check below could fail: the three models' logits are far apart."""
    _, models, x = run
    logits = {key: np.asarray(models[key](x)) for key in ("original", "lad", "pgd-at")}
    for a in logits:
        for b in logits:
            if a < b:
                assert np.abs(logits[a] - logits[b]).max() > 1e-2, (a, b)


@pytest.mark.parametrize("method", ["lad", "pgd-at", "original"])
def test_cli_exports_each_method_and_the_original(run, tmp_path, capfd, method):
    run_dir, models, x = run
    result = run_main(export_main, run_dir, "--method", method, cwd=tmp_path, capfd=capfd)
    path = f"export/models/{NAMES[method]}/1"  # the recipe's export.base, in the working folder
    assert (result.returncode, result.stdout.strip()) == (0, f"exported {path}"), result.stderr
    card = check_export(tmp_path / path, models[method], x, method, chosen=method == "lad")
    assert card["model_file"] == FILES[method]


def test_cli_without_method_exports_the_runs_choice(run, tmp_path, capfd):
    run_dir, models, x = run
    result = run_main(export_main, run_dir, "--base", tmp_path, cwd=tmp_path, capfd=capfd)
    assert result.returncode == 0, result.stderr
    card = check_export(tmp_path / "lenet_digits_lad" / "1", models["lad"], x, "lad", True)
    assert card["model"] == "hardened" and card["model_file"] == "hardened.keras"
    # --model original, the older spelling of --method original
    assert run_main(export_main, run_dir, "--model", "original", "--base", tmp_path,
                    cwd=tmp_path, capfd=capfd).returncode == 0
    check_export(tmp_path / "lenet_digits_lad_original" / "1", models["original"], x, "original",
                 False)


def test_cli_entry_point_in_a_fresh_process(run, tmp_path):
    """`python -m lad_tf.export` loads methods/pgd-at.keras after only `import lad_tf`."""
    run_dir, models, x = run
    result = run_module("lad_tf.export", run_dir, "--method", "pgd-at", "--name", "served",
                        "--base", tmp_path, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    check_export(tmp_path / "served" / "1", models["pgd-at"], x, "pgd-at", False)


@pytest.mark.parametrize("method", ["lad", "pgd-at", "original"])
def test_api_exports_a_method_of_a_run(run, tmp_path, method):
    run_dir, models, x = run
    path = lad_tf.export_model(str(run_dir), base=tmp_path, method=method)
    assert path == tmp_path / NAMES[method] / "1"
    check_export(path, models[method], x, method, chosen=method == "lad")


def test_api_default_is_the_runs_choice_and_a_model_takes_no_method(run, tmp_path):
    run_dir, models, x = run
    path = lad_tf.export_model(run_dir, tmp_path, "mine")  # a Path, base and name positional
    assert path == tmp_path / "mine" / "1"
    check_export(path, models["lad"], x, "lad", True)
    with pytest.raises(LadError, match="run directory"):
        lad_tf.export_model(models["lad"], tmp_path, "m", method="pgd-at")


def _broken_runs(run_dir, tmp_path) -> dict:
    """Copies of the run whose pgd-at file is missing (the recipe lists it), not a
    zip archive, or a zip archive without a Keras model."""
    runs = {case: tmp_path / case for case in ("missing", "corrupt", "alien")}
    for folder in runs.values():
        shutil.copytree(run_dir, folder)
    (runs["missing"] / FILES["pgd-at"]).unlink()
    (runs["corrupt"] / FILES["pgd-at"]).write_bytes(b"not a zip file")
    with zipfile.ZipFile(runs["alien"] / FILES["pgd-at"], "w") as archive:
        archive.writestr("notes.txt", "no config.json here")
    return runs


BAD = {  # name: (arguments, what the error line says)
    "untrained method": (["{run}", "--method", "trades"],
                         ["trades", "did not train", "it has lad, pgd-at, original"]),
    "sweep model": (["{run}", "--method", "lad-eps-0.3"], ["it has lad, pgd-at, original"]),
    "file missing": (["{missing}", "--method", "pgd-at"],
                     ["has not trained pgd-at", "methods/pgd-at.keras", "--resume"]),
    "not a zip": (["{corrupt}", "--method", "pgd-at"],
                  ["cannot load", "pgd-at.keras", "not a .keras file"]),
    "no model inside": (["{alien}", "--method", "pgd-at"], ["cannot load", "pgd-at.keras"]),
    "both spellings": (["{run}", "--method", "lad", "--model", "original"], ["--method"]),
}


def test_every_bad_input_is_one_error_line_and_writes_nothing(run, tmp_path, capfd):
    run_dir, models, _ = run
    base = tmp_path / "models"
    lad_tf.export_model(models["lad"], base, "lenet_digits_lad_pgd-at")  # a version already there
    runs = {"run": run_dir, **_broken_runs(run_dir, tmp_path)}
    before = snapshot(base), sorted(base.rglob("*"))
    for case, (args, needles) in BAD.items():
        args = [a.format(**runs) for a in args]
        result = run_main(export_main, *args, "--base", base, cwd=tmp_path, capfd=capfd)
        assert_clean_error(result, *needles)
        assert "lad-eps" not in result.stderr.partition("it has")[2], case  # sweeps: not listed
        assert (snapshot(base), sorted(base.rglob("*"))) == before, case


def test_another_method_never_takes_the_served_models_name():
    """A run that serves PGD-AT as lenet_digits_lad: exporting its LAD model
    must not become version 2 of lenet_digits_lad (TF Serving would serve it)."""
    from lad_tf.runs.exportable import default_name

    recipe = {"export": {"name": "lenet_digits_lad"}}
    assert default_name({"recipe": recipe, "chosen_by_run": True,
                         "method_key": "pgd-at"}) == "lenet_digits_lad"
    assert default_name({"recipe": recipe, "chosen_by_run": False,
                         "method_key": "lad"}) == "lenet_digits_lad_lad"
    assert default_name({"recipe": recipe, "chosen_by_run": False,
                         "method_key": "lad+pgd"}) == "lenet_digits_lad_lad-pgd"
