"""`RunDir`: the one reader of a run directory written by `python -m lad_tf.harden`.

Every command that opens a finished run (`evaluate`, `compare`, `export`,
`study`, `ga_study`, `--from-run`, `--resume`) reads its recipe, its data
splits and its model files through this class, so they all see the same
recipe and, above all, the same split of the data as the run's stages did:

    run = RunDir("runs/mnist-20261124-120000")
    recipe = run.recipe()                 # recipe.json as a `Recipe`
    data = run.splits(data_dir)           # the run's own data or the recipe's dataset,
                                          # validation carved out as the run did
    run.model_path("pgd-at")              # methods/pgd-at.keras
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from lad_tf.recipe.names import ORIGINAL
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import write_json

RECIPE_FILE = "recipe.json"
MODEL_FILES = {ORIGINAL: "classifier.keras", "hardened": "hardened.keras"}
METHODS_DIR = "methods"
COMMANDS_FILE = "commands.json"  # the commands that made the run, oldest first
NOT_DEFENCES = ("lad-eps-", "partial-")  # Fig. 7's sweep models, unfinished saves
_HINT = "pass the folder that `python -m lad_tf.harden` wrote"


class RunDir:
    """A run directory: its recipe, its data splits, its files.

    Args:
        path: the run directory.
        hint: what the user should pass instead, in the error when `path`
            holds no recipe.json.

    Raises:
        LadError: `path` is not a run directory (no readable recipe.json).
    """

    def __init__(self, path, hint: str = _HINT):
        self.path = Path(path)
        self.hint = hint
        if not (self.path / RECIPE_FILE).is_file():
            raise LadError(f"{self.path} is not a run directory (no {RECIPE_FILE}); {hint}")
        self._recipe_dict = self.read_json(RECIPE_FILE)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    def __truediv__(self, relative) -> Path:
        return self.path / relative

    def read_json(self, relative: str, default=None):
        """The JSON file RUN/`relative`; `default` when it is missing (None:
        a missing file is an error); LadError when it cannot be read."""
        path = self.path / relative
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            if default is not None:
                return default
            raise LadError(f"{path} not found; {self.hint}") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise LadError(f"{path} cannot be read as JSON ({exc}); {self.hint}") from None

    def recipe_dict(self) -> dict:
        """recipe.json as it was written (a fresh copy)."""
        return json.loads(json.dumps(self._recipe_dict))

    def recipe(self, overrides=()):
        """recipe.json as a `Recipe`, with `--set` style `overrides` applied."""
        from lad_tf.recipe.schema import apply_overrides, recipe_from_dict

        return recipe_from_dict(apply_overrides(self.recipe_dict(), list(overrides)))

    def splits(self, data_dir=None, log: Callable[[str], None] | None = None, recipe=None):
        """The run's `DatasetSplits`, split exactly as its stages split them:
        its own data (data.json, checked unchanged) or the recipe's dataset
        with every setting of the recipe's `data` section, the validation
        fraction included.

        Args:
            data_dir: the dataset folder, for a zoo dataset.
            log: where a line about the own data goes.
            recipe: the `Recipe` to split by (default: `self.recipe()`).
        """
        from lad_tf.data.own_data import load_run_data  # lazy: TensorFlow

        recipe = recipe if recipe is not None else self.recipe()
        return load_run_data(self.path, recipe.data, data_dir, log=log)

    def model_path(self, which: str) -> Path:
        """The .keras file of "original" (classifier.keras), "hardened"
        (hardened.keras, the model the run exports) or a defence
        (methods/<which>.keras)."""
        return self.path / MODEL_FILES.get(which, f"{METHODS_DIR}/{which}.keras")

    def methods(self) -> list[str]:
        """The defences the run saved (methods/*.keras without the sweep models),
        in the recipe's order, then any others by name."""
        folder = self.path / METHODS_DIR
        found = {p.stem for p in folder.glob("*.keras") if not p.stem.startswith(NOT_DEFENCES)}
        order = list(self._recipe_dict.get("hardening", {}).get("methods", ()))
        return [m for m in order if m in found] + sorted(found - set(order))

    def made_by(self) -> str | None:
        """The commands that made the run (commands.json, written by
        `record_command`), joined by " && " in the order they ran; None for
        a run made before commands were recorded."""
        commands = [c.get("command") for c in self.read_json(COMMANDS_FILE, [])
                    if isinstance(c, dict) and c.get("command")]
        return " && ".join(commands) or None

    def require(self, names, then: str) -> None:
        """LadError naming the files of `names` that the run lacks, and `then`:
        what to run to make them."""
        missing = [n for n in names if not (self.path / n).exists()]
        if missing:
            raise LadError(f"{self.path} lacks {missing}; {then}")


def record_command(run_dir, command: str) -> None:
    """Appends `command` (with the time) to RUN/commands.json, written
    atomically; the leaderboard's `command` field reads it (`RunDir.made_by`)."""
    path = Path(run_dir) / COMMANDS_FILE
    try:
        earlier = json.loads(path.read_text()) if path.is_file() else []
    except (OSError, json.JSONDecodeError):
        earlier = []
    entry = {"command": command, "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    write_json(path, [*(earlier if isinstance(earlier, list) else []), entry])


def harden_record(run_dir, methods) -> dict:
    """{"exported_method", "export_choice"} of a run's harden stage:
    metrics/harden.json, else report.json's harden stage; a run made before
    the export choice existed: its first method (`methods`, the recipe's
    hardening.methods), no choice. The one reader of which model
    hardened.keras holds."""
    run_dir = Path(run_dir)
    record = {}
    for path, pick in ((run_dir / "metrics" / "harden.json", lambda d: d),
                       (run_dir / "report.json", lambda d: d.get("stages", {}).get("harden"))):
        try:
            found = pick(json.loads(path.read_text())) if path.is_file() else None
        except (OSError, json.JSONDecodeError):
            found = None
        if found and found.get("exported_method"):
            record = found
            break
    return {"exported_method": record.get("exported_method") or (list(methods) or ["lad"])[0],
            "export_choice": record.get("export_choice")}
