"""Issue 23, `harden --from-run` for runs of your model and your data: a new
run with the same model file (sha256, latent layer) and the same data
(fingerprint) copies the unchanged stages, as for a zoo run; another model,
layer or data stops with one `error:` line before anything is written."""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest
from _cli import assert_clean_error, run_main, run_module, snapshot
from _folders import mnist_digits, write_png_folder

from lad_tf.cli.harden import main as harden_main
from lad_tf.pipeline.reuse import check_same_sources
from lad_tf.utils.errors import LadError

BUDGETS = ["generator.epochs=1", "svm.epochs=1", "generation.eps_sweep=[1.0]",
           "hardening.epochs=1", "selection.pgd_steps=2"]
BUDGET_ARGS = ["--method", "lad", *[arg for pair in BUDGETS for arg in ("--set", pair)]]


def dense_model():
    """28x28x1 -> fc1 (32) -> fc2 (16) -> 10 logits."""
    images = keras.Input((28, 28, 1))
    h = keras.layers.Dense(32, activation="relu", name="fc1")(keras.layers.Flatten()(images))
    h = keras.layers.Dense(16, activation="relu", name="fc2")(h)
    return keras.Model(images, keras.layers.Dense(10, name="logits")(h), name="dense")


@pytest.fixture(scope="module")
def old_run(data_dir, tmp_path_factory):
    """A model trained briefly on real MNIST, a folder of 30 other digits per
    class, and a run of both stopped after the generation stage."""
    cwd = tmp_path_factory.mktemp("own")
    x, y = mnist_digits(data_dir, 200, offset=30)
    keras.utils.set_random_seed(0)
    model = dense_model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[..., None] / np.float32(255), y, batch_size=64, epochs=3, verbose=0)
    model.save(cwd / "mine.keras")
    folder = write_png_folder(cwd / "digits", *mnist_digits(data_dir, 30))
    result = run_module("lad_tf.harden", "--model", "mine.keras", "--latent-layer", "fc1",
                        "--data", str(folder), "--dataset", "digits", "--run-dir", "old",
                        "--export-base", "serving", "--stop-after", "generate", *BUDGET_ARGS,
                        cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, folder


def test_same_model_and_data_reuse_the_generator(old_run):
    """In a fresh process: an in-process run under capfd leaves TensorFlow's
    logger writing to the fixture's closed file."""
    cwd, folder = old_run
    result = run_module("lad_tf.harden", "--model", "mine.keras", "--latent-layer", "fc1",
                        "--data", str(folder), "--dataset", "digits", "--run-dir", "new",
                        "--export-base", "serving", "--from-run", "old", *BUDGET_ARGS,
                        "--set", "hardening.epochs=2", "--stop-after", "harden", cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    old, new = cwd / "old", cwd / "new"
    summary = json.loads((new / "from_run.json").read_text())
    assert summary["stages"] == ["classifier", "generator", "svm", "generate"]
    for name in ("classifier.keras", "generator.keras", "svm.keras", "generated.npz"):
        assert (new / name).read_bytes() == (old / name).read_bytes(), name
    assert "generator epoch" not in result.stderr and "svm epoch" not in result.stderr
    assert "harden-lad epoch 2/2" in result.stderr  # the changed stage ran, with 2 epochs
    recipe = json.loads((new / "recipe.json").read_text())
    assert recipe["hardening"]["epochs"] == 2
    # The counts both runs lowered to fit the folder did not count as changes.
    assert recipe["svm"]["per_class"] == json.loads((old / "recipe.json").read_text())["svm"][
        "per_class"] < 24


def changed_folder(cwd, folder):
    other = cwd / "other-digits"
    if not other.exists():
        shutil.copytree(folder, other)
        first = sorted((other / "3").iterdir())[0]
        first.write_bytes(sorted((other / "5").iterdir())[0].read_bytes())
    return other


def other_weights(cwd, folder):
    model = keras.models.load_model(cwd / "mine.keras")
    model.get_layer("logits").bias.assign(model.get_layer("logits").bias + 0.01)
    model.save(cwd / "mine-2.keras")
    return cwd / "mine-2.keras"


REFUSED = {  # (model, latent layer, data) -> what the one error line says
    "other_data": (lambda cwd, f: "mine.keras", "fc1", changed_folder,
                   ["it used the data", "this run other data (fingerprint"]),
    "other_model_file": (other_weights, "fc1", lambda cwd, f: f,
                         ["cut at 'fc1' (sha256", "this run", "mine-2.keras"]),
    "other_latent_layer": (lambda cwd, f: "mine.keras", "fc2", lambda cwd, f: f,
                           ["cut at 'fc1'", "cut at 'fc2'"]),
    "no_model": (None, None, lambda cwd, f: f, ["pass the same --model and --latent-layer"]),
    "no_data": (lambda cwd, f: "mine.keras", "fc1", None, ["(pass --data"]),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_other_model_or_data_is_refused_before_anything_is_written(case, old_run, capfd):
    cwd, folder = old_run
    make_model, layer, make_data, needles = REFUSED[case]
    args = ([] if make_model is None else ["--model", make_model(cwd, folder), "--latent-layer",
                                           layer])
    args += [] if make_data is None else ["--data", make_data(cwd, folder)]
    before = snapshot(cwd)
    result = run_main(harden_main, *args, "--dataset", "digits", "--run-dir", f"refused-{case}",
                      "--from-run", "old", *BUDGET_ARGS, cwd=cwd, capfd=capfd)
    assert_clean_error(result, "--from-run old made its stages from another model or data",
                       *needles)
    assert snapshot(cwd) == before and not (cwd / f"refused-{case}").exists()


def test_in_memory_models_compare_by_their_layers_and_weights(tmp_path):
    """An in-memory model has no file: its config and weights identify it,
    so it matches the same model read from a file."""
    from lad_tf.api import _load_own_model

    model = dense_model()
    model.save(tmp_path / "m.keras")
    from_file = _load_own_model(tmp_path / "m.keras", "fc1")[1]
    in_memory = _load_own_model(model, "fc1")[1]
    assert "sha256" not in in_memory
    assert in_memory["weights_sha256"] == from_file["weights_sha256"]
    old = tmp_path / "old"
    (old / "metrics").mkdir(parents=True)
    (old / "recipe.json").write_text("{}")
    (old / "metrics" / "classifier.json").write_text(json.dumps({"provided": in_memory}))
    check_same_sources(old, from_file, None)  # the same model: no error
    model.get_layer("fc2").kernel.assign(model.get_layer("fc2").kernel * 2)
    changed = _load_own_model(model, "fc1")[1]
    with pytest.raises(LadError, match=r"cut at 'fc1' \(weights_sha256 .*\), this run dense "
                                       r"cut at 'fc1' \(weights_sha256"):
        check_same_sources(old, changed, None)
