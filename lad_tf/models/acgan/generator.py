"""The class-conditional generator of the AC-WGAN-GP that GA searches (Song et al. 2018)."""

import keras

from lad_tf.models.acgan.blocks import ResidualBlock


@keras.saving.register_keras_serializable(package="lad_tf")
class ACGANGenerator(keras.Model):
    """(z, class) -> image, as in Song et al.'s AC-WGAN-GP for MNIST.

    concat(z, one_hot(class)) -> Dense (H/4)x(W/4)xC -> two residual blocks
    that upsample x2 -> BatchNorm, ReLU -> Conv 3x3 -> sigmoid. Song et al.
    use C = 32 for MNIST and class-conditional batch norm inside the blocks;
    here the class enters through the one-hot input only (as in Odena et
    al.'s AC-GAN), which keeps the blocks plain Keras layers.

    Args:
        latent_dim: size of z (128 in Song et al.'s code).
        num_classes: K, the classes the generator is conditioned on.
        image_shape: (H, W, C) of the images; H and W divisible by 4.
        channels: feature channels C of the blocks (32 for MNIST).

    Call: (z float32 [B, latent_dim], labels int [B]) -> images float32
    [B, H, W, C] in [0, 1].

    Raises:
        ValueError: a size that is not positive, or H / W not divisible by 4.
    """

    def __init__(self, latent_dim=128, num_classes=10, image_shape=(28, 28, 1), channels=32,
                 **kwargs):
        super().__init__(**kwargs)
        image_shape = tuple(int(s) for s in image_shape)
        if latent_dim < 1 or num_classes < 2 or channels < 1:
            raise ValueError(f"latent_dim and channels must be >= 1 and num_classes >= 2. "
                             f"Received: latent_dim={latent_dim}, num_classes={num_classes}, "
                             f"channels={channels}")
        if len(image_shape) != 3 or image_shape[0] % 4 or image_shape[1] % 4:
            raise ValueError(f"image_shape must be (H, W, C) with H and W divisible by 4. "
                             f"Received: image_shape={image_shape}")
        self.latent_dim, self.num_classes = int(latent_dim), int(num_classes)
        self.image_shape, self.channels = image_shape, int(channels)
        h, w, c = image_shape
        self.linear = keras.layers.Dense(h // 4 * w // 4 * channels, name="linear")
        self.reshape = keras.layers.Reshape((h // 4, w // 4, channels), name="to_grid")
        self.block1 = ResidualBlock(channels, resample="up", normalize=True, name="up1")
        self.block2 = ResidualBlock(channels, resample="up", normalize=True, name="up2")
        self.norm = keras.layers.BatchNormalization(name="out_norm")
        self.to_image = keras.layers.Conv2D(c, 3, padding="same", activation="sigmoid",
                                            name="to_image")

    def call(self, inputs, training=False):
        z, labels = inputs
        onehot = keras.ops.one_hot(keras.ops.cast(labels, "int32"), self.num_classes)
        h = self.reshape(self.linear(keras.ops.concatenate([z, onehot], axis=-1)))
        h = self.block2(self.block1(h, training=training), training=training)
        h = keras.ops.relu(self.norm(h, training=training))
        return self.to_image(h)

    def build(self, input_shape=None):
        """Creates the weights with one zero batch (shapes come from the config)."""
        if not self.built:
            self.built = True  # first, so that the call below does not build again
            self((keras.ops.zeros((1, self.latent_dim)), keras.ops.zeros((1,), "int32")))

    def get_config(self):
        config = super().get_config()
        config.update(latent_dim=self.latent_dim, num_classes=self.num_classes,
                      image_shape=list(self.image_shape), channels=self.channels)
        return config
