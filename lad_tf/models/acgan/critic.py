"""The critic of the AC-WGAN-GP: a Wasserstein score and auxiliary class logits."""

import keras

from lad_tf.models.acgan.blocks import ResidualBlock


@keras.saving.register_keras_serializable(package="lad_tf")
class ACGANCritic(keras.Model):
    """image -> (Wasserstein score, class logits), as Song et al.'s MNIST critic.

    Residual blocks (down x2, down x2, two plain ones), ReLU, pooling, then
    two linear heads: one score (no sigmoid; WGAN-GP) and K auxiliary class
    logits (the "AC" of AC-GAN). No batch norm: the gradient penalty is taken
    per example.

    Args:
        num_classes: K, the auxiliary classifier's classes.
        image_shape: (H, W, C) of the images, float32 in [0, 1].
        channels: feature channels of the blocks (32 for MNIST).
        pooling: "average" (global average pooling, as Song et al.) or
            "flatten" (the last feature map kept whole). With 16 channels,
            trained on the class loss alone for 400 steps, the auxiliary
            classifier reached 53% on MNIST with average pooling and 89%
            with flatten; the narrow AC-GAN a CPU can afford needs flatten.

    Call: images float32 [B, H, W, C] in [0, 1] -> (score float32 [B, 1],
    logits float32 [B, K]).
    """

    def __init__(self, num_classes=10, image_shape=(28, 28, 1), channels=32, pooling="average",
                 **kwargs):
        super().__init__(**kwargs)
        if num_classes < 2 or channels < 1 or pooling not in ("average", "flatten"):
            raise ValueError(f"num_classes must be >= 2, channels >= 1 and pooling 'average' or "
                             f"'flatten'. Received: num_classes={num_classes}, "
                             f"channels={channels}, pooling={pooling!r}")
        self.num_classes, self.channels, self.pooling = int(num_classes), int(channels), pooling
        self.image_shape = tuple(int(s) for s in image_shape)
        self.blocks = [
            ResidualBlock(channels, resample="down", name="down1"),
            ResidualBlock(channels, resample="down", name="down2"),
            ResidualBlock(channels, name="res3"),
            ResidualBlock(channels, name="res4"),
        ]
        self.pool = (keras.layers.GlobalAveragePooling2D(name="pool") if pooling == "average"
                     else keras.layers.Flatten(name="pool"))
        self.score = keras.layers.Dense(1, name="score")
        self.classes = keras.layers.Dense(self.num_classes, name="class_logits")

    def call(self, x, training=False):
        h = x
        for block in self.blocks:
            h = block(h, training=training)
        h = self.pool(keras.ops.relu(h))
        return self.score(h), self.classes(h)

    def build(self, input_shape=None):
        """Creates the weights with one zero batch of `image_shape`."""
        if not self.built:
            self.built = True  # first, so that the call below does not build again
            self(keras.ops.zeros((1, *self.image_shape)))

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, image_shape=list(self.image_shape),
                      channels=self.channels, pooling=self.pooling)
        return config
