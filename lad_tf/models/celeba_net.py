"""CelebANet for CelebA smile / non-smile (paper, appendix Table XIV)."""

import keras

from lad_tf.models.vgg_net import POOL, VGGNet

M = POOL
VGG11 = (64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M)


@keras.saving.register_keras_serializable(package="lad_tf")
class CelebANet(VGGNet):
    """CelebANet (Table XIV): all conv and pooling layers of VGG11 (8 convs, 5
    pools), Linear -> 4096 (z, taken before its ReLU), ReLU + dropout 0.5,
    Linear 2048, ReLU + dropout 0.5, Linear -> 1: one logit, sigmoid(logit) =
    P(smile).

    The paper's "512 x 4 x 4" Linear input is for 128x128 images; the Dense
    input follows the image size (512 x 2 x 2 at 64x64, 512 x 1 x 1 at 32x32).
    The VGG11 layers are trained from scratch (no ImageNet weights here).

    Args:
        num_classes: 1 (one sigmoid logit: smile vs non-smile).
        latent_dim: 4096 (the paper).
        image_shape: (128, 128, 3) in the paper; any multiple of 32.
        **kwargs: `VGGNet` arguments (conv_layers, hidden_units, dropout, width,
            batch_norm).
    """

    def __init__(self, num_classes=1, latent_dim=4096, image_shape=(128, 128, 3),
                 conv_layers=VGG11, hidden_units=(2048,), dropout=(0.5, 0.5), width=1.0,
                 **kwargs):
        super().__init__(num_classes=num_classes, latent_dim=latent_dim, image_shape=image_shape,
                         conv_layers=conv_layers, hidden_units=hidden_units, dropout=dropout,
                         width=width, **kwargs)
