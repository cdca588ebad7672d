"""`lad_tf.utils.shared_models`: a run's model file loaded once per version,
and loaded again when the file changes (a retrained model is never stale)."""

import os

import keras
import numpy as np

from lad_tf.utils import shared_models


def _save(path, bias: float):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.layers[0].bias.assign(np.full(2, bias, "float32"))
    model.save(path)


def test_one_object_per_file_version(tmp_path, monkeypatch):
    shared_models.clear()
    path = tmp_path / "m.keras"
    _save(path, 1.0)
    first = shared_models.shared_model(path)
    assert shared_models.shared_model(path) is first
    _save(path, 2.0)  # retrained: another size or modification time
    os.utime(path, ns=(1, os.stat(path).st_mtime_ns + 1_000_000))
    second = shared_models.shared_model(path)
    assert second is not first
    np.testing.assert_array_equal(second.layers[0].bias.numpy(), [2.0, 2.0])
    monkeypatch.setattr(shared_models, "MAX_MODELS", 1)
    other = tmp_path / "o.keras"
    _save(other, 3.0)
    shared_models.shared_model(other)
    assert list(shared_models._MODELS) == [(str(other.resolve()), shared_models.fingerprint(other))]
    shared_models.clear()
