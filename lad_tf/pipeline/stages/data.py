"""The first step of a run: its data and its fixed inputs (`open_run`).

Everything here happens before the first stage and before anything is
trained: the data is loaded (the recipe's dataset, or your own images), the
recipe's per-class counts are fitted to its classes (`lad_tf.recipe.fit`),
your model is checked against it (its input, its classes, and that it reads
the validation split better than twice chance), the generator is chosen,
and the run directory gets the resolved recipe (and data.json, with
recipe_fitted.json where counts were lowered, for your own data).
"""

from __future__ import annotations

import json
from pathlib import Path

import keras

from lad_tf.data import load_recipe_data
from lad_tf.data.own_data import check_same_source, describe_conversion, load_own_data
from lad_tf.lad.targets import resolve_mode
from lad_tf.models.own_model import check_fits_data
from lad_tf.pipeline.run import Run
from lad_tf.pipeline.stages.classifier import new_classifier
from lad_tf.pipeline.stages.generator import choose_generator
from lad_tf.recipe.fit import (
    capped_line,
    change_line,
    fit_recipe,
    misfit_message,
    too_few_message,
)
from lad_tf.recipe.schema import Recipe
from lad_tf.utils.distribute import is_chief, make_strategy
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import write_json
from lad_tf.utils.metrics import accuracy
from lad_tf.utils.monitoring import RunSummaries, log

FIT_RECORD = "recipe_fitted.json"  # the counts lowered to fit your data (lad_tf.recipe.fit)


def load_data(run_dir: Path, recipe: Recipe, data, data_dir, model, resume: bool):
    """The run's data: your data, else the recipe's dataset.

    A resumed run keeps its data: without `data` it reads the recorded
    source again, and any other data (or a switch between your data and
    the recipe's) is refused, before anything is written.

    Args:
        run_dir: the run directory (its data.json records your data).
        recipe: the resolved recipe (its `data` section).
        data: your images (a folder or an .npz), or None.
        data_dir: the datasets' folder (else $LAD_DATA_DIR and the caches).
        model: your classifier (its input shape converts your images), or None.
        resume: whether the run is resumed.

    Returns: (DatasetSplits, record of your data for data.json, or None).
    """
    record_path = run_dir / "data.json"
    recorded = json.loads(record_path.read_text()) if resume and record_path.is_file() else None
    started = resume and (run_dir / "metrics").is_dir()
    if data is None and recorded:
        data = recorded["path"]
        log(f"data: resuming with the run's data {data}")
    elif data is not None and started and recorded is None:
        raise LadError(f"{run_dir} was made from the recipe's dataset "
                       f"{recipe.data.dataset!r}; resume it without --data, or start a "
                       "new run with --run-dir NEW_DIR")
    if data is None:
        return load_recipe_data(recipe.data, data_dir), None
    splits, record = load_own_data(data, recipe.data,
                                   None if model is None else model.image_shape, log=log)
    if recorded:
        check_same_source(recorded, record, run_dir)
    return splits, record


def fit_to_data(recipe: Recipe, splits, record: dict | None):
    """The recipe's per-class counts against the classes of `splits`.

    Your data (`record` not None) gets the counts that do not fit lowered to
    the smallest class of their split, each change logged once; a zoo
    dataset stops instead, with a --set that fits for each.

    Returns: the `lad_tf.recipe.fit.RecipeFit` (its `recipe` is the run's).

    Raises:
        LadError: a class with too few images for any recipe, or (a zoo
            dataset) counts that do not fit.
    """
    counts = {split: row["per_class"] for split, row in splits.summary()["splits"].items()}
    fit = fit_recipe(recipe, counts, splits.class_names)
    if fit.problems:
        where = ({"folder": "the folder", "npz": "the .npz"}[record["kind"]] if record
                 else f"the {splits.name} data")
        test_fraction = record.get("test_fraction") if record else None
        raise LadError(too_few_message(fit, recipe.data.provider_fraction, test_fraction, where))
    if fit.changes and record is None:
        raise LadError(misfit_message(fit.changes, splits.name))
    for change in fit.changes:
        log(change_line(change))
    if fit.capped and record is not None:
        log(capped_line(fit.capped))
    return fit


def check_reads_data(model, splits, record: dict | None) -> float:
    """Refuses your model when it reads the validation split (the provider
    split without one) at less than twice chance: 2 / K for K classes, and
    75% for two classes, where twice chance would be 100%.

    Returns: the model's accuracy on that split.

    Raises:
        LadError: the accuracy is below that bar; the message says what the
            images went through and that --allow-weak-model goes on.
    """
    split = "validation" if len(splits.y_validation) else "provider"
    x, y = splits.arrays(split)
    k = splits.num_classes
    chance, bar = 1 / k, min(2 / k, (1 + 1 / k) / 2)
    read = accuracy(model, x, y)
    if read >= bar:
        return read
    names = list(splits.class_names) or [str(c) for c in range(k)]
    order = ", ".join(names[:6]) + (", ..." if k > 6 else "")
    raise LadError(f"your model reads the {split} split ({len(y)} images) at {read:.2%} "
                   f"accuracy, chance is {chance:.2%} for {k} classes (the run stops below "
                   f"{bar:.2%}): {describe_conversion(record, splits.image_shape)}; check that "
                   f"it takes these images as it was trained on them (size, channels, scale "
                   f"[0, 1]) and its classes in this order ({order}), or pass --allow-weak-model "
                   "to go on")


def open_run(run_dir, recipe: Recipe, data_dir=None, export_base=None, resume: bool = False,
             strategy: str = "default", model=None, model_info: dict | None = None,
             data=None, allow_weak_model: bool = False) -> Run:
    """Loads the data, checks the inputs and prepares the run directory.

    Args: as `lad_tf.pipeline.runner.run_pipeline`.

    Returns: the `Run` every stage reads, with the recipe fitted to the
        data (`fit_to_data`); the run directory holds that recipe.json (and
        data.json for your own data) and an empty metrics/ folder, and
        Keras' global seed is the recipe's `data.seed`.

    Raises:
        LadError: your model cannot take these images or reads them at no
            better than twice chance (unless `allow_weak_model`), the
            recipe's counts or svm.k do not fit the classes, or a resumed
            run's data differs; raised before the run directory is made.
    """
    dist = make_strategy(strategy)
    chief = is_chief(dist)
    run_dir = Path(run_dir)
    if not chief:  # other workers train in step but keep their files apart
        run_dir = run_dir / f"worker-{dist.cluster_resolver.task_id}"
    splits, record = load_data(run_dir, recipe, data, data_dir, model, resume)
    # Fail before any training (and before the run directory exists) when
    # the models cannot take these images.
    if model is not None:
        check_fits_data(model, splits.num_classes, splits.image_shape, splits.name)
    latent_dim = (model.latent_dim if model is not None  # the zoo's model builds for them
                  else new_classifier(recipe, splits).latent_dim)
    fit = fit_to_data(recipe, splits, record)
    recipe = fit.recipe
    resolve_mode(recipe.svm, splits.num_classes)  # svm.k against the classes, now
    started = resume and (run_dir / "metrics" / "classifier.json").is_file()
    if model is not None and not allow_weak_model and not started:
        check_reads_data(model, splits, record)
    choice = choose_generator(recipe, splits, latent_dim,
                              own=model is not None or record is not None)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics").mkdir(exist_ok=True)
    write_json(run_dir / "recipe.json", recipe.to_dict())
    if record is not None:
        write_json(run_dir / "data.json", record)
        if (fit.changes or fit.capped) and not (resume and (run_dir / FIT_RECORD).is_file()):
            write_json(run_dir / FIT_RECORD, {"changes": list(fit.changes),
                                              "capped": list(fit.capped)})
    run = Run(run_dir, recipe, splits, dist, strategy == "multi-worker", chief,
              RunSummaries(run_dir), export_base or recipe.export.base, resume, model,
              dict(model_info or {}), choice, allow_weak_model=allow_weak_model)
    keras.utils.set_random_seed(recipe.data.seed)
    return run
