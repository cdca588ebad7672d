"""Zoo models: classifiers with a latent space, and generators that invert it.

Recipes name models by the keys of `CLASSIFIERS` and `GENERATORS`.
"""

import inspect

import keras

from lad_tf.models.acgan import ACGAN
from lad_tf.models.acgan.critic import ACGANCritic
from lad_tf.models.acgan.generator import ACGANGenerator
from lad_tf.models.auto_generator import AutoGenerator
from lad_tf.models.blackbox_cnn import BlackBoxCNN
from lad_tf.models.celeba_generator import CelebAGenerator
from lad_tf.models.celeba_net import CelebANet
from lad_tf.models.classifier import LatentClassifier
from lad_tf.models.conv_generator import ConvGenerator
from lad_tf.models.cut_classifier import CutClassifier
from lad_tf.models.judge_net import JudgeNet
from lad_tf.models.lenet import LeNet
from lad_tf.models.mnist_generator import MnistGenerator
from lad_tf.models.svhn_generator import SvhnGenerator
from lad_tf.models.svhn_net import SvhnNet
from lad_tf.models.vgg_net import VGGNet
from lad_tf.utils.errors import LadError

CLASSIFIERS = {"lenet": LeNet, "svhn_net": SvhnNet, "celeba_net": CelebANet,
               "blackbox_cnn": BlackBoxCNN}
GENERATORS = {"auto": AutoGenerator, "mnist_generator": MnistGenerator, "svhn_generator": SvhnGenerator,
              "celeba_generator": CelebAGenerator}


def _lookup(registry, kind, name):
    if name not in registry:
        raise LadError(
            f"unknown {kind} {name!r}; choose one of {sorted(registry)} in the recipe"
        )
    return registry[name]


def _construct(registry, kind, name, kwargs):
    """Instantiates a registered model; bad arguments become a LadError."""
    cls = _lookup(registry, kind, name)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise LadError(f"{kind} {name!r} cannot be built for this recipe and data: {exc}; fix "
                       f"{kind}.model_args or the image size (data.image_size)") from None


def build_classifier(name, **kwargs) -> LatentClassifier:
    """Builds a registered classifier with its weights created.

    Raises:
        LadError: unknown name, or arguments / image shape the model rejects.
    """
    return _construct(CLASSIFIERS, "classifier", name, kwargs).build_for_inputs()


def build_generator(name, image_shape=None, **kwargs):
    """Builds a registered generator with its weights created.

    Args:
        name: a key of `GENERATORS`.
        image_shape: (H, W, C) the generator must produce, or None to skip
            the check. Generators that take an `image_shape` argument are
            sized by it; for the others it is only checked.
        **kwargs: constructor arguments (latent_dim, model_args).

    Raises:
        LadError: unknown name, bad arguments, or output images of another shape.
    """
    cls = _lookup(GENERATORS, "generator", name)
    if image_shape is not None and "image_shape" in inspect.signature(cls).parameters:
        kwargs = {"image_shape": tuple(image_shape), **kwargs}
    generator = _construct(GENERATORS, "generator", name, kwargs)
    images = generator(keras.ops.zeros((1, generator.latent_dim)))
    if image_shape is not None and tuple(images.shape[1:]) != tuple(image_shape):
        raise LadError(f"generator {name!r} makes images of shape {tuple(images.shape[1:])}, but "
                       f"the data's images are {tuple(image_shape)}; choose a generator for "
                       f"this image size in the recipe (generator.model; 'auto' fits any)")
    return generator


__all__ = [
    "ACGAN",
    "ACGANCritic",
    "ACGANGenerator",
    "AutoGenerator",
    "BlackBoxCNN",
    "CLASSIFIERS",
    "CelebAGenerator",
    "CelebANet",
    "ConvGenerator",
    "CutClassifier",
    "GENERATORS",
    "JudgeNet",
    "LatentClassifier",
    "LeNet",
    "MnistGenerator",
    "SvhnGenerator",
    "SvhnNet",
    "VGGNet",
    "build_classifier",
    "build_generator",
]
