"""`python -m lad_tf.evaluate RUN_DIR [--quick] [--data-dir D] [--set evaluation.K=V]
[--method A,B]`: the robustness report of a finished (or resumed) run."""

from __future__ import annotations

import json
from pathlib import Path

from lad_tf.data import load_dataset
from lad_tf.data.own_data import load_run_data
from lad_tf.evaluation.costs import method_seconds
from lad_tf.evaluation.run import RunEvaluation
from lad_tf.evaluation.tables import render_tables
from lad_tf.recipe.schema import apply_overrides, recipe_from_dict
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import write_text
from lad_tf.utils.monitoring import RunSummaries, log


def load_run_recipe(run_dir: Path, overrides=()):
    """The run's recipe.json with `overrides` (evaluation settings only) applied."""
    saved = run_dir / "recipe.json"
    if not saved.is_file():
        raise LadError(f"{run_dir} is not a run directory (no recipe.json); pass the folder that "
                       "`python -m lad_tf.harden` wrote")
    bad = [o for o in overrides if not o.startswith("evaluation.")]
    if bad:
        raise LadError(f"--set may only change evaluation settings here. Received: {bad}")
    return recipe_from_dict(apply_overrides(json.loads(saved.read_text()), list(overrides)))


def parse_methods(methods: str | None, recipe) -> list[str] | None:
    """--method's comma-separated names, checked against the run's hardening.methods."""
    if methods is None:
        return None
    names = [m.strip() for m in methods.split(",") if m.strip()]
    unknown = [m for m in names if m not in recipe.hardening.methods]
    if unknown or not names:
        raise LadError(f"--method names {unknown or 'nothing'}, but this run trains "
                       f"{list(recipe.hardening.methods)}; pass some of those, comma-separated")
    return names


def load_run_splits(run_dir: Path, recipe, data_dir=None):
    """The run's `DatasetSplits`: its own data (data.json) or the recipe's dataset."""
    d = recipe.data
    if (run_dir / "data.json").is_file():  # a run of your own data (--data): the same data
        return load_run_data(run_dir, d, log=log)
    return load_dataset(d.dataset, data_dir=data_dir, provider_fraction=d.provider_fraction,
                        seed=d.seed, use_tfds=d.use_tfds, image_size=d.image_size,
                        channels=d.channels, max_images=d.max_images)


def evaluate_run_dir(run_dir, quick=False, data_dir=None, overrides=(), methods=None) -> dict:
    """Evaluates a run directory and writes its report.

    Args:
        run_dir: a run of `python -m lad_tf.harden`.
        quick: a few images per attack (evaluation-quick.json, robustness-quick.md).
        data_dir: the dataset folder, for a zoo dataset.
        overrides: "evaluation.KEY=VALUE" strings.
        methods: "A,B": the original and only these methods; None: all.

    Returns:
        the evaluation result (`RunEvaluation.run`); RUN_DIR/robustness.md
        holds its tables.

    Raises:
        LadError: not a run directory, an override outside `evaluation.`, or
            a method the run does not train.
    """
    run_dir = Path(run_dir)
    recipe = load_run_recipe(run_dir, overrides)
    names = parse_methods(methods, recipe)
    data = load_run_splits(run_dir, recipe, data_dir)
    evaluation = RunEvaluation(run_dir, recipe, data, quick=quick, summaries=RunSummaries(run_dir),
                               log=log, methods=names)
    result = evaluation.run()
    name = "robustness-quick.md" if quick else "robustness.md"
    write_text(run_dir / name, f"# Robustness of {run_dir.name}\n\n"
               + render_tables(result, method_seconds(run_dir), recipe.data.dataset))
    log(f"evaluation: {run_dir / name} ({result['seconds']:.0f} s)")
    return result
