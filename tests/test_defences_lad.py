"""The Eq. 4 train_step (lad_tf.defences.LAD): its loss is the alpha-weighted sum, and
it learns; the Eq. 4 datasets (lad_tf.defences.datasets)."""

import keras
import numpy as np
import pytest

from lad_tf.defences import LAD
from lad_tf.defences.datasets import hardening_dataset
from lad_tf.models import build_classifier


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    logits = logits - logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-np.mean(log_p[np.arange(len(labels)), labels]))


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    x = rng.random((16, 28, 28, 1)).astype("float32")
    x_adv = rng.random((16, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, 16).astype("int64")
    y_adv = rng.integers(0, 10, 16).astype("int64")
    return x, y, x_adv, y_adv


@pytest.mark.parametrize("alpha", [0.5, 0.2, 1.0])
def test_train_step_loss_is_alpha_weighted_sum(batch, alpha):
    x, y, x_adv, y_adv = batch
    keras.utils.set_random_seed(0)
    classifier = build_classifier("lenet")
    model = LAD(classifier, alpha=alpha)
    # A zero learning rate leaves the weights as they are, so the step's loss
    # can be recomputed by hand from the same weights.
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = model.train_on_batch(((x, y), (x_adv, y_adv)), return_dict=True)
    j_clean = cross_entropy(np.asarray(classifier(x)), y)
    j_adv = cross_entropy(np.asarray(classifier(x_adv)), y_adv)
    expected = alpha * j_clean + (1 - alpha) * j_adv
    assert logs["loss"] == pytest.approx(expected, rel=1e-5)
    assert logs["clean_loss"] == pytest.approx(j_clean, rel=1e-5)
    assert logs["adv_loss"] == pytest.approx(j_adv, rel=1e-5)


def test_train_step_lowers_the_loss(batch):
    x, y, x_adv, y_adv = batch
    keras.utils.set_random_seed(0)
    model = LAD(build_classifier("lenet"), alpha=0.5)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    losses = [model.train_on_batch(((x, y), (x_adv, y_adv)), return_dict=True)["loss"]
              for _ in range(25)]
    assert losses[-1] < 0.5 * losses[0], losses


def test_alpha_out_of_range():
    with pytest.raises(ValueError, match="alpha must be in"):
        LAD(build_classifier("lenet"), alpha=1.5)


def test_hardening_dataset_pairs_clean_and_generated(batch):
    x, y, x_adv, y_adv = batch
    ds = hardening_dataset(x, y, x_adv[:10], y_adv[:10], batch_size=4)
    steps = list(ds)
    assert len(steps) == 2  # one pass over 10 generated examples, batches of 4
    (xb, yb), (xa, ya) = steps[0]
    assert xb.shape == (4, 28, 28, 1) and xa.shape == (4, 28, 28, 1)
    with pytest.raises(ValueError, match="generated set is empty"):
        hardening_dataset(x, y, x_adv[:0], y_adv[:0], batch_size=4)

