"""Issue 13, "Your model": harden a provider's own Keras classifier.

Two small CNNs (one Functional ending in Dense(softmax), one Sequential ending
in a Softmax layer and cut at a convolutional latent) are trained briefly on
the embedded digits data (8x8 scikit-learn digits resized to 28x28x1), saved
as .keras, and hardened through export from the CLI and from Python; the
exported SavedModel must answer like the hardened Keras model. Bad input
stops with one `error:` line, exit code 2, and leaves every file as it was.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from _cli import assert_clean_error, run_main, run_module, snapshot
from _tiny import LAD_ONLY_FAST_EVALUATION

import lad_tf
from lad_tf.cli.harden import main as harden_main
from lad_tf.models import CutClassifier, LeNet
from lad_tf.models.own_model import cut_model
from lad_tf.utils.errors import LadError

# The smallest budgets the digits recipe allows, as `--set` pairs.
TINY = [
    "generator.epochs=1", "svm.epochs=3", "svm.per_class=9", "generation.per_class=2",
    "generation.eps_sweep=[1.0,3.0]", "hardening.per_class=3", "hardening.epochs=1",
    "selection.per_class=2", "selection.pgd_steps=3", "evaluation.per_class=3",
    "evaluation.pgd_iterations=5",
    *LAD_ONLY_FAST_EVALUATION[1::2],
]
TINY_ARGS = [arg for pair in TINY for arg in ("--set", pair)]
# The exported graph runs the same float32 operations as the Keras model.
EXPORT_TOLERANCE = 1e-5


# -- the provider's models -------------------------------------------------------------
def functional_cnn():
    """Functional CNN ending in Dense(10, softmax); latent: the 32-d dense layer fc1."""
    images = keras.Input((28, 28, 1), name="images")
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(images)
    h = keras.layers.MaxPooling2D(2, name="pool1")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dense(32, activation="relu", name="fc1")(h)
    probs = keras.layers.Dense(10, activation="softmax", name="probs")(h)
    return keras.Model(images, probs, name="functional_cnn")


def sequential_cnn():
    """Sequential CNN ending in a Softmax layer; latent: pool2, a [5, 5, 4] feature map."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(10, name="logits"),
        keras.layers.Softmax(name="probs"),
    ], name="sequential_cnn")


MODELS = {"functional": (functional_cnn, "fc1", [32], "softmax (Dense 'probs')"),
          "sequential": (sequential_cnn, "pool2", [5, 5, 4], "softmax (Softmax 'probs')")}


@pytest.fixture(scope="module")
def digits():
    from lad_tf.data import load_dataset

    return load_dataset("digits", provider_fraction=0.25, validation_fraction=0.1)


@pytest.fixture(scope="module")
def trained(digits, tmp_path_factory):
    """Each model trained for 4 epochs on the digits training split, saved as .keras."""
    folder = tmp_path_factory.mktemp("models")
    out = {}
    for kind, (build, *_) in MODELS.items():
        keras.utils.set_random_seed(0)
        model = build()
        model.compile(optimizer=keras.optimizers.Adam(2e-3),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(digits.x_train, digits.y_train, batch_size=32, epochs=4, verbose=0)
        test_accuracy = model.evaluate(digits.x_test, digits.y_test, verbose=0)[1]
        assert test_accuracy > 0.5, (kind, test_accuracy)  # a real, if brief, training
        path = folder / f"{kind}_cnn.keras"
        model.save(path)
        out[kind] = (model, path)
    return out


def check_run(run_dir: Path, kind: str, model, digits, export_name: str):
    """The run used the provider's model as the original and exported the hardened one."""
    _, layer, latent_shape, stripped = MODELS[kind]
    classifier = json.loads((run_dir / "metrics" / "classifier.json").read_text())
    own = classifier["provided"]
    assert own["latent_layer"] == layer and own["latent_shape"] == latent_shape
    assert own["stripped_activation"] == stripped
    assert own["check"]["passed"] and own["check"]["max_abs_logit_difference"] <= \
        own["check"]["logit_tolerance"]
    assert not (run_dir / "tensorboard" / "classifier").exists()  # not trained
    # The original is the provider's model: the same predictions on the provider split,
    # and softmax(its logits) is the provider's model's output.
    expected = np.mean(np.argmax(model.predict(digits.x_provider, verbose=0), -1)
                       == digits.y_provider)
    assert classifier["provider_accuracy"] == pytest.approx(expected, abs=1e-9)
    original = keras.models.load_model(run_dir / "classifier.keras")
    assert isinstance(original, CutClassifier) and original.latent_dim == np.prod(latent_shape)
    x = digits.x_test[:64]
    probs = keras.activations.softmax(original(x))
    assert np.max(np.abs(np.asarray(probs) - model.predict(x, verbose=0))) <= 1e-5

    report = json.loads((run_dir / "report.json").read_text())
    for name in ("original", "hardened"):
        assert 0.0 <= report["stages"]["evaluate"][name]["pgd_accuracy"] <= 1.0
    assert "your model" in (run_dir / "report.md").read_text()
    version = Path(report["stages"]["export"]["path"])
    assert version.parent.name == export_name and (version / "saved_model.pb").is_file()

    hardened = keras.models.load_model(run_dir / "hardened.keras")
    served = tf.saved_model.load(str(version)).signatures["serving_default"]
    logits = served(images=tf.constant(x))["logits"].numpy()
    diff = float(np.max(np.abs(logits - np.asarray(hardened(x)))))
    print(f"{kind}: exported SavedModel vs hardened Keras model, max abs logit difference "
          f"{diff:.3g} on {len(x)} test images")
    assert diff <= EXPORT_TOLERANCE
    # The export is the model the run chose on validation: the original itself
    # when no defence held better there, else a defence with changed weights.
    exported = report["stages"]["harden"]["exported_method"]
    changed = np.max(np.abs(logits - np.asarray(original(x)))) > 0
    assert changed == (exported != "original"), exported


# -- end to end --------------------------------------------------------------------------
# Each entry point runs end to end once, each model kind once: the CLI reads the
# Sequential model from its .keras file (a Softmax layer, a convolutional
# latent); the Python API takes the Functional model object, whose in-layer
# softmax must be stripped from a copy, never from the caller's model. So
# `check_run` checks each kind's cut, stripped activation and export once.
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sequential"])
def test_cli_hardens_your_model_through_export(kind, trained, digits, tmp_path, capfd):
    model, path = trained[kind]
    _, layer, _, _ = MODELS[kind]
    run_dir = tmp_path / "run"
    first = run_module("lad_tf.harden", "--model", str(path), "--latent-layer", layer,
                       "--dataset", "digits", "--run-dir", str(run_dir), "--export-base",
                       str(tmp_path / "serving"), "--stop-after", "generator", *TINY_ARGS,
                       cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"cut at '{layer}'" in first.stderr
    assert "stripped the final softmax" in first.stderr
    assert "max abs logit difference 0 " in first.stderr  # the cut is exact
    assert "using your model" in first.stderr
    # A resumed run needs neither --model nor the model file: classifier.keras is the
    # original. (The command's main() in this process: one TensorFlow start-up fewer.)
    path.rename(path.with_suffix(".moved"))
    try:
        second = run_main(harden_main, "--run-dir", run_dir, "--resume", "--export-base",
                          tmp_path / "serving", cwd=tmp_path, capfd=capfd)
    finally:
        path.with_suffix(".moved").rename(path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "reusing classifier.keras" in second.stderr and "reusing generator.keras" in second.stderr
    check_run(run_dir, kind, model, digits, f"{kind}_cnn_digits_lad")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["functional"])
def test_python_api_hardens_your_model_through_export(kind, trained, digits, tmp_path,
                                                      monkeypatch):
    model, _ = trained[kind]
    _, layer, _, _ = MODELS[kind]
    weights = [w.copy() for w in model.get_weights()]
    monkeypatch.chdir(tmp_path)
    hardened, report, run_dir = lad_tf.harden_model(
        model, dataset="digits", latent_layer=layer, method="lad", run_dir=tmp_path / "run",
        overrides=TINY, export_base=str(tmp_path / "serving"))
    assert isinstance(hardened, CutClassifier) and run_dir == tmp_path / "run"
    harden = report["stages"]["harden"]
    assert harden["exported_method"] == harden["export_choice"]["chosen"] in ("original", "lad")
    check_run(run_dir, kind, model, digits, f"{kind}_cnn_digits_lad")
    # The caller's model is left as it was: same weights, still ending in a softmax.
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    probs = model.predict(digits.x_test[:8], verbose=0)
    assert np.allclose(probs.sum(-1), 1.0, atol=1e-5)


# -- the cut, in process -----------------------------------------------------------------
def test_cut_classifier_round_trips_as_keras_file(trained, digits, tmp_path):
    model, _ = trained["sequential"]
    classifier, info = cut_model(model, "pool2")
    assert info["latent_dim"] == 100 and classifier.num_classes == 10
    z = classifier.features(digits.x_test[:8])
    assert z.shape == (8, 100)  # the [5, 5, 4] map, flattened
    classifier.save(tmp_path / "cut.keras")
    loaded = keras.models.load_model(tmp_path / "cut.keras")
    x = digits.x_test[:32]
    # Same weights, same batch: equal up to the op order of the reloaded graph
    # (as in test_saving.py).
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(classifier(x)), rtol=1e-6,
                               atol=1e-6)
    assert loaded.get_config()["latent_layer"] == "pool2"


def test_one_sigmoid_unit_is_one_logit():
    images = keras.Input((28, 28, 1))
    h = keras.layers.Dense(4, name="fc")(keras.layers.Flatten()(images))
    out = keras.layers.Dense(1, activation="sigmoid", name="prob")(h)
    classifier, info = cut_model(keras.Model(images, out), "fc")
    assert classifier.num_classes == 1 and info["stripped_activation"] == "sigmoid (Dense 'prob')"


def test_subclassed_zoo_model_keeps_its_own_cut():
    lenet = LeNet(num_classes=10).build_for_inputs()
    classifier, info = cut_model(lenet)
    assert classifier is lenet and info["latent_dim"] == 500
    with pytest.raises(LadError, match="drop --latent-layer"):
        cut_model(lenet, "fc1")


def test_layer_used_on_both_sides_is_not_a_clean_cut():
    images = keras.Input((28, 28, 1))
    shared = keras.layers.Dense(8, name="shared")
    h = keras.layers.Dense(8, name="fc")(keras.layers.Flatten()(images))
    h = shared(keras.layers.ReLU(name="relu")(shared(h)))
    model = keras.Model(images, keras.layers.Dense(10, name="logits")(h))
    with pytest.raises(LadError, match="'shared' is used both before and after"):
        cut_model(model, "relu")
    with pytest.raises(LadError, match="'shared' is used 2 times"):
        cut_model(model, "shared")


# -- bad input: one error line, exit code 2, nothing written ------------------------------
def skip_model():
    """A residual block: `add` reads fc1's output, jumping over fc2."""
    images = keras.Input((28, 28, 1))
    h = keras.layers.Dense(16, activation="relu", name="fc1")(keras.layers.Flatten()(images))
    r = keras.layers.Dense(16, name="fc2")(h)
    h = keras.layers.Add(name="add")([h, r])
    return keras.Model(images, keras.layers.Dense(10, name="logits")(h))


def two_input_model():
    images, extra = keras.Input((28, 28, 1), name="images"), keras.Input((3,), name="extra")
    h = keras.layers.Concatenate()([keras.layers.Flatten()(images), extra])
    h = keras.layers.Dense(16, name="fc1")(h)
    return keras.Model([images, extra], keras.layers.Dense(10, name="logits")(h))


def rgb_model():
    images = keras.Input((32, 32, 3))
    h = keras.layers.Dense(16, name="fc1")(keras.layers.Flatten()(images))
    return keras.Model(images, keras.layers.Dense(10, name="logits")(h))


def five_class_model():
    images = keras.Input((28, 28, 1))
    h = keras.layers.Dense(16, name="fc1")(keras.layers.Flatten()(images))
    return keras.Model(images, keras.layers.Dense(5, name="logits")(h))


def truncated_file(folder: Path, good: Path) -> Path:
    path = folder / "truncated.keras"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    return path


def zip_of_text(folder: Path, good: Path) -> Path:
    path = folder / "not_a_model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{this is not json")
    return path


BAD = {
    "unknown_layer": (functional_cnn, "fc", ["has no layer 'fc'", "did you mean", "fc1"]),
    "skip_connection": (skip_model, "fc2", ["not a clean cut", "'add'", "skip connection",
                                            "fc1"]),
    "two_inputs": (two_input_model, "fc1", ["2 inputs", "'images', 'extra'",
                                            "single keras.Input"]),
    "truncated_file": (truncated_file, "fc1", ["not a Keras model file", "model.save"]),
    "not_a_model": (zip_of_text, "fc1", ["cannot load", "model.save"]),
    "other_image_shape": (rgb_model, "fc1", ["(32, 32, 3)", "(28, 28, 1)", "keras.Input"]),
    "other_class_count": (five_class_model, "fc1", ["5 outputs", "10 classes"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_model_stops_before_anything_is_written(case, tmp_path, trained, capfd):
    """The command's main() in this process (test_cli_hardens_your_model_through_export
    runs `python -m lad_tf.harden --model` itself)."""
    make, layer, needles = BAD[case]
    if make in (truncated_file, zip_of_text):
        path = make(tmp_path, trained["functional"][1])
    else:
        path = tmp_path / f"{case}.keras"
        make().save(path)
    earlier = tmp_path / "runs" / "earlier"  # an earlier run that must stay as it was
    earlier.mkdir(parents=True)
    (earlier / "report.json").write_text("{}")
    before = snapshot(tmp_path)
    result = run_main(harden_main, "--model", path, "--latent-layer", layer,
                      "--dataset", "digits", "--run-dir", tmp_path / "runs" / "new",
                      "--export-base", tmp_path / "serving", cwd=tmp_path, capfd=capfd)
    assert_clean_error(result, *needles)
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "runs" / "new").exists() and not (tmp_path / "serving").exists()


def test_resume_refuses_another_model(trained, tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "metrics").mkdir(parents=True)
    recorded = {"source": "other.keras", "latent_layer": "fc1", "sha256": "0" * 64}
    (run_dir / "metrics" / "classifier.json").write_text(json.dumps({"provided": recorded}))
    (run_dir / "classifier.keras").write_bytes(b"")
    with pytest.raises(LadError, match="hardens other.keras cut at 'fc1', not this model"):
        lad_tf.harden_model(trained["functional"][1], latent_layer="fc1", run_dir=run_dir,
                            resume=True)


def test_latent_layer_without_model_is_refused(tmp_path):
    result = run_module("lad_tf.harden", "--latent-layer", "fc1", cwd=tmp_path)
    assert_clean_error(result, "--latent-layer needs --model")
    assert not (tmp_path / "runs").exists()


def test_overrides_as_a_dict_or_set_strings_and_methods():
    from lad_tf.api import _as_overrides

    assert _as_overrides({"generator.epochs": 2, "hardening.eps": [1.0]}, "lad,pgd-at") == [
        "generator.epochs=2", "hardening.eps=[1.0]", 'hardening.methods=["lad", "pgd-at"]']
    assert _as_overrides(["svm.epochs=3"], ["lad"]) == ["svm.epochs=3", 'hardening.methods=["lad"]']
