"""Shared fixtures: real MNIST from $LAD_DATA_DIR and a briefly trained LeNet.

Tests on real data read $LAD_DATA_DIR, which `.ci/run` points at the shared
data folder. Outside CI they are skipped when it is unset; under CI (CI=true)
a missing $LAD_DATA_DIR is an error, so those tests can never skip silently.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def data_dir() -> str:
    """$LAD_DATA_DIR as an absolute path (README and CI give it as ../shared/data)."""
    path = os.environ.get("LAD_DATA_DIR")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("CI must set LAD_DATA_DIR to the shared data folder (see .ci/run)")
        pytest.skip("LAD_DATA_DIR is not set; point it at the shared data folder "
                    "(mnist/, svhn/, celeba/) to run the real-data tests")
    return os.path.abspath(path)


@pytest.fixture(scope="session")
def mnist_dir(data_dir) -> str:
    return data_dir


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """Full MNIST from $LAD_DATA_DIR (50,000 train / 10,000 provider / 10,000 test)."""
    from lad_tf.data import load_dataset

    return load_dataset("mnist", use_tfds=False)


@pytest.fixture(scope="session")
def trained_lenet(mnist):
    """A LeNet trained for one epoch on 12,000 real MNIST training images (~98%)."""
    from lad_tf.defences import classification_loss
    from lad_tf.models import build_classifier

    keras.utils.set_random_seed(0)
    model = build_classifier("lenet")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=classification_loss(10),
                  metrics=["accuracy"])
    model.fit(mnist.x_train[:12000], mnist.y_train[:12000], batch_size=128, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="session")
def provider_latents(mnist, trained_lenet):
    """(latents [N, 500], labels [N]) of the first 3,000 provider images."""
    x, y = mnist.x_provider[:3000], mnist.y_provider[:3000]
    return np.asarray(trained_lenet.features(x)), y
