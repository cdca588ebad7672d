"""The base class that every zoo classifier derives from."""

import keras


class LatentClassifier(keras.Model):
    """A classifier f = f_p(phi(x)) that exposes its latent space.

    Subclasses build their layers in `__init__` and implement `features`
    (phi) and `head` (f_p); `call` is their composition and returns logits.
    The generator, the attention SVM and the hardening step only use this
    interface, so a new architecture needs nothing but these two methods.

    Args:
        num_classes: number of logits; 1 for a binary task with a sigmoid.
        latent_dim: size of the latent vector z = phi(x).
        image_shape: (H, W, C) of the inputs, float32 in [0, 1].
    """

    def __init__(self, num_classes, latent_dim, image_shape, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(int(d) for d in image_shape)

    def features(self, x, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement features()")

    def head(self, z, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement head()")

    def call(self, x, training=False):
        return self.head(self.features(x, training=training), training=training)

    def build_for_inputs(self):
        """Creates the weights by running one zero batch through the model."""
        self(keras.ops.zeros((1, *self.image_shape)))
        return self

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            latent_dim=self.latent_dim,
            image_shape=list(self.image_shape),
        )
        return config
