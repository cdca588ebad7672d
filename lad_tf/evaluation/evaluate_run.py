"""`python -m lad_tf.evaluate RUN_DIR [--quick] [--data-dir D] [--set evaluation.K=V]
[--method A,B]`: the robustness report of a finished (or resumed) run."""

from __future__ import annotations

from lad_tf.evaluation.costs import method_seconds
from lad_tf.evaluation.run import RunEvaluation
from lad_tf.evaluation.tables import render_tables
from lad_tf.runs.run_dir import RunDir
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import write_text
from lad_tf.utils.monitoring import RunSummaries, log


def load_run_recipe(run: RunDir, overrides=()):
    """The run's recipe with `overrides` (evaluation settings only) applied."""
    bad = [o for o in overrides if not o.startswith("evaluation.")]
    if bad:
        raise LadError(f"--set may only change evaluation settings here. Received: {bad}")
    return run.recipe(overrides)


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
    run = RunDir(run_dir)
    run_dir = run.path
    recipe = load_run_recipe(run, overrides)
    names = parse_methods(methods, recipe)
    data = run.splits(data_dir, log=log, recipe=recipe)  # split as the run's stages split it
    evaluation = RunEvaluation(run_dir, recipe, data, quick=quick, summaries=RunSummaries(run_dir),
                               log=log, methods=names)
    result = evaluation.run()
    name = "robustness-quick.md" if quick else "robustness.md"
    write_text(run_dir / name, f"# Robustness of {run_dir.name}\n\n"
               + render_tables(result, method_seconds(run_dir), recipe.data.dataset))
    log(f"evaluation: {run_dir / name} ({result['seconds']:.0f} s)")
    return result
