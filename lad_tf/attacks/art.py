"""Shared plumbing for the attacks taken from IBM's adversarial-robustness-
toolbox (ART) 1.20.1: JSMA, Carlini-Wagner L2, APGD-CE and Square, which
cleverhans 4.0.0 cannot run on Keras 3. Each attack lives in its own file
with the shape of the cleverhans adapters: (model, x, ...) -> x_adv.

ART reaches a Keras 3 model through `TensorFlowV2Classifier`, which gets the
model's logits (a one-logit binary model seen as two, through
`softmax_logits`) and a from-logits cross-entropy; pixel values are clipped
to [0, 1]. Targeted attacks take `target` labels; untargeted ones take the
true labels `y` (or none: ART then uses the model's predictions).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import tensorflow as tf

from lad_tf.attacks.logits import softmax_logits
from lad_tf.utils.errors import LadError

# Two messages of ART's own that a user cannot act on: its optional PyTorch
# backends are missing (this project uses TensorFlow only), and TensorFlow's
# retracing warning for the forward pass ART compiles inside every estimator
# (one estimator per attack call; the batches it passes shrink as images fall).
warnings.filterwarnings("ignore", message="PyTorch not found", category=UserWarning)


class _ArtRetracing(logging.Filter):
    def filter(self, record):
        return "TensorFlowV2Classifier.__init__.<locals>._forward_pass" not in record.getMessage()


tf.get_logger().addFilter(_ArtRetracing())


def art_classifier(model, input_shape, num_classes: int, loss_object=None):
    """Wraps a logits model for ART.

    Args:
        model: callable images float32 [B, H, W, C] in [0, 1] -> logits [B, K];
            a single (sigmoid) logit is passed on as [0, l] (`softmax_logits`).
        input_shape: (H, W, C).
        num_classes: K, or 2 for a one-logit binary model.
        loss_object: the loss ART differentiates, (labels, logits) -> loss;
            None: from-logits sparse cross-entropy.

    Returns:
        an ART `TensorFlowV2Classifier`.

    Raises:
        LadError: `num_classes` does not match the model's logits.
    """
    # lazy: ART takes ~1 s to import, and only its attacks need it
    from art.estimators.classification import TensorFlowV2Classifier

    logits = softmax_logits(lambda x: model(x, training=False))
    # ART trusts nb_classes for its one-hot labels and class gradients; a
    # mismatch would fail deep inside it, so check one dummy image first.
    width = int(logits(tf.zeros((1, *input_shape), tf.float32)).shape[-1])
    if width != num_classes:
        raise LadError(f"the model gives {width} class scores but num_classes={num_classes}; "
                       f"pass num_classes={width} (2 for a one-logit binary model)")
    # A traced function: ART calls the model several times per iteration, and
    # eager Keras calls cost more than the LeNet arithmetic itself.
    traced = tf.function(logits, reduce_retracing=True)
    return TensorFlowV2Classifier(
        model=lambda x, training=False: traced(x), nb_classes=num_classes,
        input_shape=tuple(input_shape),
        loss_object=(tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                     if loss_object is None else loss_object),
        clip_values=(0.0, 1.0))


def one_hot(labels, num_classes: int):
    """float32 [B, num_classes] one-hot rows of int labels [B], or None for None."""
    return None if labels is None else np.eye(num_classes, dtype="float32")[np.asarray(labels)]
