"""The training data of Eq. 4: batches of the training split paired with
batches of generated (or crafted) examples.

The Eq. 4 step itself is `lad_tf.defences.LAD`; the loss and accuracy
helpers live in `lad_tf.defences.base`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def _shuffled(x, y, buffer: int | None, seed: int) -> tf.data.Dataset:
    """Unbatched (image, label) pairs reshuffled every epoch: `x` itself when it
    is such a `tf.data.Dataset` (a streamed split, `DatasetSplits.examples`),
    else arrays x [N, H, W, C], y [N] shuffled with a buffer of `buffer` (None: N)."""
    if isinstance(x, tf.data.Dataset):
        return x
    return (tf.data.Dataset.from_tensor_slices((x, y.astype("int64")))
            .shuffle(min(len(x), buffer or len(x)), seed=seed))


def hardening_dataset(x_clean, y_clean: np.ndarray | None, x_adv: np.ndarray,
                      y_adv: np.ndarray, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """Pairs each batch of generated examples with a batch of clean ones.

    One epoch is one pass over the generated set; the clean data is shuffled
    and repeated so every step sees a fresh clean batch.

    Args:
        x_clean: float32 [N, H, W, C] in [0, 1], or a `tf.data.Dataset` of
            unbatched (image, label) pairs that reshuffles itself each epoch
            (then `y_clean` is None), e.g. a training split read from disk.
        y_clean: int labels [N], or None.
    """
    if len(x_adv) == 0:
        raise ValueError("the generated set is empty; lower hardening.eps or turn off "
                         "hardening.only_inconsistent")
    clean = (_shuffled(x_clean, y_clean, 60000, seed).repeat()
             .batch(batch_size, drop_remainder=True))
    adv = (tf.data.Dataset.from_tensor_slices((x_adv, y_adv.astype("int64")))
           .shuffle(len(x_adv), seed=seed + 1)
           .batch(batch_size, drop_remainder=len(x_adv) >= batch_size))
    return tf.data.Dataset.zip((clean, adv)).prefetch(tf.data.AUTOTUNE)


def paired_dataset(x_train, y_train: np.ndarray | None, x_gen: np.ndarray,
                   y_gen: np.ndarray, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """Pairs each training batch with a batch of generated examples (LAD hybrids).

    One epoch is one pass over the training split; the generated set is
    shuffled and repeated so every step sees a fresh generated batch.
    `x_train` / `y_train` as `hardening_dataset`'s `x_clean` / `y_clean`.
    """
    if len(x_gen) == 0:
        raise ValueError("the generated set is empty; lower hardening.eps or turn off "
                         "hardening.only_inconsistent")
    train = _shuffled(x_train, y_train, None, seed).batch(batch_size, drop_remainder=True)
    gen = (tf.data.Dataset.from_tensor_slices((x_gen, y_gen.astype("int64")))
           .shuffle(len(x_gen), seed=seed + 1).repeat().batch(batch_size, drop_remainder=True))
    return tf.data.Dataset.zip((train, gen)).prefetch(tf.data.AUTOTUNE)

