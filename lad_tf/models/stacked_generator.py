"""The base class of the zoo's generators: a plain stack of Keras layers."""

import keras


class StackedGenerator(keras.Model):
    """A generator whose `__init__` fills `self.stages` with layers applied in order.

    Call: z float32 [B, latent_dim] -> images float32 [B, H, W, C] in [0, 1];
    the output is float32 even when the layers compute in bfloat16.
    """

    def call(self, z, training=False):
        h = z
        for layer in self.stages:
            h = layer(h, training=training)
        return keras.ops.cast(h, "float32")  # float32 images under a mixed-precision policy

    def stage_outputs(self, batch_size=1):
        """(layer, output shape) after every stage, for checking the paper's tables."""
        h = keras.ops.zeros((batch_size, self.latent_dim))
        outputs = []
        for layer in self.stages:
            h = layer(h)
            outputs.append((layer, tuple(h.shape)))
        return outputs
