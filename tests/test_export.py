"""SavedModel export: TF Serving layout, TensorFlow's own loader and CLI."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from lad_tf.export import export_model
from lad_tf.models import build_classifier

SAVED_MODEL_CLI = Path(sys.executable).parent / "saved_model_cli"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("serving")
    model = build_classifier("lenet")
    path = export_model(model, base, "lenet", {"dataset": "mnist", "note": "test"})
    return model, base, path


def test_layout_and_versions(exported):
    model, base, path = exported
    assert path == base / "lenet" / "1"
    assert (path / "saved_model.pb").is_file() and (path / "variables").is_dir()
    card = json.loads((path / "assets" / "model_card.json").read_text())
    assert card["dataset"] == "mnist"
    second = export_model(model, base, "lenet")
    assert second.name == "2" and (path / "saved_model.pb").is_file()
    # Only complete integer versions are visible to a server.
    assert sorted(p.name for p in (base / "lenet").iterdir()) == ["1", "2"]


def test_loaded_in_a_separate_process_matches_keras(exported, tmp_path, mnist):
    model, _, path = exported
    x = mnist.x_test[:64]
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({str(path)!r})
        fn = loaded.signatures["serving_default"]
        out = fn(images=tf.constant(np.load({str(tmp_path / 'x.npy')!r})))
        np.savez({str(tmp_path / 'out.npz')!r}, **{{k: v.numpy() for k, v in out.items()}})
    """)
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    out = np.load(tmp_path / "out.npz")
    keras_logits = np.asarray(model(x))
    max_abs = float(np.abs(out["logits"] - keras_logits).max())
    print(f"max abs logit difference SavedModel vs Keras: {max_abs}")
    assert max_abs <= 1e-5
    np.testing.assert_array_equal(out["classes"], keras_logits.argmax(1))
    np.testing.assert_allclose(out["probabilities"].sum(1), 1.0, rtol=1e-5)


def test_saved_model_cli_lists_the_signature(exported):
    _, _, path = exported
    shown = subprocess.run([str(SAVED_MODEL_CLI), "show", "--dir", str(path), "--all"],
                           check=True, capture_output=True, text=True).stdout
    assert "signature_def['serving_default']" in shown
    assert "inputs['images']" in shown and "(-1, 28, 28, 1)" in shown
    for name in ("logits", "probabilities", "classes"):
        assert f"outputs['{name}']" in shown
    assert "tensorflow/serving/predict" in shown


@pytest.mark.parametrize("bad, message", [
    (np.full((2, 28, 28, 1), np.nan, "float32"), "NaN or infinite"),
    (np.full((2, 28, 28, 1), np.inf, "float32"), "NaN or infinite"),
])
def test_bad_values_are_rejected_in_graph(exported, bad, message):
    _, _, path = exported
    fn = tf.saved_model.load(str(path)).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        fn(images=tf.constant(bad))


def test_out_of_range_values_are_clipped(exported):
    _, _, path = exported
    fn = tf.saved_model.load(str(path)).signatures["serving_default"]
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    a = fn(images=tf.constant(x * 3 - 1))["logits"].numpy()
    b = fn(images=tf.constant(np.clip(x * 3 - 1, 0, 1)))["logits"].numpy()
    np.testing.assert_allclose(a, b, rtol=1e-6)
