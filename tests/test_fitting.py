"""`lad_tf.utils.fitting.fit_epochs`: every epoch one whole pass over a
finite dataset, read from one iterator (benchmarks/input_pipeline.py times it)."""

import keras
import numpy as np
import tensorflow as tf

from lad_tf.utils.fitting import fit_epochs


class _Counting(keras.Model):
    """Sums the images it trains on, per epoch (a Sum metric, reset every epoch)."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.total = keras.metrics.Sum(name="total")

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x, _ = data
        self.total.update_state(tf.reduce_sum(x))
        return {"total": self.total.result()}

    @property
    def metrics(self):
        return [self.total]


class _Batches(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.seen = getattr(self, "seen", []) + [0]

    def on_train_batch_end(self, batch, logs=None):
        self.seen[-1] += 1


def _data(shuffle=True):
    x = np.arange(12, dtype="float32")[:, None]
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(12, "int64")))
    return ds.shuffle(12, seed=0) if shuffle else ds


def test_every_epoch_is_one_whole_pass():
    model, batches = _Counting(), _Batches()
    model.compile(optimizer="sgd")
    history = fit_epochs(model, _data().batch(5), 3, verbose=0, shuffle=False, callbacks=[batches])
    assert batches.seen == [3, 3, 3]  # 12 images in batches of 5: 5, 5, 2
    assert history.history["total"] == [66.0, 66.0, 66.0]  # 0 + 1 + ... + 11, once each


def test_a_dataset_of_unknown_length_is_fit_as_it_is():
    model, batches = _Counting(), _Batches()
    model.compile(optimizer="sgd")
    unknown = _data(shuffle=False).filter(lambda x, y: x[0] >= 0).batch(4)
    assert int(unknown.cardinality()) == int(tf.data.UNKNOWN_CARDINALITY)
    history = fit_epochs(model, unknown, 2, verbose=0, shuffle=False, callbacks=[batches])
    assert history.history["total"] == [66.0, 66.0]
