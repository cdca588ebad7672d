"""What every defence shares: a Keras model that wraps a classifier and
trains it in place with its own `train_step`.

A subclass implements `compute_loss_terms(data)` and returns the total loss
with the batch its accuracy describes; the base applies the gradient step,
keeps the loss and accuracy trackers, ramps eps and evaluates clean batches.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from lad_tf.attacks.logits import softmax_logits
from lad_tf.defences.perturb import fgsm_random_start, n_fgsm, pgd_linf


def classification_loss(num_classes: int) -> keras.losses.Loss:
    """Cross-entropy on logits: sparse categorical, or binary for one logit."""
    if num_classes == 1:
        return keras.losses.BinaryCrossentropy(from_logits=True)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def logits_accuracy(num_classes: int, name: str = "accuracy") -> keras.metrics.Metric:
    """Accuracy on logits: logit > 0 for one logit, else argmax.

    (Keras' "accuracy" string would compare a single logit with 0.5, as if it
    were a probability.)
    """
    if num_classes == 1:
        return keras.metrics.BinaryAccuracy(threshold=0.0, name=name)
    return keras.metrics.SparseCategoricalAccuracy(name=name)


class Defence(keras.Model):
    """Base class of the defences in `lad_tf.defences`.

    Args:
        classifier: a `LatentClassifier` returning logits; trained in place.
        eps: L-inf budget of the defence's training attack (0: none).
        eps_ramp_steps: optimizer steps over which eps grows linearly from 0
            to `eps` (MNIST adversarial training usually needs a ramp); 0: none.

    Training data: (x, y) batches, x float32 [B, H, W, C] in [0, 1], y int
    [B] (LAD-style defences: ((x, y), (x_gen, y_gen)), see `lad.py`).
    """

    def __init__(self, classifier, eps: float = 0.0, eps_ramp_steps: int = 0, **kwargs):
        super().__init__(**kwargs)
        if eps < 0:
            raise ValueError(f"eps must be >= 0. Received: eps={eps}")
        self.classifier = classifier
        self.eps, self.eps_ramp_steps = float(eps), int(eps_ramp_steps)
        # The wrapped classifier is already built; without this, fit() under
        # tf.distribute tries to build the wrapper by calling it on (x, y).
        self.built = classifier.built
        self.loss_fn = classification_loss(classifier.num_classes)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.train_accuracy = logits_accuracy(classifier.num_classes, "adv_accuracy")
        self.clean_accuracy = logits_accuracy(classifier.num_classes, "clean_accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.train_accuracy, self.clean_accuracy]

    def call(self, x, training=False):
        return self.classifier(x, training=training)

    def labels(self, y):
        """y as the loss wants it: float [B, 1] for one logit, else int [B]."""
        if self.classifier.num_classes == 1:
            return tf.cast(tf.reshape(y, (-1, 1)), tf.float32)
        return y

    def cross_entropy(self, x, y, training=True):
        """Mean cross-entropy of the classifier on (x, y)."""
        return self.loss_fn(self.labels(y), self(x, training=training))

    def two_class_logits(self, x, training=False):
        """Logits [B, K] for a softmax (a one-logit model as [0, l])."""
        return softmax_logits(lambda b: self(b, training=training))(x)

    def current_eps(self):
        """eps of this step: ramped over `eps_ramp_steps`, then constant."""
        if self.eps_ramp_steps <= 0:
            return tf.constant(self.eps, tf.float32)
        done = tf.cast(self.optimizer.iterations, tf.float32) / float(self.eps_ramp_steps)
        return self.eps * tf.minimum(1.0, done)

    def adversarial(self, x, y):
        """The defence's training examples for (x, y); x itself by default."""
        return x

    def pgd_examples(self, x, y, step: float, steps: int):
        """PGD-k examples of (x, y) at this step's eps, against the current
        weights; the step size scales with the eps ramp."""
        eps = self.current_eps()
        return pgd_linf(lambda b: self.cross_entropy(b, y, training=False), x, eps,
                        step * eps / max(self.eps, 1e-12), steps)

    def single_step_examples(self, x, y, nfgsm: bool = False, step_factor: float = 1.25,
                             random_start: bool = True):
        """One-step examples at this step's eps: FGSM (Wong et al.: random
        start, step 1.25 eps) or N-FGSM."""
        eps = self.current_eps()
        loss_of = lambda b: self.cross_entropy(b, y, training=False)  # noqa: E731
        if nfgsm:
            return n_fgsm(loss_of, x, eps)
        return fgsm_random_start(loss_of, x, eps, step_factor, random_start)

    def compute_loss_terms(self, data) -> dict:
        """{"loss": total loss, "y": labels, "logits": logits the accuracy
        tracker scores, and any sub-losses a subclass records}."""
        raise NotImplementedError

    def record(self, terms: dict):
        """Updates the trackers from `compute_loss_terms`' dict; returns logs."""
        # Keras losses divide by the replica count under tf.distribute, so that
        # summed replica gradients average; the trackers report the mean.
        replicas = tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, tf.float32)
        self.loss_tracker.update_state(terms["loss"] * replicas)
        self.train_accuracy.update_state(self.labels(terms["y"]), terms["logits"])
        return {m.name: m.result() for m in (self.loss_tracker, self.train_accuracy)}

    def train_step(self, data):
        with tf.GradientTape() as tape:
            terms = self.compute_loss_terms(data)
            scaled = self.optimizer.scale_loss(terms["loss"])  # mixed-precision scaling
        variables = self.classifier.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return self.record(terms)

    def test_step(self, data):
        """Clean loss and accuracy (robust validation is `RobustSelection`'s)."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        logits = self(x, training=False)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self.loss_tracker.update_state(self.loss_fn(self.labels(y), logits) * replicas)
        self.clean_accuracy.update_state(self.labels(y), logits)
        return {m.name: m.result() for m in (self.loss_tracker, self.clean_accuracy)}
