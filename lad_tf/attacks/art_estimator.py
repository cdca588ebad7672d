"""The ART estimator of `lad_tf.attacks.art`, in a module of its own because
importing it imports ART (~1 s), which only the attacks need."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from art.estimators.classification import TensorFlowV2Classifier
from art.utils import check_and_transform_label_format

from lad_tf.attacks.art import TracedFunctions, reduce_losses


class TracedGradientClassifier(TensorFlowV2Classifier):
    """ART's `TensorFlowV2Classifier` whose forward pass, class gradients and
    loss gradients are the model's traced functions (`TracedFunctions`): the
    same values, in one graph call each, with graphs traced once per model.
    Anything these do not cover (preprocessing, another loss, labels as
    indices) goes to ART's own code.

    Args:
        traced: the model's `TracedFunctions`.
        **kwargs: `TensorFlowV2Classifier`'s.
    """

    def __init__(self, traced: TracedFunctions, **kwargs):
        super().__init__(**kwargs)
        self._traced = traced

    def class_gradient(self, x, label=None, training_mode=False, **kwargs):
        """ART's contract: [B, K, H, W, C] for label None, else [B, 1, H, W, C]."""
        if self.preprocessing_operations:  # none here (preprocessing=None); ART's path has them
            return super().class_gradient(x, label, training_mode, **kwargs)
        x = tf.convert_to_tensor(np.asarray(x, "float32"))
        batch = int(x.shape[0])

        def gradient(labels):
            return self._traced.label_gradient(x, tf.constant(labels, tf.int32)).numpy()

        if label is None:
            return np.stack([gradient(np.full(batch, k)) for k in range(self.nb_classes)],
                            axis=1)
        labels = np.broadcast_to(np.asarray(label, "int64").reshape(-1), (batch,))
        return gradient(labels)[:, None]

    def predict(self, x, batch_size=128, training_mode=False, **kwargs):
        """ART's contract: logits [B, K] of the images, in one traced call
        (ART's own traces a forward pass for every estimator)."""
        if self.preprocessing_operations or self.postprocessing_defences:
            return super().predict(x, batch_size, training_mode, **kwargs)
        return self._traced.logits(_float32(x)).numpy()

    def _traced_loss(self, y):
        """The traced (losses, gradient) of this estimator's loss, or None (ART's path)."""
        if self.preprocessing_operations or np.ndim(y) != 2:
            return None
        return self._traced.loss_functions(self._loss_object)

    def compute_loss(self, x, y, reduction="none", training_mode=False, **kwargs):
        """ART's contract: the loss per image ("none"), or its "sum" or "mean"."""
        y = check_and_transform_label_format(y, self.nb_classes)
        traced = self._traced_loss(y)
        if traced is None:
            return super().compute_loss(x, y, reduction, training_mode, **kwargs)
        values = traced[0](_float32(x), _float32(y)).numpy()
        return reduce_losses(values, reduction)

    def loss_gradient(self, x, y, training_mode=False, **kwargs):
        """ART's contract: the gradient of the loss object's reduction of the losses."""
        traced = self._traced_loss(y)
        if traced is None:
            return super().loss_gradient(x, y, training_mode, **kwargs)
        gradients = traced[1](_float32(x), _float32(y))
        if getattr(self._loss_object, "reduction", None) not in ("none", "sum"):
            gradients = gradients / tf.cast(tf.shape(gradients)[0], tf.float32)  # the mean
        return gradients.numpy() if isinstance(x, np.ndarray) else gradients


def _float32(a):
    return tf.cast(tf.convert_to_tensor(a), tf.float32)
