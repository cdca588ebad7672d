"""The binary task (one SVM pair used both ways, sigmoid head, attacks on one
logit) and the low-rank attention that makes 4096-d latents feasible."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from cleverhans.tf2.attacks.fast_gradient_method import fast_gradient_method

from lad_tf.attacks import fgsm, pgd
from lad_tf.attacks.logits import softmax_logits
from lad_tf.data import load_dataset
from lad_tf.defences import classification_loss, logits_accuracy
from lad_tf.lad.attention_svm import (
    AttentionSVM,
    fit_attention_svms,
    ordered_pairs,
    pair_datasets,
    svm_accuracy,
    svm_for_pairs,
    svm_pairs,
)
from lad_tf.lad.boundary import perturb_latents
from lad_tf.models import build_classifier
from lad_tf.utils.metrics import accuracy, attack_accuracy


def n_weights(model) -> int:
    return sum(int(np.prod(v.shape)) for v in model.weights)


def test_svm_pairs():
    assert svm_pairs(2) == [(0, 1)] and svm_pairs(1) == [(0, 1)]
    assert svm_pairs(10) == ordered_pairs(10)
    assert ordered_pairs(2) == [(0, 1), (1, 0)]  # generation still runs both ways


@pytest.fixture(scope="module")
def binary_latents():
    """Two Gaussian clouds in 64-d that differ in 16 dimensions."""
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1, (400, 64)).astype("float32")
    y = np.repeat([0, 1], 200)
    z[y == 1, :16] += 3.0
    return z, y


@pytest.fixture(scope="module")
def binary_svm(binary_latents):
    z, y = binary_latents
    z_fit, y_fit, z_hold, y_hold = pair_datasets(z, y, svm_pairs(2), 150, 1 / 3, seed=0)
    keras.utils.set_random_seed(0)
    svm = AttentionSVM(1, 64, "scaled_softmax", c=1.0)
    fit_attention_svms(svm, z_fit, y_fit, epochs=30, batch_size=32, learning_rate=1e-2)
    return svm, z_fit, y_fit, z_hold, y_hold


def test_one_svm_serves_both_directions(binary_svm):
    # (The attention map has 64 x 64 weights for 200 latents: it fits them all
    # and generalises less well than a plain linear SVM would, ~92% here.)
    svm, z_fit, y_fit, z_hold, y_hold = binary_svm
    assert svm_accuracy(svm, z_fit, y_fit)[0] == 1.0
    assert svm_accuracy(svm, z_hold, y_hold)[0] >= 0.85
    both = svm_for_pairs(svm, [(0, 1)], [(0, 1), (1, 0)])
    assert both.num_pairs == 2
    z = tf.convert_to_tensor(np.repeat(z_hold, 2, axis=0))
    scores = both(z).numpy()
    np.testing.assert_allclose(scores[1], -scores[0], rtol=1e-5, atol=1e-5)
    # Pairs 0 and 1 hold the same kernel: two rows of one batched einsum, which
    # the CPU may split across threads differently, so equal up to round-off.
    beta = both.attention(z).numpy()
    np.testing.assert_allclose(beta[0], beta[1], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(both.boundary_normal().numpy()[1], -svm.w.numpy()[0])
    # The multi-class case is untouched: the same object comes back.
    assert svm_for_pairs(svm, [(0, 1)], [(0, 1)]) is svm
    with pytest.raises(ValueError, match=r"no SVM was fitted for \(0, 2\)"):
        svm_for_pairs(svm, [(0, 1)], [(0, 2)])


def test_generation_moves_each_class_towards_the_other(binary_svm):
    svm, z_fit, y_fit, _, _ = binary_svm
    both = svm_for_pairs(svm, [(0, 1)], ordered_pairs(2))
    # Pair (0, 1) moves class-0 latents, pair (1, 0) class-1 latents: [2, N, D].
    sources = np.stack([z_fit[0][y_fit[0] == -1], z_fit[0][y_fit[0] == 1]])
    score = lambda z: svm(tf.convert_to_tensor(z[None])).numpy()[0]  # > 0: class 1's side
    assert np.all(score(sources[0]) < 0) and np.all(score(sources[1]) > 0)
    moved = perturb_latents(both, sources, 2.0).numpy()
    assert np.mean(score(moved[0]) > 0) >= 0.95  # class 0 crossed to class 1's side
    assert np.mean(score(moved[1]) < 0) >= 0.95  # class 1 crossed to class 0's side
    # Calibrated eps 1 lands near the boundary (exactly, if beta did not change with z).
    on = perturb_latents(both, sources, 1.0).numpy()
    for k in (0, 1):
        assert np.abs(score(on[k])).mean() < 0.2 * np.abs(score(sources[k])).mean()


@pytest.mark.parametrize("rank", [0, 4])
def test_low_rank_attention(binary_latents, rank, tmp_path):
    z, y = binary_latents
    z_fit, y_fit, z_hold, y_hold = pair_datasets(z, y, [(0, 1), (1, 0)], 150, 1 / 3, seed=0)
    keras.utils.set_random_seed(0)
    svm = AttentionSVM(2, 64, "scaled_softmax", c=1.0, attention_rank=rank)
    attention_weights = 2 * 64 * 64 if rank == 0 else 2 * 2 * 64 * rank
    assert n_weights(svm) == attention_weights + 2 * 64 + 2 * 64 + 2
    fit_attention_svms(svm, z_fit, y_fit, epochs=30, batch_size=32, learning_rate=1e-2)
    assert svm_accuracy(svm, z_fit, y_fit).min() == 1.0
    assert svm_accuracy(svm, z_hold, y_hold).min() >= 0.85
    beta = svm.attention(tf.convert_to_tensor(z_hold)).numpy()
    np.testing.assert_allclose(beta.sum(-1), 64.0, rtol=1e-4)  # scaled softmax: mean 1
    svm.save(tmp_path / "svm.keras")
    again = keras.models.load_model(tmp_path / "svm.keras")
    assert again.attention_rank == rank
    # Same weights, same batch: equal up to the op order of the reloaded model.
    np.testing.assert_allclose(again(tf.convert_to_tensor(z_hold)).numpy(),
                               svm(tf.convert_to_tensor(z_hold)).numpy(), rtol=1e-6, atol=1e-6)
    both = svm_for_pairs(svm, [(0, 1), (1, 0)], [(1, 0)])
    # Two batch shapes run through different kernel blockings: the same scores
    # up to float32 round-off (1.2e-7 seen on one CPU), not bit for bit.
    np.testing.assert_allclose(both(tf.convert_to_tensor(z_hold[1:])).numpy(),
                               svm(tf.convert_to_tensor(z_hold)).numpy()[1:], rtol=1e-5, atol=1e-6)


def test_4096_latents_with_90_pairs_fit_in_memory():
    svm = AttentionSVM(90, 4096, attention_rank=32)
    # 2 * 4096 * 32 per pair: 23.6M in all, where a full kernel would be 1.5G.
    assert n_weights(svm) == 90 * (2 * 4096 * 32 + 4096 + 4096 + 1)
    z = tf.random.normal((90, 3, 4096))
    assert tuple(svm(z).shape) == (90, 3)


# ----------------------------------------------------- binary model and attacks

@pytest.fixture(scope="module")
def binary_digits():
    """A one-logit LeNet trained on the embedded digits, 0-4 vs 5-9."""
    data = load_dataset("digits")
    y_train, y_test = (data.y_train >= 5).astype("int64"), (data.y_test >= 5).astype("int64")
    keras.utils.set_random_seed(0)
    model = build_classifier("lenet", num_classes=1)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss=classification_loss(1),
                  metrics=[logits_accuracy(1)])
    history = model.fit(data.x_train, y_train, batch_size=32, epochs=8, verbose=0)
    return model, data.x_test[:200], y_test[:200], history


def test_binary_accuracy_metric_reads_logits(binary_digits):
    model, x, y, history = binary_digits
    logits = np.asarray(model(x))
    assert logits.shape == (200, 1)
    clean = accuracy(model, x, y)
    # `accuracy` runs a traced graph, this an eager call: logits equal up to
    # float32 round-off, so only an example with |logit| < 1e-5 may flip.
    near_ties = np.mean(np.abs(logits[:, 0]) < 1e-5)
    assert abs(clean - np.mean((logits[:, 0] > 0) == y)) <= near_ties + 1e-9
    assert clean >= 0.9
    metric = logits_accuracy(1)
    metric.update_state(y, logits)
    assert float(metric.result()) == pytest.approx(clean)
    assert history.history["accuracy"][-1] > 0.9


def test_two_logit_view_is_the_sigmoid():
    logit = tf.constant([[-2.0], [0.5], [3.0]])
    view = softmax_logits(lambda x: x)(logit)
    np.testing.assert_allclose(tf.nn.softmax(view)[:, 1].numpy(), tf.sigmoid(logit)[:, 0].numpy(),
                               rtol=1e-6)
    many = tf.constant([[1.0, 2.0, 3.0]])
    assert softmax_logits(lambda x: x)(many) is many


def test_fgsm_and_pgd_lower_a_binary_models_accuracy(binary_digits):
    model, x, y, _ = binary_digits
    clean = accuracy(model, x, y)
    # cleverhans on the single logit directly is degenerate, which the wrapper
    # fixes: without labels, a softmax over one logit has no gradient and the
    # "attack" changes nothing; with labels, label 1 is out of range.
    raw = fast_gradient_method(model, tf.constant(x), 0.3, np.inf, clip_min=0.0, clip_max=1.0)
    np.testing.assert_array_equal(raw.numpy(), x)
    with pytest.raises(tf.errors.InvalidArgumentError, match="label value of 1"):
        fast_gradient_method(model, tf.constant(x), 0.3, np.inf, y=tf.constant(y))
    fgsm_acc = attack_accuracy(model, fgsm, x, y, 100, eps=0.3)
    pgd_acc = attack_accuracy(model, pgd, x, y, 100, eps=0.3, eps_iter=0.02, nb_iter=20, seed=0)
    assert fgsm_acc < clean - 0.3, (clean, fgsm_acc)
    assert pgd_acc <= fgsm_acc and pgd_acc < 0.2, (fgsm_acc, pgd_acc)
