"""The AC-GAN that GA searches (Song et al. 2018): generator, critic, the pair.

    blocks.py     the residual blocks both networks stack
    generator.py  `ACGANGenerator`: (noise, class) -> image
    critic.py     `ACGANCritic`: image -> (real/fake score, class logits)
    gan.py        `ACGAN`: the two, trained by `lad_tf.studies.ga.acgan_training`
"""

from lad_tf.models.acgan.critic import ACGANCritic
from lad_tf.models.acgan.gan import ACGAN
from lad_tf.models.acgan.generator import ACGANGenerator

__all__ = ["ACGAN", "ACGANCritic", "ACGANGenerator"]
