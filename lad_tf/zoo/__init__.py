"""The model zoo: hardened models shipped in the repository, loaded in one line.

Each zoo entry (`zoo/<dataset>/`, beside its recipe and model card) ships
its hardened models twice, both small (a LeNet is about 1.7 MB):

    zoo/<dataset>/serving/<name>/<version>/   the TF Serving SavedModel, written by
                                              `python -m lad_tf.export`, with
                                              assets/model_card.json
    zoo/<dataset>/models/<name>.keras         the same weights as a Keras model
    zoo/<dataset>/leaderboard.json            one row per shipped model: clean and
                                              worst-case accuracy, the attacks and
                                              images behind it, the command, the code

    import lad_tf.zoo
    model = lad_tf.zoo.load_model("mnist", "pgd-at")        # a Keras model: logits
    path = lad_tf.zoo.saved_model_path("mnist", "pgd-at")   # its newest SavedModel version

`python -m lad_tf.zoo list | serve | benchmark` (see `lad_tf.zoo.__main__`).
Unknown names are a `LadError` that lists what is there. TensorFlow-free
until a model is loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

from lad_tf.recipe.schema import ZOO_DIR  # noqa: E402  (the one zoo folder)
from lad_tf.utils.errors import LadError

LEADERBOARD = "leaderboard.json"
SERVING = "serving"


def datasets() -> list[str]:
    """The zoo entries that ship models (a leaderboard.json)."""
    return sorted(p.parent.name for p in ZOO_DIR.glob(f"*/{LEADERBOARD}"))


def leaderboard(dataset: str) -> list[dict]:
    """The rows of zoo/<dataset>/leaderboard.json, best worst case first."""
    path = ZOO_DIR / dataset / LEADERBOARD
    if not path.is_file():
        raise LadError(f"no zoo models for {dataset!r}; the zoo ships models for "
                       f"{', '.join(datasets()) or 'no dataset yet'}")
    rows = json.loads(path.read_text())["models"]
    return sorted(rows, key=lambda r: -r["worst_case_acc"])


def names(dataset: str) -> list[str]:
    return [row["name"] for row in leaderboard(dataset)]


def _row(dataset: str, name: str) -> dict:
    rows = {row["name"]: row for row in leaderboard(dataset)}
    if name not in rows:
        raise LadError(f"no zoo model {name!r} for {dataset}; it ships "
                       f"{', '.join(rows) or 'none'}")
    return rows[name]


def saved_model_path(dataset: str, name: str) -> Path:
    """The newest version folder of the shipped SavedModel `name`
    (`zoo/<dataset>/serving/<name>/<version>`)."""
    _row(dataset, name)
    folder = ZOO_DIR / dataset / SERVING / name
    versions = sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) \
        if folder.is_dir() else []
    if not versions:
        raise LadError(f"zoo model {name!r} of {dataset} has no SavedModel under {folder}")
    return folder / str(versions[-1])


def load_model(dataset: str, name: str):
    """The shipped model `name` as a Keras model returning logits
    (zoo/<dataset>/models/<name>.keras; the same weights as its SavedModel)."""
    _row(dataset, name)
    path = ZOO_DIR / dataset / "models" / f"{name}.keras"
    if not path.is_file():
        raise LadError(f"zoo model {name!r} of {dataset} has no Keras file {path}")
    import keras  # lazy: `import lad_tf.zoo` loads no TensorFlow

    import lad_tf.models  # noqa: F401  (the zoo's classes)

    return keras.models.load_model(path)


def row_line(row: dict) -> str:
    """One leaderboard row as a table line."""
    seconds = row.get("training_seconds")
    cost = f"  {seconds:.0f} s of training" if seconds is not None else ""
    return (f"{row['name']:10s} {row['architecture']:8s} clean {100 * row['clean_acc']:6.2f}%  "
            f"worst case {100 * row['worst_case_acc']:6.2f}% ({row['worst_case_images']} "
            f"images, L-inf eps {row['eps']:g}){cost}")


__all__ = ["ZOO_DIR", "datasets", "leaderboard", "load_model", "names", "row_line",
           "saved_model_path"]
