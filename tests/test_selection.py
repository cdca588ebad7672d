"""Selection without the test set: the validation split is disjoint from the
train, provider and test splits; the defences' checkpoint selection reads
only it; the best epoch is kept and a collapse (catastrophic overfitting) is
detected and rolled back."""

import keras
import numpy as np
import pytest

from lad_tf.data import RawData, make_splits
from lad_tf.defences.selection import RobustSelection
from lad_tf.models import build_classifier
from lad_tf.recipe.schema import Recipe


def _index_coded(n=600, k=10):
    """Images whose first pixel holds their index (exact in float32 / 255 steps)."""
    x = np.zeros((n, 4, 4, 1), "float32")
    x[:, 0, 0, 0] = np.arange(n) / n
    return RawData(source="synthetic", num_classes=k, x_train=x, y_train=np.arange(n) % k,
                   x_test=x[:50] * 0 + 0.999, y_test=np.arange(50) % k)


def test_validation_split_is_disjoint_and_stratified():
    splits = make_splits("synthetic", _index_coded(), provider_fraction=0.2, seed=3,
                         validation_fraction=0.1)
    ids = {s: set(np.round(getattr(splits, f"x_{s}")[:, 0, 0, 0] * 600).astype(int))
           for s in ("train", "validation", "provider")}
    assert not ids["train"] & ids["validation"] and not ids["train"] & ids["provider"]
    assert not ids["validation"] & ids["provider"]
    assert len(ids["train"] | ids["validation"] | ids["provider"]) == 600
    assert len(ids["validation"]) == 48 and len(ids["provider"]) == 120
    assert np.all(np.bincount(splits.y_validation, minlength=10) >= 4)
    # the provider split does not depend on the validation split
    plain = make_splits("synthetic", _index_coded(), provider_fraction=0.2, seed=3)
    np.testing.assert_array_equal(plain.x_provider, splits.x_provider)  # same bytes: a copy


def test_real_mnist_splits_are_disjoint(mnist_dir):
    from lad_tf.data import load_dataset

    data = load_dataset("mnist", use_tfds=False, validation_fraction=0.04)
    assert len(data.y_validation) == 2000 and len(data.y_train) == 48000
    rows = {s: {hash(r.tobytes()) for r in getattr(data, f"x_{s}")[:2000]}
            for s in ("validation", "provider")}
    assert len(rows["validation"] & rows["provider"]) <= 2  # MNIST has a few duplicate images


class _Recorder:
    """A DatasetSplits stand-in that records which attributes are read."""

    def __init__(self, data):
        self.data, self.read = data, set()

    def __getattr__(self, name):
        self.read.add(name)
        return getattr(self.data, name)


@pytest.mark.parametrize("method", ["fast-at", "lad+fast"])
def test_defence_training_reads_no_test_image(method, tmp_path, trained_lenet):
    from lad_tf.defences.trainer import DefenceTrainer

    splits = make_splits("synthetic", RawData(
        source="synthetic", num_classes=10,
        x_train=np.random.default_rng(0).uniform(0, 1, (400, 28, 28, 1)).astype("float32"),
        y_train=np.arange(400) % 10, x_test=np.zeros((20, 28, 28, 1), "float32"),
        y_test=np.arange(20) % 10), provider_fraction=0.2, validation_fraction=0.25)
    data = _Recorder(splits)
    path = tmp_path / "original.keras"
    trained_lenet.save(path)
    recipe = Recipe(selection=Recipe().selection.__class__(per_class=3, pgd_steps=2))

    def fit(stage, model, ds, epochs, validation, callbacks):
        return model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=list(callbacks)).history

    trainer = DefenceTrainer(path, data, recipe, fit=fit,
                             generated=lambda: (splits.x_provider, splits.y_provider))
    _, info = trainer.build(method)
    assert info["selection"]["validation_images"] == 30
    assert not {"x_test", "y_test"} & data.read, data.read
    assert "x_validation" in data.read


def _fit_with(scores, patience=0, collapse_drop=0.2):
    """Trains a LeNet on noise with a RobustSelection whose scores are scripted."""
    keras.utils.set_random_seed(0)
    model = build_classifier("lenet")
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 1, (64, 28, 28, 1)).astype("float32")
    y = np.arange(64) % 10
    sel = RobustSelection(model, x[:10], y[:10], patience=patience, collapse_drop=collapse_drop,
                          log=lambda line: None)
    script = iter(scores)
    sel.evaluate = lambda: next(script)
    kept = {}

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            kept[epoch + 1] = [w.copy() for w in model.get_weights()]

    history = model.fit(x, y, epochs=len(scores), verbose=0, callbacks=[Snapshot(), sel])
    return model, sel, kept, len(history.history["loss"])


def test_collapse_is_detected_and_rolled_back():
    model, sel, kept, epochs = _fit_with([(0.95, 0.40), (0.97, 0.70), (0.99, 0.05), (0.99, 0.0)])
    assert epochs == 3 and sel.collapsed_at == 3 and sel.best["epoch"] == 2
    for got, want in zip(model.get_weights(), kept[2]):
        np.testing.assert_array_equal(got, want)  # the same arrays, restored (no arithmetic)


def test_patience_stops_and_keeps_the_best_epoch():
    model, sel, kept, epochs = _fit_with(
        [(0.9, 0.50), (0.9, 0.60), (0.9, 0.59), (0.9, 0.58), (0.9, 0.70)], patience=2)
    assert epochs == 4 and sel.best["epoch"] == 2 and sel.collapsed_at is None
    for got, want in zip(model.get_weights(), kept[2]):
        np.testing.assert_array_equal(got, want)  # restored copies, no arithmetic


def test_a_constant_classifier_is_never_kept_over_a_real_one():
    # Ten classes of 10%: clean accuracy within 0.05 of 10% predicts like a constant, whose
    # "robust" accuracy is its class's share (50% on two balanced classes: the CelebA collapse).
    model, sel, kept, epochs = _fit_with([(0.9, 0.30), (0.12, 0.60), (0.9, 0.35)])
    assert sel.best["epoch"] == 3 and sel.history[1]["degenerate"]
    for got, want in zip(model.get_weights(), kept[3]):
        np.testing.assert_array_equal(got, want)
    # It is no gain for patience either, and when every epoch is degenerate the best of them stays.
    _, sel, _, epochs = _fit_with([(0.9, 0.50), (0.1, 0.90), (0.1, 0.95), (0.9, 0.99)], patience=2)
    assert epochs == 3 and sel.best["epoch"] == 1
    _, sel, _, _ = _fit_with([(0.10, 0.10), (0.12, 0.20)])
    assert sel.best["epoch"] == 2 and sel.best["degenerate"]


def test_validation_score_measures_real_robust_accuracy(trained_lenet, mnist):
    sel = RobustSelection(trained_lenet, mnist.x_test[:200], mnist.y_test[:200], eps=0.3, steps=10)
    clean, robust = sel.evaluate()
    assert clean > 0.9 and robust < 0.2  # an undefended LeNet: PGD breaks it
