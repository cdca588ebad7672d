"""Thin adapters over maintained attack libraries, one attack per file.

Every attack takes a model that returns logits and images float32 [B, H, W, C]
in [0, 1], and returns adversarial images of the same shape and range.
"""

from lad_tf.attacks.fgsm import fgsm
from lad_tf.attacks.pgd import pgd

ATTACKS = {"fgsm": fgsm, "pgd": pgd}

__all__ = ["ATTACKS", "fgsm", "pgd"]
