"""SavedModel export in TensorFlow Serving's layout.

    <base>/<name>/<version>/saved_model.pb + variables/ + assets/

Each export takes the next integer version and never overwrites an existing
one. The SavedModel is written into a hidden temporary folder beside the
versions (TF Serving only loads folders whose names are integers) and renamed
into place when complete, so a crash never leaves a half-written version.

Signature `serving_default`:
    inputs:  images  float32 [B, H, W, C] in [0, 1]
    outputs: logits float32 [B, K], probabilities float32 [B, K], classes int64 [B]
Requests are checked inside the graph: a wrong rank, size or channel count,
or a NaN / infinite value fails with an InvalidArgument error that says so;
values outside [0, 1] are clipped to [0, 1].
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from lad_tf.errors import LadError


def _outputs(logits, num_classes: int) -> dict:
    if num_classes == 1:
        p1 = tf.sigmoid(logits)
        probabilities = tf.concat([1.0 - p1, p1], axis=-1)
        classes = tf.cast(logits[:, 0] > 0, tf.int64)
    else:
        probabilities = tf.nn.softmax(logits, axis=-1)
        classes = tf.argmax(logits, axis=-1)
    return {"logits": logits, "probabilities": probabilities, "classes": classes}


def serving_function(model, image_shape):
    """A tf.function with the validated `serving_default` signature."""
    height, width, channels = (int(d) for d in image_shape)

    @tf.function(input_signature=[tf.TensorSpec([None, height, width, channels],
                                                tf.float32, name="images")])
    def serve(images):
        shape = tf.shape(images)
        checks = [
            tf.debugging.assert_equal(
                tf.rank(images), 4,
                message=f"images must have rank 4 [batch, {height}, {width}, {channels}]"),
            tf.debugging.assert_equal(
                shape[1:], tf.constant([height, width, channels]),
                message=f"images must have shape [batch, {height}, {width}, {channels}]"),
            tf.debugging.assert_all_finite(images, "images contain NaN or infinite values"),
        ]
        with tf.control_dependencies(checks):
            x = tf.clip_by_value(images, 0.0, 1.0)
        return _outputs(model(x, training=False), model.num_classes)

    return serve


def next_version(model_dir: Path) -> int:
    versions = [int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()] \
        if model_dir.is_dir() else []
    return max(versions, default=0) + 1


def export_model(model, base: str | Path, name: str, metadata: dict | None = None) -> Path:
    """Writes the next version of `name` under `base`; returns its folder.

    Args:
        model: a built `LatentClassifier` returning logits.
        metadata: JSON-serialisable facts (dataset, method, report numbers)
            stored as `assets/model_card.json` inside the SavedModel.
    """
    model_dir = Path(base) / name
    model_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=model_dir))
    try:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serving_default", serving_function(model, model.image_shape))
        archive.write_out(str(tmp / "sm"), verbose=False)
        assets = tmp / "sm" / "assets"
        assets.mkdir(exist_ok=True)
        (assets / "model_card.json").write_text(json.dumps(metadata or {}, indent=2, default=str))
        while True:  # another exporter may take a version at the same time
            target = model_dir / str(next_version(model_dir))
            try:
                os.rename(tmp / "sm", target)
                break
            except OSError:
                if not target.exists():
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lad_tf.export",
        description="Export a run's hardened classifier as a new TF Serving version.")
    parser.add_argument("run_dir", help="a run directory written by python -m lad_tf.harden")
    parser.add_argument("--name", help="model name (default: the recipe's export.name)")
    parser.add_argument("--base", help="base folder (default: the recipe's export.base)")
    parser.add_argument("--model", default="hardened", choices=["hardened", "original"],
                        help="which classifier of the run to export (default: hardened)")
    args = parser.parse_args(argv)
    try:
        from lad_tf import models  # noqa: F401  (registers the classes)

        run_dir = Path(args.run_dir)
        weights = run_dir / ("hardened.keras" if args.model == "hardened" else "classifier.keras")
        if not weights.is_file():
            raise LadError(f"{weights} not found; run python -m lad_tf.harden first "
                           "(or pass the right run directory)")
        recipe = json.loads((run_dir / "recipe.json").read_text())
        report_path = run_dir / "report.json"
        report = json.loads(report_path.read_text()) if report_path.is_file() else {}
        model = keras.models.load_model(weights)
        path = export_model(model, args.base or recipe["export"]["base"],
                            args.name or recipe["export"]["name"],
                            {"recipe": recipe, "report": report, "model": args.model})
        print(f"exported {path}")
        return 0
    except LadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
