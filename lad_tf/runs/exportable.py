"""A finished run's models: which can be exported, their files, their model-card facts.

A run directory written by `python -m lad_tf.harden` holds classifier.keras
(the original), `methods/<method>.keras` for each defence it trained (and
Fig. 7's `lad-eps-*` sweep models), hardened.keras (the model the run chose
to export, named by `exported_method` in metrics/harden.json and in
report.json's `stages.harden`; runs made before the choice existed export
`hardening.methods[0]`), recipe.json and report.json. `lad_tf.serving.export`
exports any of these models with the facts read here.
"""

from __future__ import annotations

import re
from pathlib import Path

import tensorflow as tf

from lad_tf._version import __version__
from lad_tf.defences import title as defence_title
from lad_tf.recipe.names import ORIGINAL
from lad_tf.runs.run_dir import RunDir, harden_record
from lad_tf.utils.errors import LadError

ORIGINAL_TITLE = "none (the run's original classifier)"


def _model_file(run: RunDir, which: str, recipe: dict) -> Path:
    """The `.keras` file of `which` ("hardened", "original" or a method of the run)."""
    if which in ("hardened", ORIGINAL):
        return run.model_path(which)
    available = [*run.methods(), ORIGINAL]
    if which in available:
        return run.model_path(which)
    if which in recipe.get("hardening", {}).get("methods", []):
        raise LadError(f"{run.path} has not trained {which} yet (methods/{which}.keras is "
                       f"missing); resume the run with python -m lad_tf.harden --run-dir "
                       f"{run.path} --resume")
    raise LadError(f"--method {which}: {run.path} did not train it; it has "
                   f"{', '.join(available)}")


def _card_evaluation(evaluation: dict | None, key: str, hardened: bool) -> dict | None:
    """The evaluation reduced to model `key`'s row (without per-attack details);
    a run evaluated before `models` existed: as it is for hardened.keras, the
    `original` row for the original, None for another defence."""
    if not evaluation:
        return evaluation
    row = (evaluation.get("models") or {}).get(key)
    if row is None and key == ORIGINAL and not hardened:
        row = evaluation.get(ORIGINAL)
    if row is None:
        return evaluation if hardened else None
    keep = {k: evaluation[k] for k in ("samples", "attack_titles", "robust") if k in evaluation}
    return {**keep, key: {k: v for k, v in row.items() if k != "details"}}


def run_metadata(run_dir: Path, which: str = "hardened") -> dict:
    """The model-card facts of a model of a run directory (the pipeline's keys).

    Args:
        run_dir: a run directory written by `python -m lad_tf.harden`.
        which: "hardened" (hardened.keras, the run's exported model),
            "original" (classifier.keras) or a defence the run trained.

    Returns:
        dataset, method (its title), method_key, chosen_by_run,
        export_choice, threat, recipe, evaluation (that model's row),
        run_dir, model, model_file and the versions.
    """
    run = RunDir(run_dir, "pass a run directory written by python -m lad_tf.harden")
    run_dir, recipe = run.path, run.recipe_dict()
    report = run.read_json("report.json", default={})
    evaluation = report.get("stages", {}).get("evaluate") or run.read_json("evaluation.json",
                                                                              default={}) or None
    record = harden_record(run_dir, recipe.get("hardening", {}).get("methods", ()))
    key = record["exported_method"] if which == "hardened" else which
    model_file = _model_file(run, which, recipe)
    return {
        "lad_tf_version": __version__,
        "tensorflow_version": tf.__version__,
        "dataset": report.get("dataset", {"name": recipe.get("data", {}).get("dataset")}),
        "method": ORIGINAL_TITLE if key == ORIGINAL else defence_title(key),
        "method_key": key,
        "chosen_by_run": key == record["exported_method"],
        "export_choice": record["export_choice"],
        "threat": {"norm": "linf", "eps": recipe.get("evaluation", {}).get("pgd_eps"),
                   "recipe": recipe.get("name")},
        "recipe": recipe,
        "evaluation": _card_evaluation(evaluation, key, which == "hardened"),
        "run_dir": str(run_dir),
        "model": which,
        "model_file": str(model_file.relative_to(run_dir)),
    }


def default_name(metadata: dict) -> str | None:
    """The export name of a run's model: the recipe's `export.name` for the
    model the run chose, else `<export.name>_<method>` (a folder name), so
    another model never becomes a newer version of the served one."""
    name = (metadata["recipe"].get("export") or {}).get("name")
    if not name or metadata["chosen_by_run"]:
        return name
    method = re.sub(r"[^A-Za-z0-9_.-]+", "-", metadata["method_key"]).strip(".-") or "model"
    return f"{name}_{method}"
