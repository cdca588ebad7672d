"""LeNet for MNIST, split into the feature extractor phi and the head f_p."""

import keras

from lad_tf.models.classifier import LatentClassifier


@keras.saving.register_keras_serializable(package="lad_tf")
class LeNet(LatentClassifier):
    """LeNet-5 as in the LAD authors' code: conv20-pool-conv50-pool-fc500-fc10.

    The latent z is the 500-d output of the second-to-last dense layer taken
    *before* its ReLU (paper Sec. III-A: z = phi(x)). `head` applies that ReLU and the
    last dense layer, so `head(features(x)) == call(x)`.

    Args:
        num_classes: number of output logits.
        latent_dim: width of the latent layer (500 in the paper).
        image_shape: (H, W, C) of the inputs, float32 in [0, 1].
    """

    def __init__(self, num_classes=10, latent_dim=500, image_shape=(28, 28, 1), **kwargs):
        super().__init__(
            num_classes=num_classes,
            latent_dim=latent_dim,
            image_shape=image_shape,
            **kwargs,
        )
        self.conv1 = keras.layers.Conv2D(20, 5, activation="relu", name="conv1")
        self.pool1 = keras.layers.MaxPooling2D(2, name="pool1")
        self.conv2 = keras.layers.Conv2D(50, 5, activation="relu", name="conv2")
        self.pool2 = keras.layers.MaxPooling2D(2, name="pool2")
        self.flatten = keras.layers.Flatten(name="flatten")
        self.fc1 = keras.layers.Dense(latent_dim, name="fc1")  # z: pre-ReLU
        self.relu = keras.layers.ReLU(name="fc1_relu")
        self.fc2 = keras.layers.Dense(num_classes, name="logits")

    def features(self, x, training=False):
        """phi: images float32 [B, H, W, C] in [0, 1] -> latents float32 [B, 500]."""
        h = self.pool1(self.conv1(x))
        h = self.pool2(self.conv2(h))
        return self.fc1(self.flatten(h))

    def head(self, z, training=False):
        """f_p: latents [B, 500] -> logits [B, num_classes]."""
        return self.fc2(self.relu(z))
