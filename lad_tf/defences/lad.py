"""LAD: fine-tuning with the alpha-weighted loss of Eq. 4 (the paper's defence).

    J~ = alpha * J(theta; x, y) + (1 - alpha) * J(theta; G(z + eps beta d), y_s)

The generated set G(z') is made once from the provider split
(`lad_tf.lad.boundary`) and paired with training batches by
`lad_tf.defences.datasets.hardening_dataset` or `paired_dataset`. The paper's
fine-tuning baselines (FGSM-FT, ..., CW-FT) are the same step with another
attack's examples in place of G(z'). The LAD hybrids (`lad_fast.py`,
`lad_pgd.py`) replace the clean x of the first term by an adversarial one.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from lad_tf.defences.base import Defence


class LAD(Defence):
    """Fine-tunes `classifier` on clean and generated batches (Eq. 4).

    Args:
        classifier: a `LatentClassifier` returning logits; trained in place.
        alpha: weight of the first (clean) term; 1 - alpha weighs the
            generated batch.
        eps, eps_ramp_steps: the first term's attack budget (hybrids only).

    Training data: ((x, y), (x_gen, y_gen)) with x float32 [B, H, W, C] in
    [0, 1] and integer labels [B]; y_gen is the source class of each
    generated image. Evaluation data: (x, y) clean batches.
    """

    def __init__(self, classifier, alpha: float = 0.5, eps: float = 0.0, eps_ramp_steps: int = 0,
                 **kwargs):
        super().__init__(classifier, eps=eps, eps_ramp_steps=eps_ramp_steps, **kwargs)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1]. Received: alpha={alpha}")
        self.alpha = float(alpha)
        self.clean_loss_tracker = keras.metrics.Mean(name="clean_loss")
        self.adv_loss_tracker = keras.metrics.Mean(name="adv_loss")

    @property
    def metrics(self):
        return [self.loss_tracker, self.clean_loss_tracker, self.adv_loss_tracker,
                self.clean_accuracy, self.train_accuracy]

    @staticmethod
    def unpack(data):
        """((x, y), (x_gen, y_gen)) from fit()'s (inputs, targets) or
        train_on_batch's packed inputs."""
        inputs, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        return inputs if targets is None else (inputs, targets)

    def first_term_input(self, x, y):
        """The images of Eq. 4's first term: clean x here, adversarial in hybrids."""
        return x

    def compute_loss_terms(self, data) -> dict:
        (x, y), (x_gen, y_gen) = self.unpack(data)
        x_first = self.first_term_input(x, y)
        logits = self(x_first, training=True)
        logits_gen = self(x_gen, training=True)
        j_first = self.loss_fn(self.labels(y), logits)
        j_gen = self.loss_fn(self.labels(y_gen), logits_gen)
        return {"loss": self.alpha * j_first + (1.0 - self.alpha) * j_gen, "y": y,
                "logits": logits, "clean_loss": j_first, "adv_loss": j_gen,
                "y_gen": y_gen, "logits_gen": logits_gen}

    def record(self, terms: dict):
        replicas = tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, tf.float32)
        self.loss_tracker.update_state(terms["loss"] * replicas)
        self.clean_loss_tracker.update_state(terms["clean_loss"] * replicas)
        self.adv_loss_tracker.update_state(terms["adv_loss"] * replicas)
        self.clean_accuracy.update_state(self.labels(terms["y"]), terms["logits"])
        self.train_accuracy.update_state(self.labels(terms["y_gen"]), terms["logits_gen"])
        return {m.name: m.result() for m in self.metrics}
