"""Issue 23, check 1: your own model and image folder, hardened with the
defaults, exports a model at least as robust as the one you brought.

A Functional CNN with BatchNorm and a Sequential CNN, each trained briefly on
real MNIST, are given a folder of real MNIST test digits as PNG files and
hardened with the README's own-model command and no other flag (the `digits`
recipe). The exported model's worst case on the run's own test split and
suite is at least the original's, the SavedModel's model card names the
choice with every candidate's validation figures, and the run's first and
last lines name the threat and every model built.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from _cli import run_main, run_module

from lad_tf.cli.harden import main as harden_main

PER_CLASS = 50  # folder images per class: svm.per_class (24) is lowered to the provider split's 10


@pytest.fixture(scope="module")
def folder(tmp_path_factory, mnist) -> Path:
    """PER_CLASS real MNIST test digits per class as PNG files, root/<digit>/<i>.png."""
    root = tmp_path_factory.mktemp("mnist_png") / "images"
    y = mnist.y_test
    for label in range(10):
        (root / str(label)).mkdir(parents=True)
        for i in np.flatnonzero(y == label)[:PER_CLASS]:
            image = np.round(mnist.x_test[i] * 255).astype(np.uint8)
            tf.io.write_file(str(root / str(label) / f"{i:05d}.png"), tf.io.encode_png(image))
    return root


def functional_cnn() -> keras.Model:
    inputs = keras.Input((28, 28, 1))
    h = inputs
    for filters in (8, 16):  # narrow: the defaults' PGD-AT and attacks cost scales with it
        h = keras.layers.Conv2D(filters, 3, padding="same")(h)
        h = keras.layers.BatchNormalization()(h)
        h = keras.layers.ReLU()(h)
        h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Dropout(0.25)(keras.layers.Flatten()(h))
    h = keras.layers.ReLU()(keras.layers.Dense(64, name="embedding")(h))
    return keras.Model(inputs, keras.layers.Dense(10)(h))


def sequential_cnn() -> keras.Model:
    return keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(), keras.layers.Flatten(),
        keras.layers.Dense(64, name="embedding"), keras.layers.ReLU(), keras.layers.Dense(10)])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_the_defaults_export_a_model_at_least_as_robust_as_yours(kind, folder, mnist, tmp_path,
                                                                 capfd):
    """The Functional CNN through `python -m lad_tf.harden` in a fresh process,
    as the README gives the command; the Sequential CNN through the command's
    main() in this process (the same run, one TensorFlow start-up fewer)."""
    keras.utils.set_random_seed(0)
    model = functional_cnn() if kind == "functional" else sequential_cnn()
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    # Two epochs at batch 32: enough steps for BatchNorm's moving statistics to settle (one
    # epoch of 6,000 left the Functional CNN at 16% in inference mode, and the run stopped).
    model.fit(mnist.x_train[:10000], mnist.y_train[:10000], batch_size=32, epochs=2, verbose=0)
    model.save(tmp_path / "mine.keras")

    args = ("--model", "mine.keras", "--latent-layer", "embedding", "--data", str(folder),
            "--run-dir", "run")
    if kind == "functional":
        result = run_module("lad_tf.harden", *args, cwd=tmp_path)
    else:
        result = run_main(harden_main, *args, cwd=tmp_path, capfd=capfd)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    models = report["stages"]["evaluate"]["models"]
    exported = report["stages"]["harden"]["exported_method"]
    assert set(models) == {"original", "lad", "pgd-at"}
    assert models[exported]["robust_accuracy"] >= models["original"]["robust_accuracy"]

    version = tmp_path / "export" / "models" / "mine_digits_lad" / "1"
    card = json.loads((version / "assets" / "model_card.json").read_text())
    choice = card["export_choice"]
    assert card["method_key"] == exported == choice["chosen"]
    assert set(choice["candidates"]) == {"original", "lad", "pgd-at"}
    for row in choice["candidates"].values():
        assert 0.0 <= row["worst_case"] <= row["clean"] <= 1.0
    best = max(row["worst_case"] for row in choice["candidates"].values() if row["eligible"])
    assert choice["candidates"][exported]["worst_case"] == best
    assert "highest validation worst case" in choice["rule"] and choice["examples"] > 0

    lines = [line.split("] ", 1)[-1] for line in result.stderr.splitlines()
             if line.startswith("[")]  # the run's own lines, stamped; not TensorFlow's
    assert lines[0].startswith("threat: L-inf, eps 0.1 on [0, 1] pixels (recipe 'digits'")
    first = next(i for i, line in enumerate(lines) if line.startswith("every model of the run"))
    table = lines[first + 1:first + 4]
    for name in ("original", "lad", "pgd-at"):
        assert sum(f" {name} " in row for row in table) == 1
    assert sum("* exported:" in row for row in table) == 1
    assert any(f"* exported: {exported} " in row for row in table)
    assert "Which model is exported" in (tmp_path / "run" / "report.md").read_text()
