"""`import lad_tf` is enough to load every `.keras` file a run writes, in a fresh
interpreter and in either import order, and it still imports no TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from test_saving import _cut_classifier  # a provider's Functional CNN cut at fc1

from lad_tf.lad.attention_svm import AttentionSVM
from lad_tf.models import build_classifier
from lad_tf.utils.files import save_keras

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
# The reloaded models run the same float32 kernels on the same inputs with the
# same weights (normally bit-identical); the tolerance allows a reloaded graph's
# ops to be ordered or fused differently (a few float32 ulps on outputs of order 1).
RTOL, ATOL = 1e-6, 1e-6


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """cut.keras, lenet.keras and svm.keras, plus each one's inputs and outputs (io.npz)."""
    folder = tmp_path_factory.mktemp("saved")
    rng = np.random.default_rng(0)
    svm = AttentionSVM(num_pairs=2, latent_dim=5)
    cases = {"cut": (_cut_classifier(), rng.random((3, 8, 8, 1), dtype=np.float32)),
             "lenet": (build_classifier("lenet"), rng.random((3, 28, 28, 1), dtype=np.float32)),
             "svm": (svm, rng.normal(size=(2, 4, 5)).astype("float32"))}
    arrays = {}
    for name, (model, x) in cases.items():
        arrays[f"{name}_x"], arrays[f"{name}_y"] = x, np.asarray(model(x))
        save_keras(model, folder / f"{name}.keras")
    np.savez(folder / "io.npz", **arrays)
    return folder


LOAD_AND_COMPARE = """
    import numpy as np
    io = np.load({folder!r} + "/io.npz")
    for name, cls in (("cut", "CutClassifier"), ("lenet", "LeNet"), ("svm", "AttentionSVM")):
        model = keras.models.load_model({folder!r} + f"/{{name}}.keras")
        assert type(model).__name__ == cls, type(model)
        np.testing.assert_allclose(np.asarray(model(io[name + "_x"])), io[name + "_y"],
                                   rtol={rtol}, atol={atol})
    print("loaded and matched")
"""
ORDERS = {
    "lad_tf, then keras": "import lad_tf\nimport keras",
    "keras, then lad_tf": "import keras\nimport lad_tf",
    "lad_tf, then tensorflow (which imports keras)": "import lad_tf\nimport tensorflow\n"
                                                     "import keras",
}


@pytest.mark.parametrize("order", ORDERS)
def test_a_fresh_interpreter_loads_every_saved_class_after_import_lad_tf(saved, order):
    script = ORDERS[order] + "\n" + textwrap.dedent(LOAD_AND_COMPARE).format(
        folder=str(saved), rtol=RTOL, atol=ATOL)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=ENV, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "loaded and matched"


def test_import_lad_tf_imports_no_tensorflow():
    script = ("import sys, lad_tf\n"
              "print(sorted(m for m in ('tensorflow', 'keras', 'lad_tf.models') "
              "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=ENV, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"
