"""The independent "black CNN" of the paper's unknown-attack experiment (Table III)."""

import keras

from lad_tf.models.classifier import LatentClassifier


@keras.saving.register_keras_serializable(package="lad_tf")
class BlackBoxCNN(LatentClassifier):
    """A substitute classifier of another architecture than LeNet.

    Transfer attacks are crafted on this model and then shown to the
    classifier under test, which the attacker never sees. Its layout follows
    the substitute models of Papernot et al. (2017), thinned to LeNet's cost
    so that crafting JSMA / C&W on it fits a CPU: three 'same' convolutions
    (32 5x5 /2, 64 3x3 /2, 64 3x3), no pooling, dropout and a 128-d latent
    layer; LeNet has two valid 5x5 convolutions with max pooling and a 500-d
    latent. 'same' padding lets it take any image size.

    Args:
        num_classes: number of output logits.
        latent_dim: width of the latent layer.
        image_shape: (H, W, C) of the inputs, float32 in [0, 1].
        dropout: dropout rate before the latent layer (training only).
    """

    def __init__(self, num_classes=10, latent_dim=128, image_shape=(28, 28, 1), dropout=0.25,
                 **kwargs):
        super().__init__(num_classes=num_classes, latent_dim=latent_dim,
                         image_shape=image_shape, **kwargs)
        self.dropout_rate = float(dropout)
        self.conv1 = keras.layers.Conv2D(32, 5, strides=2, padding="same", activation="relu",
                                         name="conv1")
        self.conv2 = keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu",
                                         name="conv2")
        self.conv3 = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3")
        self.flatten = keras.layers.Flatten(name="flatten")
        self.dropout = keras.layers.Dropout(self.dropout_rate, name="dropout")
        self.fc1 = keras.layers.Dense(latent_dim, name="fc1")
        self.relu = keras.layers.ReLU(name="fc1_relu")
        self.fc2 = keras.layers.Dense(num_classes, name="logits")

    def features(self, x, training=False):
        """phi: images [B, H, W, C] -> latents [B, latent_dim] (before the ReLU)."""
        h = self.conv3(self.conv2(self.conv1(x)))
        return self.fc1(self.dropout(self.flatten(h), training=training))

    def head(self, z, training=False):
        return self.fc2(self.relu(z))

    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout_rate}
