"""`model.fit` over a finite tf.data pipeline from one iterator."""

from __future__ import annotations

import tensorflow as tf


def fit_epochs(model, data, epochs: int, **kwargs):
    """`model.fit(data, epochs=epochs, **kwargs)`, every epoch one full pass
    over `data`, all read from one iterator.

    Keras makes a new iterator of a finite dataset for every epoch. On a 2-core
    CPU the first step after that sometimes waited, idle, for 30-45 s: PGD-AT
    on MNIST (480 steps an epoch) lost 34-45 s in four later epochs of one run;
    `benchmarks/input_pipeline.py` measures both ways side by side (median
    later epoch 0.82x with one iterator, slowest first step 29.9 s -> 0.3 s).
    Repeating the dataset and setting `steps_per_epoch` to its length keeps
    one iterator and gives the same epochs (a shuffle before the repeat
    reshuffles every pass). Arrays, and datasets of unknown or infinite
    length, go to `fit` as they are.
    """
    if isinstance(data, tf.data.Dataset) and "steps_per_epoch" not in kwargs:
        steps = int(data.cardinality())
        if steps > 0:
            return model.fit(data.repeat(), steps_per_epoch=steps, epochs=epochs, **kwargs)
    return model.fit(data, epochs=epochs, **kwargs)
