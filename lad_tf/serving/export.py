"""SavedModel export in TensorFlow Serving's layout.

    <base>/<name>/<version>/saved_model.pb + variables/ + assets/model_card.json

Each export takes the next integer version and never overwrites an existing
one. The SavedModel is written into a hidden temporary folder beside the
versions (`.partial-<host>-<pid>-<random>`; TF Serving only loads folders
whose names are integers), flushed to disk and renamed into place only when
complete, so a crash never leaves a half-written version a server would load.
A later export removes temporary folders left by dead processes of this host.

Signatures (method `tensorflow/serving/predict`; details and the reasons for
the unknown-rank inputs in `lad_tf.serving.signatures`):

    serving_default      images float32 [B, H, W, C] in [0, 1]
                         -> logits float32 [B, K], probabilities float32 [B, K],
                            classes int64 [B]
    predict_image_bytes  image_bytes string [B], PNG or JPEG files -> the same three
    model_card           fields string [N], card keys or "*" -> json string [N]

Requests are checked inside the graph: a wrong rank, size or channel count, a
batch outside 1..max_batch (1024 by default), a NaN or infinite value, or
image bytes that are not a PNG / JPEG file of at most 4096 x 4096 pixels fail
with InvalidArgument and a message saying which. Values outside [0, 1] are
clipped (default) or rejected (`out_of_range="reject"`).

The model card (dataset, method, eps, evaluation numbers, code version,
recipe, the serving contract) travels as `assets/model_card.json` and through
the `model_card` signature, which any TF Serving client can call.

CLI: python -m lad_tf.export RUN_DIR [--method NAME] [--name NAME] [--base export/models]
(Python: `export_run`, or `lad_tf.export_model(RUN_DIR, method=NAME)`): the model the
run chose (hardened.keras), any defence it trained, or its original classifier.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import socket
import tempfile
import zipfile
from pathlib import Path

import keras
import numpy as np

from lad_tf.runs.exportable import default_name, run_metadata
from lad_tf.serving import signatures as sig
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import portable_paths
from lad_tf.utils.provenance import code_version

CARD_FILE = "model_card.json"
_PARTIAL = ".partial-"


# -- the model card ------------------------------------------------------------------
def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def build_model_card(model, metadata: dict | None = None, *,
                     max_batch: int = sig.DEFAULT_MAX_BATCH, out_of_range: str = "clip") -> dict:
    """The self-description that travels with an export.

    Args:
        model: the exported classifier (`image_shape`, `num_classes`).
        metadata: what the caller knows: `dataset`, `method`, `recipe` (a
            dict with `hardening.eps` and `generation.eps_unit`),
            `evaluation` (the report's numbers) and any other keys, kept as
            they are.
        max_batch, out_of_range: the serving contract (see `export_model`).

    Returns:
        A JSON-serialisable dict with at least `dataset`, `method`, `eps`,
        `evaluation`, `code_version`, `recipe` and `serving`.
    """
    metadata = dict(metadata or {})
    recipe = metadata.get("recipe") or {}
    eps = None
    if isinstance(recipe, dict) and "hardening" in recipe:
        eps = {"hardening": recipe["hardening"].get("eps"),
               "unit": recipe.get("generation", {}).get("eps_unit")}
    height, width, channels = (int(d) for d in model.image_shape)
    shape = f"[batch, {height}, {width}, {channels}]"
    classes = 2 if model.num_classes == 1 else int(model.num_classes)  # one sigmoid logit: 2
    outputs = {"logits": f"float32 [batch, {model.num_classes}]",
               "probabilities": f"float32 [batch, {classes}], rows sum to 1",
               "classes": f"int64 [batch] in 0..{classes - 1}"}
    card = {
        "dataset": metadata.pop("dataset", None),
        "method": metadata.pop("method", None),
        "eps": eps,
        "evaluation": metadata.pop("evaluation", None),
        "code_version": code_version(),
        "recipe": metadata.pop("recipe", None),
        "serving": {
            "input_shape": [height, width, channels],
            "num_classes": int(model.num_classes),
            "max_batch": int(max_batch),
            "empty_batch": "rejected with INVALID_ARGUMENT",
            "out_of_range": out_of_range,
            "max_image_side": sig.MAX_IMAGE_SIDE,
            "signatures": {
                sig.DEFAULT_SIGNATURE: {
                    "inputs": {sig.IMAGES_INPUT: f"float32 {shape} in [0, 1]"},
                    "outputs": outputs},
                sig.BYTES_SIGNATURE: {
                    "inputs": {sig.BYTES_INPUT: "string [batch], PNG or JPEG files (REST: "
                                                '{"b64": ...}); decoded, resized and scaled '
                                                "in the graph"},
                    "outputs": outputs},
                sig.CARD_SIGNATURE: {
                    "inputs": {sig.CARD_INPUT: 'string [n], model card keys or "*"'},
                    "outputs": {sig.CARD_OUTPUT: "string [n], JSON text"}},
            },
        },
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    card.update(metadata)  # every other fact the caller passed, as it is
    return json.loads(json.dumps(card, default=_jsonable))


# -- versions on disk ----------------------------------------------------------------
def next_version(model_dir: Path) -> int:
    """1 + the largest integer version folder in `model_dir` (1 when there is none)."""
    versions = [int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()] \
        if model_dir.is_dir() else []
    return max(versions, default=0) + 1


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_partials(model_dir: Path) -> None:
    """Removes `.partial-<this host>-<pid>-*` folders whose process is gone."""
    host = socket.gethostname()
    for path in model_dir.glob(f"{_PARTIAL}*"):
        parts = path.name[len(_PARTIAL):].rsplit("-", 2)
        if len(parts) == 3 and parts[0] == host and parts[1].isdigit() \
                and not _pid_alive(int(parts[1])):
            shutil.rmtree(path, ignore_errors=True)


def _fsync_tree(root: Path) -> None:
    """Flushes every file and folder under `root` to disk (so a rename publishes data)."""
    for folder, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(Path(folder))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_name(name: str) -> str:
    if not name or name.startswith(".") or "/" in name or "\\" in name:
        raise ValueError("The model name must be a non-empty folder name that does not start "
                         f"with '.' or contain '/'. Received: name={name!r}")
    return name


def export_model(model, base: str | Path, name: str, metadata: dict | None = None, *,
                 max_batch: int = sig.DEFAULT_MAX_BATCH, out_of_range: str = "clip") -> Path:
    """Writes the next version of `name` under `base`; returns its folder.

    Args:
        model: a built `LatentClassifier` returning logits, with
            `image_shape` (H, W, C) and `num_classes`.
        base: the TF Serving base folder (`export/models`).
        name: the model name, a folder under `base`.
        metadata: JSON-serialisable facts for the model card (see
            `build_model_card`).
        max_batch: the largest batch a request may hold (checked in the graph).
        out_of_range: "clip" (default) or "reject" pixel values outside [0, 1].

    Returns:
        `<base>/<name>/<version>`, complete on disk when this returns.
    """
    _check_name(name)
    if int(max_batch) < 1:
        raise ValueError(f"max_batch must be at least 1. Received: max_batch={max_batch}")
    if out_of_range not in sig.OUT_OF_RANGE_POLICIES:
        raise ValueError(f"out_of_range must be one of {sig.OUT_OF_RANGE_POLICIES}. "
                         f"Received: out_of_range={out_of_range!r}")
    if not getattr(model, "built", False):
        raise ValueError("The model must be built before export (call it once on a batch).")
    card = build_model_card(model, portable_paths(metadata), max_batch=int(max_batch),
                            out_of_range=out_of_range)

    model_dir = Path(base) / name
    model_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(model_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_PARTIAL}{socket.gethostname()}-{os.getpid()}-",
                                dir=model_dir))
    try:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(sig.DEFAULT_SIGNATURE,
                             sig.images_signature(model, int(max_batch), out_of_range))
        archive.add_endpoint(sig.BYTES_SIGNATURE, sig.image_bytes_signature(model, int(max_batch)))
        archive.add_endpoint(sig.CARD_SIGNATURE, sig.model_card_signature(card))
        saved = tmp / "sm"
        archive.write_out(str(saved), verbose=False)
        (saved / "assets").mkdir(exist_ok=True)
        (saved / "assets" / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True))
        _fsync_tree(saved)
        while True:  # another exporter may take a version at the same time
            target = model_dir / str(next_version(model_dir))
            try:
                os.rename(saved, target)  # fails on an existing non-empty folder
                break
            except OSError:
                if not target.exists():
                    raise
        _fsync_dir(model_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# -- a run's models (which, their files and facts: lad_tf.runs.exportable) --------------
def _load(path: Path, run_dir: Path):
    if not path.is_file():
        raise LadError(f"{path} not found; finish the run with python -m lad_tf.harden "
                       f"--run-dir {run_dir} --resume (or pass the right run directory)")
    resume = f"re-run the harden stage with python -m lad_tf.harden --run-dir {run_dir} --resume"
    if not zipfile.is_zipfile(path):
        raise LadError(f"cannot load {path}: not a .keras file (a .keras file is a zip "
                       f"archive); {resume}")
    try:
        return keras.models.load_model(path)
    except Exception as exc:  # noqa: BLE001  (Keras raises many types for a bad file)
        raise LadError(f"cannot load {path} ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0] if str(exc) else ''}); {resume}") from None


def export_run(run_dir, method: str | None = None, name: str | None = None, base=None, *,
               max_batch: int = sig.DEFAULT_MAX_BATCH, out_of_range: str = "clip",
               metadata: dict | None = None) -> Path:
    """Exports a model of a finished run as the next version of `<base>/<name>`.

    Args:
        run_dir: a run directory written by `python -m lad_tf.harden`.
        method: a defence the run trained (`methods/<method>.keras`),
            "original" (classifier.keras), or None: hardened.keras, the
            model the run chose to export.
        name: the model name (default: `default_name`).
        base: the base folder (default: the recipe's export.base, export/models).
        max_batch, out_of_range: the serving contract (see `export_model`).
        metadata: more model-card facts, added to the run's.

    Returns:
        `<base>/<name>/<version>`, complete on disk.

    Raises:
        LadError: a missing run, method or file, a bad name or argument, a
            file that cannot be loaded or written; nothing is written then.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise LadError(f"run directory {run_dir} not found; pass a run directory written by "
                       "python -m lad_tf.harden")
    facts = run_metadata(run_dir, method or "hardened")
    path = run_dir / facts["model_file"]
    facts.update(metadata or {})
    name = name or default_name(facts)
    base = base or (facts["recipe"].get("export") or {}).get("base") or "export/models"
    if not name:
        raise LadError("no model name: pass --name NAME")
    try:
        _check_name(name)
    except ValueError as exc:
        raise LadError(f"--name: {exc}") from None
    if int(max_batch) < 1:
        raise LadError(f"--max-batch must be at least 1, got {max_batch}")
    if out_of_range not in sig.OUT_OF_RANGE_POLICIES:
        raise LadError(f"--out-of-range must be one of {', '.join(sig.OUT_OF_RANGE_POLICIES)}, "
                       f"got {out_of_range!r}")
    model = _load(path, run_dir)
    try:
        return export_model(model, base, name, facts, max_batch=int(max_batch),
                            out_of_range=out_of_range)
    except OSError as exc:
        raise LadError(f"cannot write under {base}: {exc}; pass a writable --base") from None


# -- CLI -----------------------------------------------------------------------------
