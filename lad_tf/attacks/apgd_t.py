"""APGD-T (Croce and Hein 2020), AutoAttack's targeted APGD with the
difference-of-logits-ratio (DLR) loss, through ART 1.20.1's
AutoProjectedGradientDescent.

AutoAttack runs APGD-T once per target class among the highest-scoring wrong
classes of each image and keeps, per image, the first run that fools the
model. The interface is untargeted (true labels `y`); the targets are chosen
here from the clean logits.

ART's own `loss_type="difference_logits_ratio"` loops over the batch in
eager Python (4x slower than the attack itself on a LeNet); `targeted_dlr`
computes the same loss vectorised and is handed to ART as the classifier's
loss (`loss_type=None`), so ART's APGD runs unchanged on it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from lad_tf.attacks.art import PerExampleLoss, art_classifier, one_hot
from lad_tf.attacks.norms import resolve_norm
from lad_tf.utils.batching import predict_labels
from lad_tf.utils.errors import LadError


class TargetedDLR(PerExampleLoss):
    """ART 1.20.1's DLR loss, vectorised: -(z_t - max_{j != t} z_j) / (z_1 - z_3).

    z_t is the logit of the label row (the target, for APGD-T), z_1 >= z_2 >=
    z_3 the sorted logits. APGD-T minimises it. 1e-12 in the denominator (as
    AutoAttack) keeps it finite when z_1 == z_3. `reduction` as `PerExampleLoss`.
    """

    @staticmethod
    def per_example(y_true, y_pred):
        """float32 [B]: each image's loss (the estimator traces it, `lad_tf.attacks.art`)."""
        logits = tf.cast(y_pred, tf.float32)
        hot = tf.one_hot(tf.argmax(y_true, axis=1), tf.shape(logits)[1]) > 0
        z_label = tf.reduce_sum(tf.where(hot, logits, 0.0), axis=1)
        z_other = tf.reduce_max(tf.where(hot, -np.inf, logits), axis=1)
        top = tf.sort(logits, axis=1, direction="DESCENDING")
        return -(z_label - z_other) / (top[:, 0] - top[:, 2] + 1e-12)


def target_order(logits: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """int [B, n]: per image, its n highest-scoring wrong classes, best first.

    Args:
        logits: float [B, K] clean logits; y: int [B] true labels; n <= K - 1.
    """
    scores = np.array(logits, "float64")
    scores[np.arange(len(y)), y] = -np.inf
    return np.argsort(-scores, axis=1, kind="stable")[:, :n]


def _check(num_classes, eps, eps_step, max_iter, n_target_classes):
    if num_classes < 3:
        raise LadError(f"apgd_t uses the DLR loss, which needs >= 3 classes; this model has "
                       f"{num_classes}. Use apgd (APGD-CE) for a binary model.")
    for key, value in (("max_iter", max_iter), ("n_target_classes", n_target_classes)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise LadError(f"apgd_t: {key} must be an integer >= 1. Received: {key}={value!r}")
    if not eps >= 0:
        raise LadError(f"apgd_t: eps must be >= 0. Received: eps={eps!r}")
    if eps_step is not None and not eps_step > 0:
        raise LadError(f"apgd_t: eps_step must be > 0 (or None: 2 * eps). "
                       f"Received: eps_step={eps_step!r}")


def apgd_t(model, x, y=None, num_classes: int = 10, eps: float = 0.3, max_iter: int = 100,
           n_target_classes: int = 9, eps_step: float | None = None, batch_size: int = 128,
           norm="inf"):
    """Untargeted APGD-T (L-inf, or L2 with norm=2): targeted APGD-DLR runs, one per likely wrong class.

    Args:
        model: callable images -> logits [B, K], K >= 3.
        x: float32 [B, H, W, C] in [0, 1].
        y: optional int [B] true labels (else the model's predictions).
        num_classes: K.
        eps: the budget in `norm`; 0 returns x unchanged.
        max_iter: APGD steps per target class (AutoAttack: 100).
        n_target_classes: target classes tried per image, the top-scoring wrong
            ones of the clean logits; capped at K - 1 (AutoAttack: 9).
        eps_step: APGD's initial step; None: 2 * eps, as AutoAttack.
        batch_size: images per ART batch.
        norm: "inf" or 2 (`lad_tf.attacks.norms`).
    Returns: float32 [B, H, W, C] in [0, 1]: per image the first run's example
        that is misclassified, else the last run's.

    Raises:
        LadError: K < 3 (DLR needs a third logit), or a bad parameter.
    """
    # lazy: ART takes ~1 s to import, and only its attacks need it
    from art.attacks.evasion import AutoProjectedGradientDescent

    _check(num_classes, eps, eps_step, max_iter, n_target_classes)
    norm = resolve_norm(norm, "apgd_t")
    x = np.asarray(x, "float32")
    if eps == 0 or len(x) == 0:  # ART rejects eps 0; no budget is no attack
        return x.copy()
    classifier = art_classifier(model, x.shape[1:], num_classes, loss_object=TargetedDLR())
    logits = classifier.predict(x, batch_size=batch_size)
    y = logits.argmax(1) if y is None else np.asarray(y)
    targets = target_order(logits, y, min(int(n_target_classes), num_classes - 1))
    # ART accepts only Python int/float (a NumPy float32 eps fails its check).
    eps = float(eps)
    attack = AutoProjectedGradientDescent(
        classifier, norm=norm, eps=eps, eps_step=float(2 * eps if eps_step is None else eps_step),
        max_iter=int(max_iter), targeted=True, nb_random_init=1, batch_size=batch_size,
        loss_type=None, verbose=False)
    x_adv = x.copy()
    fooled = predict_labels(logits) != y  # AutoAttack keeps these as they are
    for k in range(targets.shape[1]):
        todo = np.flatnonzero(~fooled)
        if len(todo) == 0:
            break
        tried = attack.generate(x[todo], y=one_hot(targets[todo, k], num_classes))
        x_adv[todo] = tried
        fooled[todo] = predict_labels(classifier.predict(tried, batch_size=batch_size)) != y[todo]
    return x_adv
