"""The boundary-guided generator for SVHN (paper, appendix Table XIII)."""

import keras

from lad_tf.models.conv_generator import ConvGenerator

# Table XIII, top to bottom after the Linear 4096 -> 512 x 2 x 2:
# [kind, kernels, repeat]; "conv" = Conv 3x3 + BN + ReLU, "up" = Conv_Transpose 2x2 + BN.
TABLE_XIII = (("conv", 512, 1), ("up", 512, 1), ("conv", 512, 1), ("up", 512, 1),
              ("conv", 256, 1), ("up", 256, 1), ("conv", 128, 1), ("up", 128, 1),
              ("conv", 64, 1))


@keras.saving.register_keras_serializable(package="lad_tf")
class SvhnGenerator(ConvGenerator):
    """Table XIII: Linear 4096 -> 512 x 2 x 2, four (Conv + BN + ReLU,
    Conv_Transpose + BN) pairs of 512, 512, 256, 128 kernels, Conv 64 + BN +
    ReLU, Conv 1x1 -> 3 with tanh; output (tanh + 1) / 2 in [0, 1].

    The table's stride-1 transposed convolutions cannot grow 2x2 to 32x32;
    they use stride 2 here: 2 -> 4 -> 8 -> 16 -> 32 (see `ConvGenerator`).

    Args:
        latent_dim: 4096 (svhnNet's z).
        image_shape: (32, 32, 3).
        **kwargs: `ConvGenerator` arguments (blocks, start_channels, width).
    """

    def __init__(self, latent_dim=4096, image_shape=(32, 32, 3), blocks=TABLE_XIII,
                 start_channels=512, width=1.0, **kwargs):
        super().__init__(latent_dim=latent_dim, image_shape=image_shape, blocks=blocks,
                         start_channels=start_channels, width=width, **kwargs)
