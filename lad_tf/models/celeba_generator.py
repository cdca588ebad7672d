"""The boundary-guided generator for CelebA (paper, appendix Table XV)."""

import keras

from lad_tf.models.conv_generator import ConvGenerator

# Table XV, top to bottom after the Linear 4096 -> 512 x 4 x 4, with its Repeat
# column: [kind, kernels, repeat]; "up" = Conv_Transpose 2x2 + BN,
# "conv" = Conv 3x3 + BN + ReLU.
TABLE_XV = (("up", 512, 1), ("conv", 512, 3), ("up", 512, 1), ("conv", 512, 3),
            ("up", 256, 1), ("conv", 256, 3), ("up", 128, 1), ("conv", 128, 2),
            ("up", 64, 1), ("conv", 64, 2))


@keras.saving.register_keras_serializable(package="lad_tf")
class CelebAGenerator(ConvGenerator):
    """Table XV: Linear 4096 -> 512 x 4 x 4, five (Conv_Transpose + BN, 2-3 x
    Conv + BN + ReLU) stages of 512, 512, 256, 128, 64 kernels, Conv 1x1 -> 3
    with tanh; output (tanh + 1) / 2 in [0, 1].

    The table's stride-1 transposed convolutions cannot grow 4x4 to 128x128;
    they use stride 2 here: 4 -> 8 -> 16 -> 32 -> 64 -> 128. The Linear
    layer's size follows the image: 4x4 for 128x128, 2x2 for 64x64, 1x1 for
    32x32 (see `ConvGenerator`).

    Args:
        latent_dim: 4096 (CelebANet's z).
        image_shape: (128, 128, 3) in the paper; any multiple of 32.
        **kwargs: `ConvGenerator` arguments (blocks, start_channels, width).
    """

    def __init__(self, latent_dim=4096, image_shape=(128, 128, 3), blocks=TABLE_XV,
                 start_channels=512, width=1.0, **kwargs):
        super().__init__(latent_dim=latent_dim, image_shape=image_shape, blocks=blocks,
                         start_channels=start_channels, width=width, **kwargs)
