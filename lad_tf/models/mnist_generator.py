"""The boundary-guided generator for MNIST (paper, appendix Table XI)."""

import keras

from lad_tf.models.stacked_generator import StackedGenerator


@keras.saving.register_keras_serializable(package="lad_tf")
class MnistGenerator(StackedGenerator):
    """Inverts LeNet latents to 28x28 images (Table XI).

    Shapes with 'valid' padding: Dense 500 -> 4x4x50, ConvT k2 s4 -> 14x14,
    Conv k3 -> 12x12, ConvT k2 s3 -> 35x35, Conv k4 -> 32x32, Conv k5 -> 28x28,
    sigmoid. Keras 3's Conv2DTranspose with 'valid' padding returns
    `in * stride` unless `output_padding=0` is passed; with it, the output is
    `(in - 1) * stride + kernel`, which is what the table implies. The paper
    gives no channel counts past the first (50); `channels` sets them.

    Args:
        latent_dim: size of the latent vector (500).
        channels: output channels of the five (transposed) convolutions
            before the last one.
        image_channels: channels of the output image (1).

    Call: z float32 [B, latent_dim] -> images float32 [B, 28, 28, 1] in [0, 1].
    """

    def __init__(self, latent_dim=500, channels=(50, 50, 32, 32), image_channels=1, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.channels = tuple(int(c) for c in channels)
        self.image_channels = int(image_channels)
        c1, c2, c3, c4 = self.channels
        self.stages = [
            keras.layers.Dense(4 * 4 * c1, activation="relu", name="linear"),
            keras.layers.Reshape((4, 4, c1), name="to_4x4"),
            keras.layers.Conv2DTranspose(
                c1, 2, strides=4, padding="valid", output_padding=0,
                activation="relu", name="convt_14"),
            keras.layers.Conv2D(c2, 3, activation="relu", name="conv_12"),
            keras.layers.Conv2DTranspose(
                c3, 2, strides=3, padding="valid", output_padding=0,
                activation="relu", name="convt_35"),
            keras.layers.Conv2D(c4, 4, activation="relu", name="conv_32"),
            keras.layers.Conv2D(self.image_channels, 5, activation="sigmoid", name="conv_28"),
        ]

    def intermediate_shapes(self, batch_size=1):
        """Returns the output shape of every stage, for checking Table XI."""
        return [shape for _, shape in self.stage_outputs(batch_size)]

    def get_config(self):
        config = super().get_config()
        config.update(
            latent_dim=self.latent_dim,
            channels=list(self.channels),
            image_channels=self.image_channels,
        )
        return config
