"""The residual block shared by the AC-GAN's generator and critic."""

import keras


@keras.saving.register_keras_serializable(package="lad_tf")
class ResidualBlock(keras.layers.Layer):
    """Two 3x3 convolutions with a shortcut, optionally resampling x2.

    out = shortcut(x) + conv(relu(norm(conv(relu(norm(x)))))), where
    "up" doubles H and W before the first convolution (nearest neighbour)
    and "down" halves them after the second (average pooling), as in the
    WGAN-GP residual blocks Song et al. build on. The shortcut is a 1x1
    convolution (resampled the same way) when the shape changes.

    Args:
        filters: output channels.
        resample: None, "up" or "down".
        normalize: batch norm before each ReLU (the generator); the critic
            uses none, since the gradient penalty is per example.

    Call: float32 [B, H, W, C_in] -> [B, H', W', filters].
    """

    def __init__(self, filters, resample=None, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if resample not in (None, "up", "down"):
            raise ValueError(f"resample must be None, 'up' or 'down'. Received: resample={resample!r}")
        self.filters, self.resample, self.normalize = int(filters), resample, bool(normalize)
        self.conv1 = keras.layers.Conv2D(self.filters, 3, padding="same", name="conv1")
        self.conv2 = keras.layers.Conv2D(self.filters, 3, padding="same", name="conv2")
        self.norm1 = keras.layers.BatchNormalization(name="norm1") if normalize else None
        self.norm2 = keras.layers.BatchNormalization(name="norm2") if normalize else None
        self.up = keras.layers.UpSampling2D(2, name="up") if resample == "up" else None
        self.down = keras.layers.AveragePooling2D(2, name="down") if resample == "down" else None
        self.shortcut = None

    def build(self, input_shape):
        if input_shape[-1] != self.filters or self.resample is not None:
            self.shortcut = keras.layers.Conv2D(self.filters, 1, name="shortcut")
        self.built = True

    def _resampled(self, h, before):
        if before and self.up is not None:
            return self.up(h)
        if not before and self.down is not None:
            return self.down(h)
        return h

    def call(self, x, training=False):
        h = x if self.norm1 is None else self.norm1(x, training=training)
        h = self.conv1(self._resampled(keras.ops.relu(h), before=True))
        h = h if self.norm2 is None else self.norm2(h, training=training)
        h = self._resampled(self.conv2(keras.ops.relu(h)), before=False)
        skip = self._resampled(x, before=True)
        if self.shortcut is not None:
            skip = self.shortcut(skip)
        return self._resampled(skip, before=False) + h

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, resample=self.resample, normalize=self.normalize)
        return config
