"""Read-only models shared within a process: a run's `.keras` file loaded once.

The export choice and the evaluation read the same model files (the original
and every defence); each load cost about 0.25 s on a LeNet, and each new
model object traced its attacks' functions again (`lad_tf.attacks.art` and
`lad_tf.attacks.logits` keep theirs on the model). A file is loaded again
when its size or modification time changes (`fingerprint`), so a retrained
model is never served stale. Callers must not change a shared model's
weights: a model to train is loaded with `keras.models.load_model`.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import keras

from lad_tf.utils.files import fingerprint

MAX_MODELS = 16  # the original and ten defences of a run, with room to spare

_MODELS: OrderedDict = OrderedDict()


def shared_model(path) -> keras.Model:
    """The model in the `.keras` file `path`, loaded once per file version.

    Args:
        path: a `.keras` file.

    Returns:
        a Keras model shared with every other caller of the same file version;
        the least recently used of more than `MAX_MODELS` are dropped.
    """
    key = (str(Path(path).resolve()), fingerprint(path))
    if key in _MODELS:
        _MODELS.move_to_end(key)
        return _MODELS[key]
    model = keras.models.load_model(path)
    _MODELS[key] = model
    while len(_MODELS) > MAX_MODELS:
        _MODELS.popitem(last=False)
    return model


def clear() -> None:
    """Drops every shared model (their memory is freed once no caller holds them)."""
    _MODELS.clear()
