"""Madry et al. (2018) PGD adversarial training, the standard defence LAD is
compared with, as a Keras model with its own `train_step`.

Each step crafts PGD-k examples against the current weights (cleverhans,
L-inf, random start) and takes one gradient step on them. With `mix` > 0 the
loss is mix * J(x, y) + (1 - mix) * J(x_pgd, y); `mix` = 0 is plain Madry
training. `LADPGDTraining` combines the two defences: Eq. 4 with the clean
term replaced by Madry's PGD term.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from lad_tf.attacks.pgd import pgd
from lad_tf.hardening import LADHardening, classification_loss


class PGDAdversarialTraining(keras.Model):
    """Fine-tunes `classifier` on PGD examples crafted in every step.

    Args:
        classifier: a `LatentClassifier` returning logits (trained in place).
        eps, eps_iter, nb_iter: the PGD budget, step and number of steps
            (Madry: 0.3, 0.01, 40 on MNIST).
        mix: weight of the clean loss (0: adversarial examples only).

    Training data: (x, y) clean batches, x float32 [B, H, W, C] in [0, 1].
    """

    def __init__(self, classifier, eps: float = 0.3, eps_iter: float = 0.01, nb_iter: int = 40,
                 mix: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= mix <= 1.0:
            raise ValueError(f"mix must be in [0, 1]. Received: mix={mix}")
        self.classifier = classifier
        self.eps, self.eps_iter, self.nb_iter, self.mix = eps, eps_iter, int(nb_iter), float(mix)
        # The wrapped classifier is already built; without this, fit() under
        # tf.distribute tries to build the wrapper by calling it on (x, y).
        self.built = classifier.built
        self.loss_fn = classification_loss(classifier.num_classes)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.adv_accuracy = keras.metrics.SparseCategoricalAccuracy(name="adv_accuracy")
        self.clean_accuracy = keras.metrics.SparseCategoricalAccuracy(name="clean_accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.adv_accuracy, self.clean_accuracy]

    def call(self, x, training=False):
        return self.classifier(x, training=training)

    def craft(self, x, y):
        """PGD-k examples against the current weights: [B, H, W, C] in [0, 1]."""
        return tf.stop_gradient(pgd(self.classifier, x, eps=self.eps, eps_iter=self.eps_iter,
                                    nb_iter=self.nb_iter, y=y))

    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        x_adv = self.craft(x, y)
        with tf.GradientTape() as tape:
            logits_adv = self(x_adv, training=True)
            loss = (1.0 - self.mix) * self.loss_fn(y, logits_adv)
            if self.mix > 0:
                loss += self.mix * self.loss_fn(y, self(x, training=True))
            scaled = self.optimizer.scale_loss(loss)
        variables = self.classifier.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        # Keras losses are divided by the replica count under tf.distribute.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self.loss_tracker.update_state(loss * replicas)
        self.adv_accuracy.update_state(y, logits_adv)
        return {"loss": self.loss_tracker.result(), "adv_accuracy": self.adv_accuracy.result()}

    def test_step(self, data):
        """Validation on clean batches: clean loss and accuracy (crafting PGD
        for every validation batch would double the cost of an epoch)."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        logits = self(x, training=False)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self.loss_tracker.update_state(self.loss_fn(y, logits) * replicas)
        self.clean_accuracy.update_state(y, logits)
        return {"loss": self.loss_tracker.result(), "clean_accuracy": self.clean_accuracy.result()}


class LADPGDTraining(LADHardening):
    """LAD + PGD: J~ = alpha * J(x_pgd, y) + (1 - alpha) * J(G(z'), y_s).

    The clean batch of Eq. 4 is replaced by PGD-k examples crafted from it
    against the current weights, so the model trains on both the worst-case
    L-inf neighbourhood (Madry) and the boundary-guided latent examples (LAD).
    Training data: ((x, y), (x_adv, y_adv)) as for `LADHardening`; the
    "clean_*" metrics then describe the PGD batch.
    """

    def __init__(self, classifier, alpha: float = 0.5, eps: float = 0.3, eps_iter: float = 0.01,
                 nb_iter: int = 40, **kwargs):
        super().__init__(classifier, alpha=alpha, **kwargs)
        self.eps, self.eps_iter, self.nb_iter = eps, eps_iter, int(nb_iter)

    def train_step(self, data):
        (x, y), (x_adv, y_adv) = self._unpack(data)
        x_pgd = tf.stop_gradient(pgd(self.classifier, x, eps=self.eps, eps_iter=self.eps_iter,
                                     nb_iter=self.nb_iter, y=y))
        return self.apply_lad_step(x_pgd, y, x_adv, y_adv)
