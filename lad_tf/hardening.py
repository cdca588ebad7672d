"""The old home of the Eq. 4 datasets and helpers, kept so that existing
imports work: new code imports from `lad_tf.defences` (the defences, their
loss and accuracy) and `lad_tf.defences.datasets` (the paired datasets).

    LADHardening             -> lad_tf.defences.LAD
    classification_accuracy  -> lad_tf.defences.logits_accuracy
    classification_loss      -> lad_tf.defences.classification_loss
    hardening_dataset        -> lad_tf.defences.datasets.hardening_dataset
    paired_dataset           -> lad_tf.defences.datasets.paired_dataset
"""

from lad_tf.defences.base import classification_loss
from lad_tf.defences.base import logits_accuracy as classification_accuracy
from lad_tf.defences.datasets import hardening_dataset, paired_dataset
from lad_tf.defences.lad import LAD as LADHardening

__all__ = ["LADHardening", "classification_accuracy", "classification_loss", "hardening_dataset",
           "paired_dataset"]
