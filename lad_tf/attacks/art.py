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

import keras
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
        an ART `TensorFlowV2Classifier` (its class gradients traced, `traced_functions`).

    Raises:
        LadError: `num_classes` does not match the model's logits.
    """
    traced = traced_functions(model, input_shape)
    # ART trusts nb_classes for its one-hot labels and class gradients; a
    # mismatch would fail deep inside it, so check one dummy image first.
    width = int(traced.logits(tf.zeros((1, *input_shape), tf.float32)).shape[-1])
    if width != num_classes:
        raise LadError(f"the model gives {width} class scores but num_classes={num_classes}; "
                       f"pass num_classes={width} (2 for a one-logit binary model)")
    # lazy: ART takes ~1 s to import, and only its attacks need it
    from lad_tf.attacks.art_estimator import TracedGradientClassifier

    return TracedGradientClassifier(
        traced, model=lambda x, training=False: traced.logits(tf.cast(x, tf.float32)),
        nb_classes=num_classes, input_shape=tuple(input_shape),
        loss_object=(tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                     if loss_object is None else loss_object),
        clip_values=(0.0, 1.0), preprocessing=None)  # None: not even ART's identity (x - 0) / 1


class TracedFunctions:
    """One model's logits and per-image class gradients as traced functions,
    made once per model and image shape and kept on the model
    (`traced_functions`): every ART estimator of the model (one per attack
    call and batch) reuses their graphs. Built per estimator, their tracing
    cost more than a LeNet's arithmetic; ART's own eager class gradient
    (one tape pass per distinct label in the batch) took about 0.2 s per
    JSMA or C&W step on a batch with ten targets, the traced one a tenth.
    The batch dimension is open, so batches that shrink as images fall need
    no new trace.

    The same holds for the losses APGD reads (`loss_functions`): ART's eager
    loss gradient took 33 ms per APGD step on a LeNet batch of 50.

    Attributes:
        logits: images float32 [B, H, W, C] -> logits [B, max(K, 2)].
        label_gradient: (images [B, H, W, C], labels int32 [B]) -> float32
            [B, H, W, C], the gradient of each image's logit of its label
            with respect to that image.
    """

    def __init__(self, model, shape: tuple):
        self._spec = spec = tf.TensorSpec((None, *shape), tf.float32)
        self._losses = {}
        self.logits = tf.function(softmax_logits(lambda x: model(x, training=False)),
                                  input_signature=[spec])

        @tf.function(input_signature=[spec, tf.TensorSpec((None,), tf.int32)])
        def label_gradient(x, labels):
            with tf.GradientTape() as tape:
                tape.watch(x)
                # In inference mode no image's logits depend on another's, so
                # the gradient of the sum holds each image's own gradient.
                chosen = tf.reduce_sum(tf.gather(self.logits(x), labels, axis=1, batch_dims=1))
            return tape.gradient(chosen, x)

        self.label_gradient = label_gradient

    def loss_functions(self, loss_object):
        """(losses, gradient) for a loss this module knows (`per_example_loss`), else None.

        losses: (images [B, H, W, C], one-hot labels float32 [B, K]) -> float32 [B],
        each image's loss; gradient: the same arguments -> float32 [B, H, W, C],
        the gradient of their sum with respect to the images."""
        kind, per_example = per_example_loss(loss_object)
        if kind is None:
            return None
        if kind not in self._losses:
            labels = tf.TensorSpec((None, None), tf.float32)

            @tf.function(input_signature=[self._spec, labels])
            def losses(x, y):
                return per_example(y, self.logits(x))

            @tf.function(input_signature=[self._spec, labels])
            def gradient(x, y):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    total = tf.reduce_sum(per_example(y, self.logits(x)))
                return tape.gradient(total, x)

            self._losses[kind] = (losses, gradient)
        return self._losses[kind]


class PerExampleLoss:
    """A loss handed to ART as the estimator's own: subclasses define
    `per_example` (one-hot labels float [B, K], logits [B, K]) -> float32 [B],
    a function of its arguments only, which the estimator traces
    (`per_example_loss`); calling the object reduces it as ART asks.

    Attributes:
        reduction: "none", "sum", or anything else for the mean (ART sets it).
    """

    def __init__(self):
        self.reduction = "mean"

    def __call__(self, y_true, y_pred):
        """Returns: float32 [B] losses, or a scalar after reduction."""
        loss = self.per_example(y_true, y_pred)
        if self.reduction == "none":
            return loss
        return tf.reduce_sum(loss) if self.reduction == "sum" else tf.reduce_mean(loss)

    @staticmethod
    def per_example(y_true, y_pred):
        raise NotImplementedError


def per_example_loss(loss_object):
    """(kind, fn (one-hot labels [B, K], logits [B, K]) -> float32 [B]) of a
    loss whose per-image values this module computes in a traced graph, or
    (None, None): Keras' from-logits sparse cross-entropy (ART hands it the
    labels' argmax, as here), or an object with a `per_example` method (the
    attacks' own losses, `lad_tf.attacks.apgd.CrossEntropy` and
    `lad_tf.attacks.apgd_t.TargetedDLR`), which must not depend on any state
    but `reduction`."""
    if isinstance(loss_object, keras.losses.SparseCategoricalCrossentropy):
        config = loss_object.get_config()
        if config.get("from_logits") and config.get("ignore_class") is None:
            return "sparse_cross_entropy", lambda y, logits: (
                tf.nn.sparse_softmax_cross_entropy_with_logits(tf.argmax(y, axis=1), logits))
        return None, None
    per_example = getattr(loss_object, "per_example", None)
    if callable(per_example):
        return type(loss_object), per_example
    return None, None


def reduce_losses(values, reduction):
    """ART's reductions: "none", "sum", else the mean (Keras' "sum_over_batch_size")."""
    if reduction == "none":
        return values
    return values.sum() if reduction == "sum" else values.mean()


_TRACED = "_lad_art_traced"  # {image shape: TracedFunctions}, kept on the model


def traced_functions(model, input_shape) -> TracedFunctions:
    """The `TracedFunctions` of `model` for images of `input_shape` (H, W, C),
    made on first use and kept on the model (a callable that takes no
    attributes gets new ones on every call)."""
    cache = getattr(model, _TRACED, None)
    if cache is None:
        cache = {}
        try:  # past Keras' attribute tracking
            object.__setattr__(model, _TRACED, cache)
        except (AttributeError, TypeError):
            pass
    shape = tuple(int(d) for d in input_shape)
    if shape not in cache:
        cache[shape] = TracedFunctions(model, shape)
    return cache[shape]


def one_hot(labels, num_classes: int):
    """float32 [B, num_classes] one-hot rows of int labels [B], or None for None."""
    return None if labels is None else np.eye(num_classes, dtype="float32")[np.asarray(labels)]
