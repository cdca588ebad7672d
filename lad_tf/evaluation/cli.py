"""`python -m lad_tf.evaluate RUN_DIR [--quick] [--data-dir D] [--set evaluation.K=V]
[--method A,B]`: the robustness report of a finished (or resumed) run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lad_tf.config import apply_overrides, recipe_from_dict
from lad_tf.data import load_dataset
from lad_tf.data.own_data import load_run_data
from lad_tf.errors import LadError, command
from lad_tf.evaluation.costs import method_seconds
from lad_tf.evaluation.run import RunEvaluation
from lad_tf.evaluation.tables import render_tables
from lad_tf.files import write_text
from lad_tf.monitoring import RunSummaries, log


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m lad_tf.evaluate",
        description="Robustness report of a LAD run: clean, white-box (cleverhans FGSM / PGD / "
                    "BIM / MIM, ART JSMA / C&W / APGD / Square), the robust suite (APGD-CE, "
                    "APGD-T, Square, PGD-100 x 5 restarts; worst case per image; masking "
                    "checks), transfer from a black-box CNN, LAD examples, diversity. Writes "
                    "RUN_DIR/evaluation.json and RUN_DIR/robustness.md.")
    parser.add_argument("run_dir", help="a run directory of `python -m lad_tf.harden`")
    parser.add_argument("--quick", action="store_true",
                        help="a few images per attack (evaluation-quick.json, robustness-quick.md)")
    parser.add_argument("--data-dir", default=None,
                        help="dataset folder (default: $LAD_DATA_DIR, then tfds / Keras caches)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="evaluation.KEY=VALUE",
                        help="override an evaluation setting, e.g. --set evaluation.cw_per_class=5")
    parser.add_argument("--method", default=None, metavar="NAME[,NAME...]",
                        help="evaluate the original and only these of the run's methods "
                             "(default: every trained method); results of the others stay "
                             "cached but out of this report")
    return parser.parse_args(argv)


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


@command
def main(argv=None) -> int:
    """The command: 0 on success, the error's exit code (2) on a LadError, 130 on Ctrl-C."""
    args = parse_args(argv)
    try:
        evaluate_run_dir(args.run_dir, args.quick, args.data_dir, args.overrides, args.method)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; finished results are cached: run the same command again to "
              "continue", file=sys.stderr)
        return 130
