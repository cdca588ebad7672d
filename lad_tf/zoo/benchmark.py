"""Your Keras model judged by a zoo entry's protocol (`python -m lad_tf.zoo
benchmark MODEL.keras --dataset mnist`), as a row that compares with the
entry's leaderboard."""

from __future__ import annotations

import re
from pathlib import Path

from lad_tf.utils.errors import LadError


def leaderboard_row(name: str, architecture: str, dataset: str, numbers: dict, *,
                    training_seconds: float | None, command: str, code: dict,
                    reported: float | None = None) -> dict:
    """A leaderboard row (RobustBench's fields where they apply)."""
    return {"name": name, "architecture": architecture, "dataset": dataset,
            "threat_model": "Linf", "eps": numbers["eps"],
            "clean_acc": numbers["clean_accuracy"], "clean_images": numbers["test_images"],
            "worst_case_acc": numbers["worst_case_accuracy"],
            "worst_case_images": numbers["worst_case_images"],
            "suite_images_clean_acc": numbers["suite_images_clean_accuracy"],
            "attacks": numbers["attacks"], "masking_checks": numbers["masking_checks"],
            "reported": reported, "training_seconds": training_seconds, "command": command,
            "code_version": code}


def benchmark_model(path: Path, dataset: str, data_dir=None, overrides=(), cache_dir=None,
                    log=None) -> dict:
    """The protocol's row for the model file `path` on `dataset`'s test split.

    Raises:
        LadError: an unreadable file, a model of another input shape or number
            of outputs, an unknown dataset, missing data.
    """
    import keras

    from lad_tf.data import load_recipe_data
    from lad_tf.recipe.schema import load_recipe
    from lad_tf.utils.monitoring import log as default_log
    from lad_tf.utils.provenance import code_version
    from lad_tf.zoo.protocol import measure, wrap

    log = log or default_log
    recipe = load_recipe(dataset, None, [o for o in overrides])
    try:
        model = keras.models.load_model(path)
    except Exception as exc:  # noqa: BLE001  (Keras raises many types for a bad file)
        raise LadError(f"cannot load {path} as a Keras model ({type(exc).__name__}); pass a "
                       ".keras file saved with model.save") from None
    data = load_recipe_data(recipe.data, data_dir)
    logits = wrap(model, data.image_shape, data.num_classes, log)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem) or "model"
    folder = Path(cache_dir or Path("runs") / "zoo-benchmark" / stem)
    numbers, _ = measure(logits, stem, path, recipe, data, folder, log)
    sets = "".join(f" --set '{o}'" for o in overrides)
    return leaderboard_row(stem, type(model).__name__, dataset, numbers, training_seconds=None,
                           command=f"python -m lad_tf.zoo benchmark {path} --dataset {dataset}"
                                   + sets, code=code_version())
