"""One save / reload / `get_config` round trip for every saved model of LAD-TF.

KerasHub's `run_model_saving_test` habit: every model class registered under
the `lad_tf` package (the zoo's classifiers and generators, their base
classes, the cut provider model, the AC-GAN and its two networks, the
attention SVMs) is built small, saved to a `.keras` file, loaded back with
`keras.saving.load_model`, and must give the same outputs; and
`from_config(get_config())` must rebuild the same architecture.
`test_every_registered_model_has_a_case` fails when a new model is
registered without a case here.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from lad_tf.lad.attention_svm import AttentionSVM
from lad_tf.models import (
    ACGAN,
    ACGANCritic,
    ACGANGenerator,
    AutoGenerator,
    BlackBoxCNN,
    CelebAGenerator,
    CelebANet,
    ConvGenerator,
    CutClassifier,
    JudgeNet,
    LeNet,
    MnistGenerator,
    SvhnGenerator,
    SvhnNet,
    VGGNet,
)
from lad_tf.models.own_model import cut_model

# The reloaded model runs the same float32 kernels on the same batch with the
# same weights, so its outputs are normally bit-identical; the tolerance only
# allows Keras to order or fuse the ops of a reloaded graph differently (a
# few ulps of float32 on outputs of order 1).
RTOL, ATOL = 1e-6, 1e-6


def _images(*shape):
    return np.random.default_rng(1).random(shape).astype("float32")


def _latents(*shape):
    return np.random.default_rng(2).normal(size=shape).astype("float32")


def _acgan_inputs(count, latent_dim, num_classes):
    return _latents(count, latent_dim), np.arange(count, dtype="int32") % num_classes


def _cut_classifier():
    images = keras.Input((8, 8, 1), name="images")
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(images)
    h = keras.layers.Flatten(name="flat")(h)
    h = keras.layers.Dense(6, activation="relu", name="fc1")(h)
    probs = keras.layers.Dense(3, activation="softmax", name="probs")(h)
    classifier, _ = cut_model(keras.Model(images, probs, name="tiny"), "fc1", source="tiny.keras")
    assert isinstance(classifier, CutClassifier)
    return classifier


def _acgan_networks():
    return (ACGANGenerator(latent_dim=8, num_classes=3, image_shape=(8, 8, 1), channels=4),
            ACGANCritic(num_classes=3, image_shape=(8, 8, 1), channels=4))


TINY = {"width": 1 / 16, "latent_dim": 16}
# name -> (the model, built small; its input batch)
CASES = {
    "LeNet": (lambda: LeNet(), lambda: _images(3, 28, 28, 1)),
    "BlackBoxCNN": (lambda: BlackBoxCNN(latent_dim=16), lambda: _images(3, 28, 28, 1)),
    "VGGNet": (lambda: VGGNet(num_classes=3, latent_dim=8, image_shape=(8, 8, 1),
                              conv_layers=[4, "M", 4], hidden_units=[6], dropout=[0.5, 0.0]),
               lambda: _images(3, 8, 8, 1)),
    "SvhnNet": (lambda: SvhnNet(**TINY), lambda: _images(3, 32, 32, 3)),
    "CelebANet": (lambda: CelebANet(image_shape=(32, 32, 3), **TINY),
                  lambda: _images(3, 32, 32, 3)),
    "CutClassifier": (_cut_classifier, lambda: _images(3, 8, 8, 1)),
    "MnistGenerator": (lambda: MnistGenerator(latent_dim=12, channels=(4, 4, 4, 4)),
                       lambda: _latents(3, 12)),
    "AutoGenerator": (lambda: AutoGenerator(latent_dim=12, image_shape=(30, 45, 3), channels=8),
                      lambda: _latents(3, 12)),
    "ConvGenerator": (lambda: ConvGenerator(latent_dim=8, image_shape=(8, 8, 1),
                                            blocks=[["up", 4, 1], ["conv", 4, 1]],
                                            start_channels=8),
                      lambda: _latents(3, 8)),
    "SvhnGenerator": (lambda: SvhnGenerator(**TINY), lambda: _latents(3, 16)),
    "CelebAGenerator": (lambda: CelebAGenerator(image_shape=(32, 32, 3), **TINY),
                        lambda: _latents(3, 16)),
    "ACGANGenerator": (lambda: _acgan_networks()[0], lambda: _acgan_inputs(3, 8, 3)),
    "ACGANCritic": (lambda: _acgan_networks()[1], lambda: _images(3, 8, 8, 1)),
    "ACGAN": (lambda: ACGAN(*_acgan_networks(), n_critic=2, seed=4),
              lambda: _acgan_inputs(3, 8, 3)),
    "AttentionSVM": (lambda: AttentionSVM(num_pairs=2, latent_dim=5), lambda: _latents(2, 4, 5)),
    "JudgeNet": (lambda: JudgeNet(num_classes=3, image_shape=(8, 8, 1), seed=2),
                 lambda: _images(3, 8, 8, 1)),
}
# The same class again with other constructor arguments that change its weights.
VARIANTS = {
    "AttentionSVM(rank 2)": (lambda: AttentionSVM(num_pairs=2, latent_dim=5, attention_rank=2,
                                                  attention="exp_softmax", c=0.5),
                             lambda: _latents(2, 4, 5)),
    "ACGAN(generator_aux_weight 0.1)": (
        lambda: ACGAN(*_acgan_networks(), n_critic=2, seed=4, generator_aux_weight=0.1),
        lambda: _acgan_inputs(3, 8, 3)),
    "ACGANCritic(flatten)": (lambda: ACGANCritic(num_classes=3, image_shape=(8, 8, 1), channels=4,
                                                 pooling="flatten"),
                             lambda: _images(3, 8, 8, 1)),
}


def _config(model) -> str:
    """The model's config as saved in a .keras file (JSON: tuples and lists are alike)."""
    return json.dumps(model.get_config(), sort_keys=True)


def _outputs(model, x) -> list[np.ndarray]:
    """The model's outputs on x in inference mode, as a flat list of arrays."""
    return [np.asarray(t) for t in keras.tree.flatten(model(x, training=False))]


def _assert_same_outputs(a, b, x):
    expected, got = _outputs(a, x), _outputs(b, x)
    assert len(got) == len(expected)
    for e, g in zip(expected, got):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)


def test_every_registered_model_has_a_case():
    registered = {name.split(">", 1)[1] for name, obj in keras.saving.get_custom_objects().items()
                  if name.startswith("lad_tf>") and isinstance(obj, type)
                  and issubclass(obj, keras.Model)}
    assert registered - set(CASES) == set(), "add a case for each new model to CASES"


@pytest.mark.parametrize("name", sorted({**CASES, **VARIANTS}))
def test_save_reload_and_from_config_give_the_same_model(name, tmp_path):
    make, inputs = {**CASES, **VARIANTS}[name]
    keras.utils.set_random_seed(0)
    model, x = make(), inputs()
    expected = _outputs(model, x)
    # Not a vacuous comparison: the model computes something other than zeros.
    assert any(np.any(e != 0) for e in expected)

    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded) is type(model)
    assert _config(reloaded) == _config(model)
    _assert_same_outputs(model, reloaded, x)

    revived = type(model).from_config(model.get_config())
    assert type(revived) is type(model)
    assert _config(revived) == _config(model)
    _outputs(revived, x)  # builds the weights
    assert [w.shape for w in revived.weights] == [w.shape for w in model.weights]
    revived.set_weights(model.get_weights())
    _assert_same_outputs(model, revived, x)
