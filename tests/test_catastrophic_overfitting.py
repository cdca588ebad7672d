"""The catastrophic-overfitting guard on a real run built to collapse.

A LeNet (the session's clean `trained_lenet`, copied) is trained on real
MNIST with Wong et al.'s fast AT (FGSM from a random start, step 1.25 eps,
eps 0.3, ramped in) under `RobustSelection`, which scores it after every
short epoch on held-out training images with a PGD-10 at eps 0.3: validation
robust accuracy rises. Then the run is resumed from that point twice, the
weights, the Adam state and the guard's record all carried over:

* with `random_start=False` (plain FGSM, the variant known to collapse;
  without a random start any step_factor >= 1 is the same full-eps step,
  since the step is projected back to the eps ball): PGD accuracy drops at
  once while clean accuracy stays put and the FGSM training accuracy keeps
  rising, i.e. catastrophic overfitting. The guard must report the collapse,
  stop there and restore the best epoch's weights;
* with the random start kept (the control): robust accuracy does not
  collapse and the run trains all its epochs.

Only the random start differs between the two continuations (same weights,
optimizer state, learning rate, data order and seeds), so the collapse is
the FGSM variant's, not a learning-rate shock. Validation images are the
last 2,000 training images (30 per class); training reads the first 12,000.
"""

import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from lad_tf.defences import FastAdversarialTraining
from lad_tf.defences.selection import RobustSelection
from lad_tf.models import build_classifier

pytestmark = pytest.mark.slow

EPS = 0.3
PGD_STEPS = 10  # the guard's validation PGD
COLLAPSE_DROP = 0.2  # the recipe's default (SelectionConfig.collapse_drop)
LEARNING_RATE = 5e-3  # Adam, both phases
MORE_LEARNING_RATE = 5e-3
WARMUP_NFGSM = CONTROL_NFGSM = False
BATCH, STEPS_PER_EPOCH = 64, 25  # short epochs: the guard scores every 1,600 images
RAMP_STEPS = 150  # eps ramp of the warm-up (6 epochs)
WARMUP_EPOCHS = 16  # fast AT with a random start: robust accuracy rises
MORE_EPOCHS = 6  # the continuations (plain FGSM / random start kept)
TRAIN_IMAGES, VALIDATION_PER_CLASS = 12000, 30


def _dataset(mnist, seed):
    x, y = mnist.x_train[:TRAIN_IMAGES], mnist.y_train[:TRAIN_IMAGES]
    return (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=seed)
            .repeat().batch(BATCH))


class _Record(keras.callbacks.Callback):
    """Per epoch: the weights (copies) and the logs, which the guard (listed
    first) has filled with its validation scores."""

    def __init__(self, classifier):
        super().__init__()
        self.classifier, self.weights, self.rows = classifier, {}, {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch + 1] = [w.copy() for w in self.classifier.get_weights()]
        self.rows[epoch + 1] = {k: round(float(v), 3) for k, v in (logs or {}).items()}


def _guard(classifier, validation, folder):
    return RobustSelection(classifier, *validation, eps=EPS, steps=PGD_STEPS, patience=0,
                           collapse_drop=COLLAPSE_DROP, folder=folder, log=print)


def _fit(defence, guard, record, mnist, seed, initial_epoch, epochs):
    history = defence.fit(_dataset(mnist, seed), steps_per_epoch=STEPS_PER_EPOCH,
                          initial_epoch=initial_epoch, epochs=initial_epoch + epochs,
                          verbose=0, callbacks=[guard, record])
    return len(history.history["loss"])


@pytest.fixture(scope="module")
def validation(mnist):
    x, y = mnist.x_train[-2000:], mnist.y_train[-2000:]  # training side; never trained on
    idx = np.concatenate([np.flatnonzero(y == k)[:VALIDATION_PER_CLASS] for k in range(10)])
    return x[idx], y[idx]


@pytest.fixture(scope="module")
def warmup(trained_lenet, mnist, validation, tmp_path_factory):
    """Fast AT (random start) from the clean LeNet: the state at the end of
    the warm-up (weights, Adam variables, the guard's folder) and its record."""
    keras.utils.set_random_seed(0)
    classifier = build_classifier("lenet")
    classifier.set_weights(trained_lenet.get_weights())
    defence = FastAdversarialTraining(classifier, eps=EPS, eps_ramp_steps=RAMP_STEPS, nfgsm=WARMUP_NFGSM)
    defence.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
    folder = tmp_path_factory.mktemp("warmup") / "selection"
    guard, record = _guard(classifier, validation, folder), _Record(classifier)

    class KeepLast(keras.callbacks.Callback):  # before the guard restores its best epoch
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == WARMUP_EPOCHS:
                state["weights"] = classifier.get_weights()
                state["optimizer"] = [v.numpy() for v in defence.optimizer.variables]

    state = {}
    defence.fit(_dataset(mnist, 0), steps_per_epoch=STEPS_PER_EPOCH, epochs=WARMUP_EPOCHS,
                verbose=0, callbacks=[guard, record, KeepLast()])
    assert guard.collapsed_at is None, record.rows
    robust = [record.rows[e]["val_robust_accuracy"] for e in sorted(record.rows)]
    assert robust[0] < 0.1 and max(robust[-4:]) >= 0.35, record.rows  # it rose
    return dict(state, folder=folder, record=record, best=guard.best)


def _resume(warmup, validation, mnist, tmp_path, random_start):
    """The warm-up run continued for MORE_EPOCHS, with or without the random start."""
    keras.utils.set_random_seed(1)
    classifier = build_classifier("lenet")
    classifier.set_weights(warmup["weights"])
    defence = FastAdversarialTraining(classifier, eps=EPS, random_start=random_start,
                                      nfgsm=random_start and CONTROL_NFGSM)
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    optimizer.build(defence.trainable_variables)
    assert len(optimizer.variables) == len(warmup["optimizer"])
    for variable, value in zip(optimizer.variables, warmup["optimizer"]):
        variable.assign(value)  # Adam's moments and step count: no restart shock
    optimizer.learning_rate.assign(MORE_LEARNING_RATE)
    defence.compile(optimizer=optimizer)
    folder = tmp_path / "selection"
    shutil.copytree(warmup["folder"], folder)  # the guard resumes the warm-up's record
    guard, record = _guard(classifier, validation, folder), _Record(classifier)
    epochs = _fit(defence, guard, record, mnist, 1, WARMUP_EPOCHS, MORE_EPOCHS)
    rows = {**warmup["record"].rows, **record.rows}
    print("\nepoch  val_clean  val_robust  fgsm_train_acc  (random_start after warm-up: "
          f"{random_start})")
    for e in sorted(rows):
        print(f"{e:5d}  {rows[e].get('val_clean_accuracy', float('nan')):9.3f}  "
              f"{rows[e].get('val_robust_accuracy', float('nan')):10.3f}  "
              f"{rows[e].get('adv_accuracy', float('nan')):14.3f}")
    weights = {**warmup["record"].weights, **record.weights}
    return classifier, guard, epochs, rows, weights


def test_guard_catches_the_collapse_of_plain_fgsm_training(warmup, validation, mnist, tmp_path):
    classifier, guard, epochs, rows, weights = _resume(warmup, validation, mnist, tmp_path,
                                                       random_start=False)
    # the collapse is detected, and training stopped at that epoch
    assert guard.collapsed_at is not None, rows
    assert guard.collapsed_at == WARMUP_EPOCHS + epochs and epochs < MORE_EPOCHS, rows
    best, collapsed = guard.best, rows[guard.collapsed_at]
    assert best["epoch"] < guard.collapsed_at
    assert best["val_robust_accuracy"] >= 0.35, rows  # there was robustness to lose
    assert collapsed["val_robust_accuracy"] <= best["val_robust_accuracy"] - COLLAPSE_DROP
    # catastrophic overfitting, not a broken model: clean accuracy stays high
    assert collapsed["val_clean_accuracy"] >= 0.9, rows
    # the best epoch's weights are back (restored copies: no arithmetic, exact)
    for got, want in zip(classifier.get_weights(), weights[best["epoch"]]):
        np.testing.assert_allclose(got, want, rtol=0, atol=0)
    # and they are robust again: PGD accuracy well above the collapsed epoch's
    clean, robust = guard.evaluate()
    assert robust >= collapsed["val_robust_accuracy"] + COLLAPSE_DROP / 2, (robust, rows)
    assert robust == pytest.approx(best["val_robust_accuracy"], abs=0.1)  # PGD's random start
    assert clean >= 0.9


def test_random_start_run_does_not_collapse(warmup, validation, mnist, tmp_path):
    """The control: the same continuation with the random start kept (step 1.25 eps)."""
    _, guard, epochs, rows, _ = _resume(warmup, validation, mnist, tmp_path, random_start=True)
    assert guard.collapsed_at is None and epochs == MORE_EPOCHS, rows
    robust = [rows[e]["val_robust_accuracy"] for e in range(WARMUP_EPOCHS + 1,
                                                            WARMUP_EPOCHS + MORE_EPOCHS + 1)]
    assert min(robust) >= warmup["best"]["val_robust_accuracy"] - COLLAPSE_DROP / 2, rows
