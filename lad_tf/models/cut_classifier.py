"""A provider's own Keras classifier, cut at one layer into phi and f_p."""

from __future__ import annotations

import math

import keras

from lad_tf.models.classifier import LatentClassifier


@keras.saving.register_keras_serializable(package="lad_tf")
class CutClassifier(LatentClassifier):
    """f = f_p(phi(x)) made of two Functional halves of a provider's model.

    `lad_tf.models.own_model.cut_model` builds it from any Keras Functional or
    Sequential classifier: `phi` runs from the model's input to the chosen
    layer's output, `f_p` from there to the logits (a final softmax / sigmoid
    stripped). Both halves share the provider's layers and weights, so
    fine-tuning this model fine-tunes them.

    Latents are flat: a latent layer with an output of shape [B, *latent_shape]
    (e.g. [B, 7, 7, 32] after a convolution) gives z float32 [B, D] with
    D = prod(latent_shape), which is what the generator and the attention
    SVMs take; `head` reshapes z back before running f_p.

    Args:
        phi: Functional model, images [B, H, W, C] -> [B, *latent_shape].
        f_p: Functional model, [B, *latent_shape] -> logits [B, num_classes].
        latent_layer: name of the layer in the provider's model (for reports).
        source: where the model came from (a file path or a model name).
    """

    def __init__(self, phi, f_p, latent_layer="", source="", **kwargs):
        image_shape = tuple(phi.inputs[0].shape[1:])
        latent_shape = tuple(phi.outputs[0].shape[1:])
        if None in image_shape or None in latent_shape:
            raise ValueError(f"phi needs fixed input and latent sizes. Received: image shape "
                             f"{image_shape}, latent shape {latent_shape}")
        kwargs.pop("num_classes", None), kwargs.pop("latent_dim", None)
        kwargs.pop("image_shape", None)  # all three follow from phi and f_p
        super().__init__(num_classes=int(f_p.outputs[0].shape[-1]),
                         latent_dim=math.prod(latent_shape), image_shape=image_shape, **kwargs)
        self.phi = phi
        self.f_p = f_p
        self.latent_shape = tuple(int(d) for d in latent_shape)
        self.latent_layer = str(latent_layer)
        self.source = str(source)

    def features(self, x, training=False):
        """phi: images float32 [B, H, W, C] in [0, 1] -> latents float32 [B, D]."""
        z = self.phi(x, training=training)
        return keras.ops.cast(keras.ops.reshape(z, (-1, self.latent_dim)), "float32")

    def head(self, z, training=False):
        """f_p: latents [B, D] -> logits float32 [B, num_classes]."""
        z = keras.ops.reshape(z, (-1, *self.latent_shape))
        return keras.ops.cast(self.f_p(z, training=training), "float32")

    def get_config(self):
        config = super().get_config()
        config.update(phi=keras.saving.serialize_keras_object(self.phi),
                      f_p=keras.saving.serialize_keras_object(self.f_p),
                      latent_layer=self.latent_layer, source=self.source)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        phi = keras.saving.deserialize_keras_object(config.pop("phi"))
        f_p = keras.saving.deserialize_keras_object(config.pop("f_p"))
        return cls(phi, f_p, **config)
