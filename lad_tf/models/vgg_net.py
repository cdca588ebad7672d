"""VGG-style classifiers: conv/pool features, a latent dense layer, an MLP head."""

from __future__ import annotations

import keras

from lad_tf.models.classifier import LatentClassifier

POOL = "M"  # the VGG configuration notation: an int is a 3x3 conv, "M" a 2x2 max-pool


def _scaled(units, width: float) -> int:
    return max(1, int(round(int(units) * float(width))))


@keras.saving.register_keras_serializable(package="lad_tf")
class VGGNet(LatentClassifier):
    """A VGG-style classifier f = f_p(phi(x)) with a dense latent layer.

    phi: the conv/pool stack (`conv_layers` in VGG notation: an int is a 3x3
    'same' convolution with ReLU, "M" a 2x2 max-pool), flatten, then
    Dense(latent_dim). z is that layer's output *before* its ReLU, as for
    LeNet. f_p: ReLU, dropout, then Dense + ReLU (+ dropout) for each of
    `hidden_units`, then Dense(num_classes). `head(features(x)) == call(x)`
    in inference.

    The Dense layer after the flatten takes (H / 2^pools) x (W / 2^pools) x
    last-conv-channels inputs: it follows the image size, so one architecture
    serves 32x32, 64x64 and 128x128 images.

    The convolutions start from He-normal weights (torchvision's VGG uses
    Kaiming init too): with Keras' default Glorot init, the eight ReLU convs
    of VGG11 without batch norm shrink the signal so much that training from
    scratch stalls at chance.

    The paper's architectures are the subclasses `SvhnNet` (Table XII) and
    `CelebANet` (Table XIV); they only set these arguments' defaults.

    Args:
        num_classes: number of logits; 1 for a binary task (sigmoid).
        latent_dim: width of the latent layer z (4096 in the paper).
        image_shape: (H, W, C) of the inputs, float32 in [0, 1]; H and W must
            be multiples of 2^(number of pools).
        conv_layers: VGG configuration, e.g. [64, "M", 128, "M"].
        hidden_units: widths of the dense layers between z and the logits.
        dropout: one rate per hidden layer, z first (len(hidden_units) + 1).
        width: multiplier of every conv and hidden width (not of latent_dim);
            1.0 is the paper's network, smaller values make quick tests.
        batch_norm: put BatchNormalization between every convolution and its
            ReLU (torchvision's `vgg11_bn`). Off in the paper's networks; on,
            the quarter-width CelebANet trains at Adam 1e-3, where the plain
            stack does not learn, and PGD-AT at L-inf 2/255 holds
            (zoo/celeba/MODEL_CARD.md; at 8/255 it still collapses).

    Raises:
        ValueError: an invalid configuration, or an image size the pools do
            not divide.
    """

    def __init__(self, num_classes, latent_dim, image_shape, conv_layers, hidden_units,
                 dropout, width=1.0, batch_norm=False, **kwargs):
        super().__init__(num_classes=num_classes, latent_dim=latent_dim,
                         image_shape=image_shape, **kwargs)
        self.conv_layers = [c if c == POOL else int(c) for c in conv_layers]
        self.hidden_units = [int(u) for u in hidden_units]
        self.dropout = [float(r) for r in dropout]
        self.width = float(width)
        self.batch_norm = bool(batch_norm)
        if any(c != POOL and c < 1 for c in self.conv_layers) or not any(
                c != POOL for c in self.conv_layers):
            raise ValueError(f"conv_layers must hold positive ints and {POOL!r}. "
                             f"Received: conv_layers={conv_layers}")
        if len(self.dropout) != len(self.hidden_units) + 1:
            raise ValueError(f"dropout needs one rate per hidden layer, z first "
                             f"({len(self.hidden_units) + 1}). Received: dropout={dropout}")
        if not self.width > 0:
            raise ValueError(f"width must be > 0. Received: width={width}")
        pools = self.conv_layers.count(POOL)
        h, w, _ = self.image_shape
        if h % 2 ** pools or w % 2 ** pools:
            raise ValueError(
                f"{type(self).__name__} pools {pools} times, so the image height and width "
                f"must be multiples of {2 ** pools}. Received: image_shape={self.image_shape}")
        self.stack = []
        for i, c in enumerate(self.conv_layers):
            if c == POOL:
                self.stack.append(keras.layers.MaxPooling2D(2, name=f"pool{i}"))
            elif self.batch_norm:
                self.stack += [
                    keras.layers.Conv2D(_scaled(c, width), 3, padding="same", use_bias=False,
                                        kernel_initializer="he_normal", name=f"conv{i}"),
                    keras.layers.BatchNormalization(name=f"conv{i}_bn"),
                    keras.layers.ReLU(name=f"conv{i}_relu")]
            else:
                self.stack.append(
                    keras.layers.Conv2D(_scaled(c, width), 3, padding="same", activation="relu",
                                        kernel_initializer="he_normal", name=f"conv{i}"))
        self.flatten = keras.layers.Flatten(name="flatten")
        self.latent = keras.layers.Dense(self.latent_dim, name="latent")  # z: pre-ReLU
        self.head_layers = [keras.layers.ReLU(name="latent_relu"),
                            keras.layers.Dropout(self.dropout[0], name="latent_dropout")]
        for i, (units, rate) in enumerate(zip(self.hidden_units, self.dropout[1:])):
            self.head_layers.append(
                keras.layers.Dense(_scaled(units, width), activation="relu", name=f"fc{i}"))
            if rate > 0:
                self.head_layers.append(keras.layers.Dropout(rate, name=f"fc{i}_dropout"))
        self.head_layers.append(keras.layers.Dense(self.num_classes, name="logits"))

    def features(self, x, training=False):
        """phi: images float32 [B, H, W, C] in [0, 1] -> latents float32 [B, latent_dim]."""
        h = x
        for layer in self.stack:
            h = layer(h, training=training)
        return self.latent(self.flatten(h))

    def head(self, z, training=False):
        """f_p: latents [B, latent_dim] -> logits [B, num_classes]."""
        h = z
        for layer in self.head_layers:
            h = layer(h, training=training)
        return h

    def get_config(self):
        config = super().get_config()
        config.update(conv_layers=list(self.conv_layers), hidden_units=list(self.hidden_units),
                      dropout=list(self.dropout), width=self.width, batch_norm=self.batch_norm)
        return config
