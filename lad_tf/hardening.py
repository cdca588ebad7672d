"""LAD fine-tuning with the alpha-weighted loss of Eq. 4.

    J~ = alpha * J(theta; x, y) + (1 - alpha) * J(theta; G(z + eps beta d), y_s)

`LADHardening` wraps a classifier; its `train_step` receives a clean batch and
a batch of generated examples (labelled with their source class) and applies
J~. The generated set is made once from the provider split (boundary.py) and
paired with clean training batches by `hardening_dataset`.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def classification_loss(num_classes: int) -> keras.losses.Loss:
    """Cross-entropy on logits: sparse categorical, or binary for one logit."""
    if num_classes == 1:
        return keras.losses.BinaryCrossentropy(from_logits=True)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def classification_accuracy(num_classes: int):
    """The "accuracy" metric on logits: logit > 0 for one logit, else argmax.

    (Keras' "accuracy" string would compare a single logit with 0.5, as if
    it were a probability.)
    """
    if num_classes == 1:
        return keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")
    return "accuracy"


class LADHardening(keras.Model):
    """Fine-tunes `classifier` on clean and LAD-generated batches (Eq. 4).

    Args:
        classifier: a `LatentClassifier` returning logits; it is trained in place.
        alpha: weight of the clean loss; 1 - alpha weighs the generated batch.

    Training data: ((x, y), (x_adv, y_adv)) with x float32 [B, H, W, C] in
    [0, 1] and integer labels [B]. Evaluation data: (x, y) clean batches.
    """

    def __init__(self, classifier, alpha: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1]. Received: alpha={alpha}")
        self.classifier = classifier
        self.alpha = float(alpha)
        # The wrapped classifier is already built; without this, fit() under
        # tf.distribute tries to build the wrapper by calling it on (x, y).
        self.built = classifier.built
        self.loss_fn = classification_loss(classifier.num_classes)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.clean_loss_tracker = keras.metrics.Mean(name="clean_loss")
        self.adv_loss_tracker = keras.metrics.Mean(name="adv_loss")
        acc = (keras.metrics.BinaryAccuracy if classifier.num_classes == 1
               else keras.metrics.SparseCategoricalAccuracy)
        self.clean_accuracy = acc(name="clean_accuracy")
        self.adv_accuracy = acc(name="adv_accuracy")
        if classifier.num_classes == 1:  # BinaryAccuracy reads probabilities
            self._acc_input = tf.sigmoid
        else:
            self._acc_input = tf.identity

    @property
    def metrics(self):
        return [self.loss_tracker, self.clean_loss_tracker, self.adv_loss_tracker,
                self.clean_accuracy, self.adv_accuracy]

    def call(self, x, training=False):
        return self.classifier(x, training=training)

    def _labels(self, y):
        if self.classifier.num_classes == 1:
            return tf.cast(tf.reshape(y, (-1, 1)), tf.float32)
        return y

    def lad_loss(self, x, y, x_adv, y_adv, training=True):
        """Returns (J~, J_clean, J_adv, logits, logits_adv)."""
        logits = self(x, training=training)
        logits_adv = self(x_adv, training=training)
        j_clean = self.loss_fn(self._labels(y), logits)
        j_adv = self.loss_fn(self._labels(y_adv), logits_adv)
        total = self.alpha * j_clean + (1.0 - self.alpha) * j_adv
        return total, j_clean, j_adv, logits, logits_adv

    @staticmethod
    def _unpack(data):
        # fit() on a dataset passes ((x, y), (x_adv, y_adv)) as (inputs, targets);
        # train_on_batch packs the same pair as the inputs of (x, None, None).
        inputs, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        return inputs if targets is None else (inputs, targets)

    def train_step(self, data):
        (x, y), (x_adv, y_adv) = self._unpack(data)
        return self.apply_lad_step(x, y, x_adv, y_adv)

    def apply_lad_step(self, x, y, x_adv, y_adv):
        """One optimizer step on J~ for these batches; returns the metrics."""
        with tf.GradientTape() as tape:
            total, j_clean, j_adv, logits, logits_adv = self.lad_loss(x, y, x_adv, y_adv)
            scaled = self.optimizer.scale_loss(total)  # mixed-precision loss scaling
        variables = self.classifier.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        # Keras losses divide by the number of replicas under tf.distribute, so
        # that summed replica gradients average; the trackers report the
        # per-example mean, as on one device.
        replicas = tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, total.dtype)
        self.loss_tracker.update_state(total * replicas)
        self.clean_loss_tracker.update_state(j_clean * replicas)
        self.adv_loss_tracker.update_state(j_adv * replicas)
        self.clean_accuracy.update_state(self._labels(y), self._acc_input(logits))
        self.adv_accuracy.update_state(self._labels(y_adv), self._acc_input(logits_adv))
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        logits = self(x, training=False)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        j_clean = self.loss_fn(self._labels(y), logits) * replicas
        self.loss_tracker.update_state(j_clean)
        self.clean_loss_tracker.update_state(j_clean)
        self.clean_accuracy.update_state(self._labels(y), self._acc_input(logits))
        return {m.name: m.result() for m in (self.loss_tracker, self.clean_loss_tracker,
                                             self.clean_accuracy)}


def hardening_dataset(x_clean: np.ndarray, y_clean: np.ndarray, x_adv: np.ndarray,
                      y_adv: np.ndarray, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """Pairs each batch of generated examples with a batch of clean ones.

    One epoch is one pass over the generated set; the clean data is shuffled
    and repeated so every step sees a fresh clean batch.
    """
    if len(x_adv) == 0:
        raise ValueError("the generated set is empty; lower hardening.eps or turn off "
                         "hardening.only_inconsistent")
    clean = (tf.data.Dataset.from_tensor_slices((x_clean, y_clean.astype("int64")))
             .shuffle(min(len(x_clean), 60000), seed=seed).repeat()
             .batch(batch_size, drop_remainder=True))
    adv = (tf.data.Dataset.from_tensor_slices((x_adv, y_adv.astype("int64")))
           .shuffle(len(x_adv), seed=seed + 1)
           .batch(batch_size, drop_remainder=len(x_adv) >= batch_size))
    return tf.data.Dataset.zip((clean, adv)).prefetch(tf.data.AUTOTUNE)
