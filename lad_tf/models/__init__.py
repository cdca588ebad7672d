"""Zoo models: classifiers with a latent space, and generators that invert it.

Recipes name models by the keys of `CLASSIFIERS` and `GENERATORS`.
"""

import keras

from lad_tf.errors import LadError
from lad_tf.models.classifier import LatentClassifier
from lad_tf.models.lenet import LeNet
from lad_tf.models.mnist_generator import MnistGenerator

CLASSIFIERS = {"lenet": LeNet}
GENERATORS = {"mnist_generator": MnistGenerator}


def _lookup(registry, kind, name):
    if name not in registry:
        raise LadError(
            f"unknown {kind} {name!r}; choose one of {sorted(registry)} in the recipe"
        )
    return registry[name]


def build_classifier(name, **kwargs) -> LatentClassifier:
    """Builds a registered classifier with its weights created."""
    return _lookup(CLASSIFIERS, "classifier", name)(**kwargs).build_for_inputs()


def build_generator(name, **kwargs):
    """Builds a registered generator with its weights created."""
    generator = _lookup(GENERATORS, "generator", name)(**kwargs)
    generator(keras.ops.zeros((1, generator.latent_dim)))
    return generator


__all__ = [
    "CLASSIFIERS",
    "GENERATORS",
    "LatentClassifier",
    "LeNet",
    "MnistGenerator",
    "build_classifier",
    "build_generator",
]
