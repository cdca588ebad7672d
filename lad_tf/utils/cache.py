"""The evaluation's result caches, all under one key scheme.

Every cached file carries a key made by `lad_tf.utils.files.cache_key` from what
its content depends on (a model file's `fingerprint`, the settings, the
sample); a file whose key differs is ignored and overwritten, so an
interrupted evaluation resumes where it stopped and a retrained model or a
changed setting is evaluated afresh. Every write is atomic (`lad_tf.utils.files`).

    ResultCache     <folder>/<model>.json: one JSON row per (model, result)
    PerImageCache   <folder>/<model>-per-image.npz: bool [N] per attack
    read_keyed_json / write_keyed_json: one JSON result per file
    read_keyed_npz / write_npz: arrays, e.g. transfer examples
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lad_tf.utils.files import cache_key, write_bytes, write_json


def write_npz(path: Path, **arrays) -> Path:
    """Writes `arrays` compressed to the .npz file `path` atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return write_bytes(path, buffer.getvalue())


def read_keyed_npz(path: Path, key: str) -> dict | None:
    """The arrays of `path` (without "key") if it exists and was written for
    `key`, else None (missing, unreadable or stale)."""
    if not Path(path).is_file():
        return None
    try:
        with np.load(path) as f:
            if str(f["key"]) == key:
                return {k: f[k] for k in f.files if k != "key"}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass  # unreadable (torn or foreign): recompute
    return None


def read_keyed_json(path: Path, key: str):
    """The "result" of the JSON file `path` if it was written for `key`, else None."""
    if not Path(path).is_file():
        return None
    try:
        stored = json.loads(Path(path).read_text())
    except json.JSONDecodeError:
        return None  # unreadable: recompute
    return stored.get("result") if stored.get("key") == key else None


def write_keyed_json(path: Path, key: str, result) -> Path:
    """Writes {"key": key, "result": result} to `path` atomically."""
    return write_json(path, {"key": key, "result": result}, indent=1)


class ResultCache:
    """One JSON file per model with a result per key, written after every result.

    Args:
        folder: the evaluation folder; name: the model's name.
        model_print: the model file's `lad_tf.utils.files.fingerprint`.
        settings: the evaluation settings; with model_print they make `key`.
    """

    def __init__(self, folder: Path, name: str, model_print: str, settings: dict):
        self.path = Path(folder) / f"{name}.json"
        self.key = cache_key(model_print, settings)
        self.data = {}
        if self.path.is_file():
            try:
                stored = json.loads(self.path.read_text())
                if stored.get("key") == self.key:
                    self.data = stored["results"]
            except (json.JSONDecodeError, KeyError):
                pass  # unreadable cache: recompute

    def get(self, key: str, compute: Callable):
        """The result under `key`, from `compute()` (then saved) when not cached."""
        if key not in self.data:
            self.data[key] = compute()
            write_json(self.path, {"key": self.key, "results": self.data}, indent=1)
        return self.data[key]


class PerImageCache:
    """bool [N] per attack in `<folder>/<name>-per-image.npz`, valid for one `key`.

    Args:
        folder: the evaluation folder; name: the model's name.
        key: the model's ResultCache key (fingerprint and settings); a file
            with another key is ignored and overwritten.
    """

    def __init__(self, folder: Path, name: str, key: str):
        self.path, self.key = Path(folder) / f"{name}-per-image.npz", key
        found = read_keyed_npz(self.path, key) or {}
        self.data: dict[str, np.ndarray] = {k: v.astype(bool) for k, v in found.items()}

    def get(self, attack: str) -> np.ndarray | None:
        return self.data.get(attack)

    def put(self, attack: str, correct: np.ndarray):
        self.data[attack] = np.asarray(correct, bool)
        write_npz(self.path, key=self.key, **self.data)
