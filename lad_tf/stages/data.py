"""The first step of a run: its data and its fixed inputs (`open_run`).

Everything here happens before the first stage and before anything is
trained: the data is loaded (the recipe's dataset, or your own images), your
model is checked against it, the generator is chosen, and the run directory
gets the resolved recipe (and data.json for your own data).
"""

from __future__ import annotations

import json
from pathlib import Path

import keras

from lad_tf.config import Recipe
from lad_tf.data import load_recipe_data
from lad_tf.data.own_data import check_same_source, load_own_data
from lad_tf.distribute import is_chief, make_strategy
from lad_tf.errors import LadError
from lad_tf.files import write_json
from lad_tf.monitoring import RunSummaries, log
from lad_tf.own_model import check_fits_data
from lad_tf.stages.classifier import new_classifier
from lad_tf.stages.generator import choose_generator
from lad_tf.stages.run import Run
from lad_tf.targets import resolve_mode


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


def open_run(run_dir, recipe: Recipe, data_dir=None, export_base=None, resume: bool = False,
             strategy: str = "default", model=None, model_info: dict | None = None,
             data=None) -> Run:
    """Loads the data, checks the inputs and prepares the run directory.

    Args: as `lad_tf.pipeline.run_pipeline`.

    Returns: the `Run` every stage reads; the run directory holds
        recipe.json (and data.json for your own data) and an empty metrics/
        folder, and Keras' global seed is the recipe's `data.seed`.

    Raises:
        LadError: your model cannot take these images, the recipe's svm.k
            does not fit the classes, or a resumed run's data differs;
            raised before the run directory is made.
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
    resolve_mode(recipe.svm, splits.num_classes)  # svm.k against the classes, now
    latent_dim = (model.latent_dim if model is not None
                  else new_classifier(recipe, splits).latent_dim)
    choice = choose_generator(recipe, splits, latent_dim,
                              own=model is not None or record is not None)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics").mkdir(exist_ok=True)
    write_json(run_dir / "recipe.json", recipe.to_dict())
    if record is not None:
        write_json(run_dir / "data.json", record)
    run = Run(run_dir, recipe, splits, dist, strategy == "multi-worker", chief,
              RunSummaries(run_dir), export_base or recipe.export.base, resume, model,
              dict(model_info or {}), choice)
    keras.utils.set_random_seed(recipe.data.seed)
    return run
