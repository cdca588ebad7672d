"""An honest LAD study: `python -m lad_tf.study RUN_DIR`.

Sweeps LAD's own knobs (eps set and unit, alpha, epochs, learning rate,
only-inconsistent examples, and the authors' own setting: eps 0.5 in their
raw unit with long fine-tuning), each fine-tuning a fresh copy of the run's
original classifier with Eq. 4 on examples generated from the provider split,
and scores every variant on the VALIDATION split (never the test split):
clean accuracy, FGSM (cleverhans, eps 0.3) and PGD-20 (random start).

Each finished variant is cached in `RUN_DIR/study/<variant>.json`, so an
interrupted study continues; `RUN_DIR/study.json` and the figure
`RUN_DIR/figures/lad_study.png` sum it up. The run needs the data split with
`data.validation_fraction` > 0 and the classifier, generator and svm stages.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import keras
import numpy as np

import lad_tf.models  # noqa: F401 (registers the model classes, so keras loads their files)
from lad_tf.attacks import craft
from lad_tf.data.split_key import training_split_key
from lad_tf.defences.selection import RobustSelection
from lad_tf.defences.trainer import DefenceTrainer
from lad_tf.lad.boundary import generate
from lad_tf.lad.figures import new_figure, render
from lad_tf.lad.targets import run_generation_svm
from lad_tf.runs.run_dir import RunDir
from lad_tf.utils.cache import read_keyed_json, write_keyed_json
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import cache_key, fingerprint, write_json
from lad_tf.utils.metrics import accuracy
from lad_tf.utils.monitoring import RunSummaries, log
from lad_tf.utils.sampling import balanced_subset

# name -> hardening-section overrides (and "eps_unit" for generation)
VARIANTS = {
    "recipe": {},
    "eps-0.5": {"eps": [0.5]},
    "eps-3-5": {"eps": [3.0, 5.0]},
    "alpha-0.25": {"alpha": 0.25},
    "alpha-0.75": {"alpha": 0.75},
    "epochs-10": {"epochs": 10},
    "lr-0.001": {"learning_rate": 0.001},
    "lr-0.05": {"learning_rate": 0.05},
    "only-inconsistent": {"only_inconsistent": True},
    "authors-raw-eps-0.5-long": {"eps": [0.5], "eps_unit": "raw", "epochs": 20},
}

PIECES = ("classifier.keras", "generator.keras", "svm.keras")  # what a variant starts from


def _load(run_dir: Path):
    run = RunDir(run_dir)
    recipe = run.recipe()
    run.require(PIECES, f"run `python -m lad_tf.harden --resume --run-dir {run_dir} "
                        "--stop-after svm` first")
    data = run.splits(recipe=recipe)  # the run's own data (--data), else the recipe's
    if len(data.y_validation) == 0:
        raise LadError("the run has no validation split; the study never reads test images. "
                       "Start a run with --set data.validation_fraction=0.04")
    return recipe, data


def score(model, x, y, eps: float = 0.3) -> dict:
    """Validation accuracy: clean, FGSM and PGD-20 at `eps`."""
    clean, pgd = RobustSelection(model, x, y, eps=eps, steps=20).evaluate()
    x_fgsm = craft("fgsm", model, x, y=y, num_classes=model.num_classes, batch_size=500, eps=eps)
    fgsm = accuracy(model, x_fgsm, y)
    return {"clean": clean, "fgsm": fgsm, "pgd20": pgd}


def run_variant(run_dir, recipe, data, pieces, name, overrides) -> dict:
    """Generates the variant's set, fine-tunes the original and scores it."""
    classifier, generator, svm = pieces
    overrides = dict(overrides)
    unit = overrides.pop("eps_unit", recipe.generation.eps_unit)
    hard = dataclasses.replace(recipe.hardening, **{k: tuple(v) if isinstance(v, list) else v
                                                    for k, v in overrides.items()})
    targets, pair_svm = run_generation_svm(run_dir, svm, data.num_classes)  # svm.targets
    made = generate(classifier, generator, pair_svm, data.x_provider, data.y_provider,
                    targets.pairs, hard.per_class, list(hard.eps), unit, seed=recipe.data.seed)
    x_gen, y_gen = made.training_set(hard.only_inconsistent)
    # Every variant trains all its epochs and keeps its best validation epoch: with
    # the recipe's patience, validation PGD-20 that never leaves 0 stopped
    # "epochs-10" after 3 epochs, so it did not test longer fine-tuning.
    study_recipe = dataclasses.replace(recipe, hardening=hard, selection=dataclasses.replace(
        recipe.selection, patience=hard.epochs))
    fit = lambda stage, model, ds, epochs, val, cbs: model.fit(  # noqa: E731
        ds, epochs=epochs, verbose=0, shuffle=False, callbacks=list(cbs)).history  # ds shuffles
    trainer = DefenceTrainer(run_dir / "classifier.keras", data, study_recipe, fit=fit,
                             generated=lambda: (x_gen, y_gen), log=log)
    start = time.perf_counter()
    model, info = trainer.build("lad", stage=f"study-{name}")
    x_val, y_val = _validation(recipe, data)
    return {"variant": name, "overrides": {**overrides, "eps_unit": unit},
            "examples": int(len(x_gen)), "epochs": info["epochs"],
            "seconds": time.perf_counter() - start,
            "validation": score(model, x_val, y_val)}


def study_figure(rows: list[dict]) -> np.ndarray:
    """Grouped bars: validation clean / FGSM / PGD-20 accuracy (%) per variant."""
    fig = new_figure(max(6.0, 0.9 * len(rows) + 2), 4.0)
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    for i, key in enumerate(("clean", "fgsm", "pgd20")):
        ax.bar(x + (i - 1) * 0.27, [100 * r["validation"][key] for r in rows], 0.27,
               label={"clean": "clean", "fgsm": "FGSM eps 0.3", "pgd20": "PGD-20 eps 0.3"}[key])
    ax.set_xticks(x, [r["variant"] for r in rows], rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("LAD's knobs against white-box attacks (validation split)")
    ax.legend(fontsize=8)
    return render(fig)


def run_study(run_dir, names=None) -> dict:
    """Runs (or reads from RUN_DIR/study/) the variants `names` (default all).

    Returns: {"split": "validation", "images", "original": its scores,
        "variants": one row per variant}, also written to RUN_DIR/study.json
        with the figure RUN_DIR/figures/lad_study.png.
    """
    run_dir = Path(run_dir)
    recipe, data = _load(run_dir)
    pieces = tuple(keras.models.load_model(run_dir / n) for n in PIECES)
    folder = run_dir / "study"
    folder.mkdir(exist_ok=True)
    rows = [_cached(folder, run_dir, recipe, data, pieces, n) for n in (names or VARIANTS)]
    x_val, y_val = _validation(recipe, data)
    original = score(pieces[0], x_val, y_val)
    result = {"split": "validation", "images": int(len(y_val)),
              "original": original, "variants": rows}
    write_json(run_dir / "study.json", result, indent=1)
    RunSummaries(run_dir).image("lad_study", study_figure(
        [{"variant": "original", "validation": original}, *rows]),
        description="LAD variants scored on the validation split")
    return result


def _validation(recipe, data):
    idx = balanced_subset(data.y_validation, recipe.selection.per_class, recipe.data.seed + 5)
    return data.x_validation[idx], data.y_validation[idx]


def _cached(folder, run_dir, recipe, data, pieces, name) -> dict:
    if name not in VARIANTS:
        raise LadError(f"unknown study variant {name!r}; known: {', '.join(VARIANTS)}")
    path = folder / f"{name}.json"
    key = variant_key(run_dir, recipe, data, name)
    row = read_keyed_json(path, key)
    if row is not None:
        log(f"study: variant {name} (cached)")
        return row
    log(f"study: variant {name} {VARIANTS[name]}")
    row = run_variant(run_dir, recipe, data, pieces, name, VARIANTS[name])
    log(f"study {name}: validation {row['validation']} ({row['seconds']:.0f} s)")
    write_keyed_json(path, key, row)
    return row


def variant_key(run_dir: Path, recipe, data, name: str) -> str:
    """What a variant's row depends on: the run's classifier, generator and
    SVM files, its recipe, the variant's settings and the training split."""
    return cache_key({"pieces": {n: fingerprint(run_dir / n) for n in PIECES},
                      "recipe": recipe.to_dict(), "variant": name,
                      "overrides": VARIANTS[name], "train": training_split_key(data)})
