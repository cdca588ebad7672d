"""Zoo models: the paper's shapes and the phi / f_p split (saving: test_saving.py)."""

import numpy as np
import pytest

from lad_tf.models import MnistGenerator, build_classifier, build_generator
from lad_tf.utils.errors import LadError


def test_table_xi_generator_shapes():
    generator = MnistGenerator(latent_dim=500)
    shapes = generator.intermediate_shapes(batch_size=2)
    # Dense 500 -> 4x4x50, ConvT k2 s4 -> 14, Conv k3 -> 12, ConvT k2 s3 -> 35,
    # Conv k4 -> 32, Conv k5 -> 28.
    assert shapes == [(2, 800), (2, 4, 4, 50), (2, 14, 14, 50), (2, 12, 12, 50),
                      (2, 35, 35, 32), (2, 32, 32, 32), (2, 28, 28, 1)]


def test_generator_output_range():
    generator = build_generator("mnist_generator", latent_dim=500)
    z = np.random.default_rng(0).normal(0, 5, (16, 500)).astype("float32")
    images = np.asarray(generator(z))
    assert images.shape == (16, 28, 28, 1)
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_lenet_head_of_features_equals_call():
    model = build_classifier("lenet")
    x = np.random.default_rng(0).random((8, 28, 28, 1)).astype("float32")
    z = model.features(x)
    assert tuple(z.shape) == (8, 500)
    # z is taken before the ReLU, so it has negative entries.
    assert float(np.min(z)) < 0.0
    np.testing.assert_allclose(np.asarray(model.head(z)), np.asarray(model(x)), atol=0, rtol=0)


def test_unknown_model_name():
    with pytest.raises(LadError, match="unknown classifier 'resnet'.*lenet"):
        build_classifier("resnet")


@pytest.mark.parametrize("image_shape, ups", [
    ((28, 28, 1), 2), ((32, 32, 3), 3), ((30, 45, 3), 2), ((5, 5, 1), 0), ((64, 48, 3), 3)])
def test_auto_generator_fits_any_image_shape(image_shape, ups):
    from lad_tf.models.auto_generator import plan_ups

    assert plan_ups(*image_shape[:2]) == ups
    generator = build_generator("auto", image_shape=image_shape, latent_dim=37, channels=8)
    images = np.asarray(generator(np.random.default_rng(0).normal(0, 3, (3, 37)).astype("float32")))
    assert images.shape == (3, *image_shape)
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_table_generator_refuses_other_image_shapes():
    with pytest.raises(LadError, match="generator.model; 'auto' fits any"):
        build_generator("mnist_generator", image_shape=(32, 32, 3), latent_dim=500)
