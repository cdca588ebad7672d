"""ART attacks (JSMA, C&W-L2, APGD, Square) against a real, undefended LeNet.

Issue 3's sanity properties: the targeted attacks reach their target on most
inputs, APGD is at least as strong as FGSM, every attack stays in range.
Sample sizes are small to keep CI short (C&W is the slow one)."""

import numpy as np
import pytest

from lad_tf.attacks import fgsm
from lad_tf.attacks.apgd import apgd
from lad_tf.attacks.carlini_wagner import carlini_wagner_l2
from lad_tf.attacks.jsma import jsma
from lad_tf.attacks.square import square
from lad_tf.utils.batching import predict_labels
from lad_tf.utils.metrics import attack_accuracy
from lad_tf.utils.sampling import balanced_subset


@pytest.fixture(scope="module")
def sample(mnist):
    idx = balanced_subset(mnist.y_test, 2, seed=1)  # 20 images, 2 per class
    x, y = mnist.x_test[idx], mnist.y_test[idx]
    return x, y, (y + 1) % 10  # each image's target: the next digit


def predictions(model, x):
    return predict_labels(np.asarray(model(x, training=False)))


def test_jsma_reaches_the_target(trained_lenet, sample):
    x, _, target = sample
    x_adv = jsma(trained_lenet, x, target)
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert np.mean(predictions(trained_lenet, x_adv) == target) >= 0.8


def test_carlini_wagner_reaches_the_target(trained_lenet, sample):
    x, _, target = sample
    x_adv = carlini_wagner_l2(trained_lenet, x[:10], target[:10], max_iter=20,
                              binary_search_steps=3, learning_rate=0.1, initial_const=10.0)
    hit = predictions(trained_lenet, x_adv) == target[:10]
    assert hit.mean() >= 0.7
    # C&W looks for small L2 perturbations: smaller than FGSM's at eps 0.3.
    l2 = np.sqrt(((x_adv - x[:10]) ** 2).sum(axis=(1, 2, 3)))[hit]
    x_fgsm = np.asarray(fgsm(trained_lenet, x[:10], eps=0.3))
    l2_fgsm = np.sqrt(((x_fgsm - x[:10]) ** 2).sum(axis=(1, 2, 3)))
    assert np.median(l2) < 0.75 * np.median(l2_fgsm), (np.median(l2), np.median(l2_fgsm))


def test_apgd_at_least_as_strong_as_fgsm(trained_lenet, sample):
    x, y, _ = sample
    x_adv = apgd(trained_lenet, x, y, eps=0.3, max_iter=20)
    assert np.abs(x_adv - x).max() <= 0.3 + 1e-5
    apgd_acc = float(np.mean(predictions(trained_lenet, x_adv) == y))
    fgsm_acc = attack_accuracy(trained_lenet, fgsm, x, y, 100, eps=0.3)
    assert apgd_acc <= fgsm_acc and apgd_acc < 0.1


def test_square_lowers_accuracy_without_gradients(trained_lenet, sample):
    x, y, _ = sample
    x_adv = square(trained_lenet, x, y, eps=0.3, max_iter=50)
    assert np.abs(x_adv - x).max() <= 0.3 + 1e-5
    assert np.mean(predictions(trained_lenet, x_adv) == y) < np.mean(
        predictions(trained_lenet, x) == y) - 0.3
