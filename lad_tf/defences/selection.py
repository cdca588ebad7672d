"""Checkpoint selection on the validation split, early stopping and the
catastrophic-overfitting guard, as one Keras callback.

After every epoch the classifier is scored on a fixed, class-balanced part
of the validation split (carved from the training data; never the provider
or test images): clean accuracy and accuracy under a short PGD (random
start). The best epoch by `score` is kept (in memory and, for resumed runs,
on disk); training stops when the score has not improved for `patience`
epochs after the eps ramp, or when robust accuracy collapses (drops by
`collapse_drop` below its best, the signature of catastrophic overfitting in
single-step training), and the best weights are restored at the end.

An epoch whose validation clean accuracy is no better than predicting the
largest class (plus `CONSTANT_MARGIN`) ranks below every other epoch: such a model is the
constant classifier (or near it), whose "robust" accuracy is that class's
share: 50% on a balanced two-class split, more than any adversarially
trained CelebA model here reaches (zoo/celeba/MODEL_CARD.md). Ranking it by
robust accuracy would keep the collapse; it is kept only when every epoch
is like it.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from lad_tf.attacks.logits import softmax_logits
from lad_tf.defences.perturb import pgd_linf
from lad_tf.utils.files import write_json

CLEAN_WEIGHT = 0.01  # score = robust + 0.01 * clean: clean accuracy breaks ties
CONSTANT_MARGIN = 0.05  # clean accuracy within this of the largest class's share: degenerate


def selection_score(robust: float, clean: float) -> float:
    """The number checkpoints are ranked by (robust accuracy first)."""
    return robust + CLEAN_WEIGHT * clean


class RobustSelection(keras.callbacks.Callback):
    """Scores each epoch on validation images; keeps, stops and rolls back.

    Args:
        classifier: the `LatentClassifier` being trained (its weights are
            what is kept and restored).
        x, y: validation images float32 [V, H, W, C] in [0, 1], labels [V].
        eps: PGD budget of the validation attack; steps: its PGD steps (step
            size 2.5 eps / steps); 0 steps scores clean accuracy only.
        patience: epochs without improvement before stopping (0: never stop
            early).
        min_epochs: epochs always trained (e.g. the eps ramp's).
        collapse_drop: robust-accuracy drop below the best that counts as a
            collapse (rolled back, training stops).
        folder: where the best weights live across a resumed run (or None).
        log: progress output.
    """

    def __init__(self, classifier, x, y, eps: float = 0.3, steps: int = 20, patience: int = 2,
                 min_epochs: int = 0, min_delta: float = 0.002, collapse_drop: float = 0.2,
                 batch_size: int = 500, folder=None, log=print):
        super().__init__()
        self.classifier, self.x, self.y = classifier, np.asarray(x), np.asarray(y)
        self.eps, self.steps, self.patience = float(eps), int(steps), int(patience)
        self.min_epochs, self.min_delta = int(min_epochs), float(min_delta)
        self.collapse_drop, self.batch_size = float(collapse_drop), int(batch_size)
        self.folder = Path(folder) if folder else None
        self.log = log
        self.history: list[dict] = []
        self.best: dict | None = None
        self.best_weights = None
        self.collapsed_at: int | None = None
        self.last_gain = 0
        shares = np.unique(self.y, return_counts=True)[1] / max(len(self.y), 1)
        self.constant_accuracy = float(shares.max()) if len(self.y) else 0.0
        self._scores = self._make_scorer()

    def _make_scorer(self):
        logits = softmax_logits(lambda b: self.classifier(b, training=False))
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        eps, steps = self.eps, self.steps
        spec = tf.TensorSpec((None, *self.x.shape[1:]), tf.float32)

        @tf.function(input_signature=[spec, tf.TensorSpec((None,), tf.int64)])
        def correct(x, y):
            clean = tf.argmax(logits(x), -1) == y
            if steps == 0 or eps == 0:
                return clean, clean
            x_adv = pgd_linf(lambda b: loss(y, logits(b)), x, eps, 2.5 * eps / steps, steps)
            return clean, tf.argmax(logits(x_adv), -1) == y

        return correct

    def evaluate(self) -> tuple[float, float]:
        """(clean accuracy, PGD accuracy) of the classifier on the validation images."""
        clean = robust = 0
        for i in range(0, len(self.y), self.batch_size):
            c, r = self._scores(tf.constant(self.x[i:i + self.batch_size], tf.float32),
                                tf.constant(self.y[i:i + self.batch_size], tf.int64))
            clean, robust = clean + int(tf.reduce_sum(tf.cast(c, tf.int32))), \
                robust + int(tf.reduce_sum(tf.cast(r, tf.int32)))
        n = max(len(self.y), 1)
        return clean / n, robust / n

    def on_train_begin(self, logs=None):
        if self.folder and (self.folder / "best.json").is_file():  # a resumed run
            self.best = json.loads((self.folder / "best.json").read_text())
            self.history = self.best.pop("history", [])
            self.last_gain = self.best["epoch"]
            self.best_weights = _load_weights(self.classifier, self.folder / "best.weights.h5")

    def on_epoch_end(self, epoch, logs=None):
        clean, robust = self.evaluate()
        row = {"epoch": epoch + 1, "val_clean_accuracy": clean, "val_robust_accuracy": robust,
               "score": selection_score(robust, clean)}
        self.history.append(row)
        if logs is not None:  # EpochLogger and TensorBoard show them
            logs.update(val_clean_accuracy=clean, val_robust_accuracy=robust)
        if clean <= self.constant_accuracy + CONSTANT_MARGIN:
            row["degenerate"] = True
            self.log(f"selection: epoch {epoch + 1} predicts like a constant classifier "
                     f"(validation clean accuracy {clean:.4f}, the largest class's share "
                     f"{self.constant_accuracy:.4f}): kept only if no epoch does better")
        if self.best is None or _rank(row) > _rank(self.best, self.min_delta):
            self.last_gain = epoch + 1  # patience counts from a real gain
        if self.best is None or _rank(row) > _rank(self.best):
            self.best, self.best_weights = dict(row), self.classifier.get_weights()
            self._save()
        if self._collapsed(robust, epoch):
            return
        waited = epoch + 1 - max(self.last_gain, self.min_epochs)
        if self.patience and waited >= self.patience:
            self.log(f"selection: no validation gain for {waited} epoch(s); stopping, "
                     f"best epoch {self.best['epoch']}")
            self.model.stop_training = True

    def _collapsed(self, robust: float, epoch: int) -> bool:
        if self.best is None or self.best["val_robust_accuracy"] - robust < self.collapse_drop:
            return False
        self.collapsed_at = epoch + 1
        self.log(f"selection: validation robust accuracy collapsed to {robust:.4f} (best "
                 f"{self.best['val_robust_accuracy']:.4f} at epoch {self.best['epoch']}): "
                 "catastrophic overfitting; rolling back to the best epoch and stopping")
        self.model.stop_training = True
        return True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.classifier.set_weights(self.best_weights)

    def _save(self):
        if not self.folder:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self.classifier.save_weights(str(self.folder / "best.weights.h5"))
        write_json(self.folder / "best.json", {**self.best, "history": self.history}, indent=None)

    def summary(self) -> dict:
        """What happened, for the method's info file and the report."""
        return {"validation_images": int(len(self.y)), "eps": self.eps, "pgd_steps": self.steps,
                "best_epoch": None if self.best is None else self.best["epoch"],
                "best": self.best, "collapsed_at_epoch": self.collapsed_at,
                "history": self.history}


def _rank(row: dict, plus: float = 0.0) -> tuple:
    """How epochs compare: any non-degenerate one above every degenerate one
    (`RobustSelection`), then by score (`plus` raises the bar)."""
    return (not row.get("degenerate", False), row["score"] + plus)


def _load_weights(model, path: Path):
    current = model.get_weights()
    model.load_weights(str(path))
    best = model.get_weights()
    model.set_weights(current)
    return best
