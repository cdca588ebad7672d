"""Writing run artefacts so that a crash never leaves a half-written file.

Every artefact of a run (JSON, Markdown, PNG, `.keras`) is written to a
temporary file beside its final name and then renamed over it: a reader sees
the old file or the new one, never a torn one. `fingerprint` and `cache_key`
are the one scheme by which result caches recognise a model file and a set of
settings.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def _tmp(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def write_bytes(path, data: bytes) -> Path:
    """Writes `data` to `path` atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = _tmp(path)
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def write_text(path, text: str) -> Path:
    """Writes `text` (UTF-8) to `path` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, data, indent: int = 2) -> Path:
    """Writes `data` as JSON to `path` atomically; numpy scalars become floats."""
    return write_text(path, json.dumps(data, indent=indent, default=float))


def save_keras(model, path) -> Path:
    """Saves a Keras model to `path` (a `.keras` file) atomically."""
    path = Path(path)
    tmp = path.with_name("partial-" + path.name)  # Keras needs the .keras suffix
    model.save(tmp)
    tmp.replace(path)
    return path


def fingerprint(path) -> str:
    """Identifies a file's content version cheaply: its size and modification time."""
    st = Path(path).stat()
    return f"{st.st_size}-{st.st_mtime_ns}"


def file_sha256(path) -> str:
    """The sha256 hex digest of a file's bytes, read 1 MiB at a time (a content
    fingerprint that survives copies, unlike `fingerprint`)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(*parts) -> str:
    """A stable hex key for JSON-able parts (dict order does not matter)."""
    return hashlib.sha1(json.dumps(list(parts), sort_keys=True, default=str).encode()).hexdigest()


def _leaf_layers(model):
    """The layers of `model`, nested models flattened, in order; no input layers."""
    for layer in model.layers:
        if getattr(layer, "layers", None):
            yield from _leaf_layers(layer)
        elif type(layer).__name__ != "InputLayer":
            yield layer


def weights_sha256(model) -> str:
    """The sha256 hex digest of a Keras model's layers, in order (nested
    models flattened, input layers left out): each layer's class and config
    (JSON, keys sorted) and each weight's dtype, shape and bytes. What
    identifies a model that has no file (an in-memory model given to
    `lad_tf.harden_model`); the models' own configs are left out, as they
    name their tensors by a counter of the Python session."""
    digest = hashlib.sha256()
    for layer in _leaf_layers(model):
        config = json.dumps([type(layer).__name__, layer.get_config()], sort_keys=True,
                            default=str)
        digest.update(config.encode())
        for weight in layer.get_weights():  # numpy arrays; tobytes() is in C order
            digest.update(f"{weight.dtype}{weight.shape}".encode() + weight.tobytes())
    return digest.hexdigest()


def portable_paths(data):
    """`data` (JSON-like) with this machine's folders written portably: the
    data folder as `$LAD_DATA_DIR`, the working folder as a relative path,
    the home folder as `~`. Model cards travel with the model; a machine's
    absolute path in them names nothing on another machine."""
    places = []  # (folder + separator, what it becomes), most specific first
    if os.environ.get("LAD_DATA_DIR"):
        places.append((str(Path(os.environ["LAD_DATA_DIR"]).resolve()) + os.sep,
                       "$LAD_DATA_DIR/"))
    places += [(str(Path.cwd()) + os.sep, ""), (str(Path.home()) + os.sep, "~/")]

    def fix(value):
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [fix(v) for v in value]
        if isinstance(value, str):
            for folder, portable in places:
                if folder != os.sep:
                    value = value.replace(folder, portable)
        return value

    return fix(data)
