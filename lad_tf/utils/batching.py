"""Fixed-shape batched inference, so that tf.functions trace once."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from lad_tf.utils.traced import traced_call


def predict_labels(logits) -> np.ndarray:
    """Class labels from logits: argmax, or logit > 0 for a single sigmoid logit."""
    logits = np.asarray(logits)
    if logits.shape[-1] == 1:
        return (logits[..., 0] > 0).astype("int64")
    return logits.argmax(axis=-1).astype("int64")


def batched(fn, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Applies `fn` to `x` in batches of exactly `batch_size` rows.

    The last batch is padded with copies of its first row and trimmed after,
    so a `tf.function` with a fixed input shape never retraces.

    Args:
        fn: a callable on a float32 tensor [batch_size, ...].
        x: array [N, ...].
    Returns: the concatenated outputs [N, ...] as a NumPy array.
    """
    n = len(x)
    if n == 0:
        out = fn(tf.zeros((batch_size, *x.shape[1:]), x.dtype))
        return np.zeros((0, *out.shape[1:]), np.asarray(out).dtype)
    outputs = []
    for start in range(0, n, batch_size):
        chunk = x[start:start + batch_size]
        pad = batch_size - len(chunk)
        if pad:
            chunk = np.concatenate([chunk, np.repeat(chunk[:1], pad, axis=0)])
        out = np.asarray(fn(tf.convert_to_tensor(chunk)))
        outputs.append(out[:batch_size - pad] if pad else out)
    return np.concatenate(outputs)


def predict(model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Predicted labels int [N] of a logits model on x float32 [N, H, W, C] in [0, 1].

    Runs one traced call per batch of exactly min(batch_size, N) images
    (`batched`), so a long evaluation traces the model once.
    """
    if len(x) == 0:
        return np.zeros((0,), "int64")
    return predict_labels(batched(traced_call(model), x, min(batch_size, len(x))))
