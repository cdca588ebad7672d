"""svhnNet, CelebANet and their generators: the appendix tables' shapes, the
phi / f_p split, the [0, 1] output convention, bad sizes (saving: test_saving.py)."""

import keras
import numpy as np
import pytest

from lad_tf.models import (
    CelebAGenerator,
    CelebANet,
    SvhnGenerator,
    SvhnNet,
    build_classifier,
    build_generator,
)
from lad_tf.utils.errors import LadError

TINY = {"width": 1 / 16}


def layer_types(model):
    return [type(layer).__name__ for layer in model.stages]


def test_svhn_net_table_xii():
    model = build_classifier("svhn_net")
    convs = [l for l in model.stack if isinstance(l, keras.layers.Conv2D)]
    assert [l.filters for l in convs] == [64, 128, 256, 512, 512]
    assert all(l.kernel_size == (3, 3) and l.strides == (1, 1) for l in convs)
    assert sum(isinstance(l, keras.layers.MaxPooling2D) for l in model.stack) == 4
    # 32x32 after four pools is 2x2x512: the Dense input follows the image size.
    assert tuple(model.latent.kernel.shape) == (512 * 2 * 2, 4096)
    dense = [l for l in model.head_layers if isinstance(l, keras.layers.Dense)]
    assert [tuple(l.kernel.shape) for l in dense] == [(4096, 2048), (2048, 512), (512, 10)]
    dropout = [l.rate for l in model.head_layers if isinstance(l, keras.layers.Dropout)]
    assert dropout == [0.5]


@pytest.mark.parametrize("size, flat", [(128, 512 * 4 * 4), (64, 512 * 2 * 2), (32, 512)])
def test_celeba_net_table_xiv(size, flat):
    model = build_classifier("celeba_net", image_shape=(size, size, 3))
    convs = [l.filters for l in model.stack if isinstance(l, keras.layers.Conv2D)]
    assert convs == [64, 128, 256, 256, 512, 512, 512, 512]  # VGG11
    assert sum(isinstance(l, keras.layers.MaxPooling2D) for l in model.stack) == 5
    # Table XIV: Linear 512 x 4 x 4 -> 4096 at 128x128, then 2048, then 1.
    assert tuple(model.latent.kernel.shape) == (flat, 4096)
    dense = [l for l in model.head_layers if isinstance(l, keras.layers.Dense)]
    assert [tuple(l.kernel.shape) for l in dense] == [(4096, 2048), (2048, 1)]
    dropout = [l.rate for l in model.head_layers if isinstance(l, keras.layers.Dropout)]
    assert dropout == [0.5, 0.5]


@pytest.mark.parametrize("name, shape, num_classes", [
    ("svhn_net", (32, 32, 3), 10), ("celeba_net", (64, 64, 3), 1)])
def test_head_of_features_equals_call(name, shape, num_classes):
    model = build_classifier(name, num_classes=num_classes, image_shape=shape, **TINY)
    x = np.random.default_rng(0).random((6, *shape)).astype("float32")
    z = np.asarray(model.features(x))
    assert z.shape == (6, 4096)
    assert z.min() < 0.0  # z is taken before the ReLU
    logits = np.asarray(model(x))
    assert logits.shape == (6, num_classes)
    np.testing.assert_allclose(np.asarray(model.head(z)), logits, atol=0, rtol=0)


def test_svhn_generator_table_xiii():
    generator = SvhnGenerator()
    # Linear 4096 -> 512x2x2; four stride-2 transposed convolutions reach 32x32.
    assert generator.intermediate_shapes(2) == [
        (2, 2, 2, 512), (2, 4, 4, 512), (2, 8, 8, 512), (2, 16, 16, 256), (2, 32, 32, 128),
        (2, 32, 32, 3)]
    types = layer_types(generator)
    assert types.count("Conv2DTranspose") == 4 and types.count("BatchNormalization") == 9
    convs = [l for l in generator.stages if type(l) is keras.layers.Conv2D]
    assert [(l.filters, l.kernel_size) for l in convs] == [
        (512, (3, 3)), (512, (3, 3)), (256, (3, 3)), (128, (3, 3)), (64, (3, 3)), (3, (1, 1))]
    assert convs[-1].activation.__name__ == "tanh"


@pytest.mark.parametrize("size, start", [(128, 4), (64, 2), (32, 1)])
def test_celeba_generator_table_xv(size, start):
    generator = CelebAGenerator(image_shape=(size, size, 3))
    shapes = generator.intermediate_shapes(1)
    assert shapes[0] == (1, start, start, 512)  # Table XV: 4x4 at 128x128
    assert [s[1] for s in shapes[1:6]] == [start * 2 ** k for k in range(1, 6)]
    assert [s[3] for s in shapes[1:6]] == [512, 512, 256, 128, 64]
    assert shapes[-1] == (1, size, size, 3)
    convs = [l.filters for l in generator.stages if type(l) is keras.layers.Conv2D]
    assert convs == [512] * 3 + [512] * 3 + [256] * 3 + [128] * 2 + [64] * 2 + [3]


def test_generator_output_is_tanh_mapped_to_unit_range():
    generator = build_generator("svhn_generator", **TINY)
    z = np.random.default_rng(0).normal(0, 50, (64, 4096)).astype("float32")
    images = np.asarray(generator(z))
    assert images.shape == (64, 32, 32, 3)
    assert images.min() >= 0.0 and images.max() <= 1.0
    # The last two stages are tanh (t in [-1, 1]) and (t + 1) / 2.
    pre = z
    for layer in generator.stages[:-1]:
        pre = layer(pre)
    np.testing.assert_allclose(images, (np.asarray(pre) + 1) / 2, atol=1e-6)
    assert np.asarray(pre).min() < -0.5 and np.asarray(pre).max() > 0.5


def test_presets_only_set_defaults():
    assert SvhnNet().get_config()["image_shape"] == [32, 32, 3]
    assert CelebANet().get_config()["num_classes"] == 1
    assert CelebAGenerator().image_shape == (128, 128, 3)


@pytest.mark.parametrize("build, match", [
    (lambda: build_classifier("celeba_net", image_shape=(100, 100, 3)), "multiples of 32"),
    (lambda: build_classifier("svhn_net", image_shape=(28, 28, 3)), "multiples of 16"),
    (lambda: build_generator("celeba_generator", image_shape=(48, 48, 3)), "multiples of 32"),
    (lambda: build_generator("mnist_generator", image_shape=(32, 32, 3)),
     r"makes images of shape \(28, 28, 1\).*\(32, 32, 3\)"),
    (lambda: build_classifier("svhn_net", depth=3), "model_args"),
])
def test_bad_sizes_and_arguments_are_user_errors(build, match):
    with pytest.raises(LadError, match=match):
        build()


def test_celeba_net_batch_norm_sits_between_each_conv_and_its_relu(tmp_path):
    model = CelebANet(image_shape=(32, 32, 3), batch_norm=True, **TINY).build_for_inputs()
    kinds = [type(layer).__name__ for layer in model.stack
             if not isinstance(layer, keras.layers.MaxPooling2D)]
    assert kinds == ["Conv2D", "BatchNormalization", "ReLU"] * 8
    assert not any(layer.use_bias for layer in model.stack
                   if isinstance(layer, keras.layers.Conv2D))
    x = np.random.default_rng(0).random((6, 32, 32, 3)).astype("float32")
    z = np.asarray(model.features(x))
    np.testing.assert_allclose(np.asarray(model.head(z)), np.asarray(model(x)), atol=0, rtol=0)
    # Inference uses the moving statistics, training mode the batch's (and updates
    # the moving ones), so `features` must pass `training` down to the norms.
    assert not np.allclose(np.asarray(model.features(x, training=True)), z, atol=1e-3)
    # The flag is in the config, so a saved model reloads with its norms; the
    # reloaded model runs the same kernels on the same batch (tolerance: a few
    # float32 ulps on outputs of order 1).
    model.save(tmp_path / "bn.keras")
    again = keras.models.load_model(tmp_path / "bn.keras")
    assert again.batch_norm is True
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), rtol=1e-6, atol=1e-6)
    assert CelebANet(image_shape=(32, 32, 3), **TINY).batch_norm is False  # the paper's network
