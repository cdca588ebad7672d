"""svhnNet for SVHN (paper, appendix Table XII)."""

import keras

from lad_tf.models.vgg_net import POOL, VGGNet

M = POOL


@keras.saving.register_keras_serializable(package="lad_tf")
class SvhnNet(VGGNet):
    """svhnNet, a shallow VGG (Table XII): four conv(3x3) + max-pool blocks of
    64, 128, 256 and 512 kernels, a fifth 512-kernel conv, Linear -> 4096
    (z, the "fifth layer", taken before its ReLU), dropout 0.5, Linear 2048 +
    ReLU, Linear 512 + ReLU, Linear -> 10.

    Table XII gives the Linear's input as 512 x 4 x 4, but four 2x2 pools
    take a 32x32 image to 2x2: here the Dense input follows the image size
    (512 x 2 x 2 for SVHN's 32x32 images; 512 x 4 x 4 would be a 64x64 input).

    Args:
        num_classes: 10 for SVHN.
        latent_dim: 4096 (the paper).
        image_shape: (32, 32, 3), float32 in [0, 1].
        **kwargs: `VGGNet` arguments (conv_layers, hidden_units, dropout, width).
    """

    def __init__(self, num_classes=10, latent_dim=4096, image_shape=(32, 32, 3),
                 conv_layers=(64, M, 128, M, 256, M, 512, M, 512), hidden_units=(2048, 512),
                 dropout=(0.5, 0.0, 0.0), width=1.0, **kwargs):
        super().__init__(num_classes=num_classes, latent_dim=latent_dim, image_shape=image_shape,
                         conv_layers=conv_layers, hidden_units=hidden_units, dropout=dropout,
                         width=width, **kwargs)
