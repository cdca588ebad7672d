"""Numbers about one model on a set of images: accuracy, accuracy under an
attack, the size of a perturbation.

TensorFlow-light and free of the evaluation's machinery, so tests and
benchmarks can import `accuracy` without the evaluation package.
"""

from __future__ import annotations

import numpy as np

from lad_tf.utils.batching import predict, predict_labels


def accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    """Top-1 accuracy of a logits model on x float32 [N, H, W, C] in [0, 1].

    Args:
        y: int [N] true labels.

    Returns:
        the fraction of `x` whose predicted label equals `y`, in [0, 1].
    """
    return float(np.mean(predict(model, x, batch_size) == y))


def attack_accuracy(model, attack, x, y, batch_size: int, progress=None, **kwargs) -> float:
    """Accuracy on adversarial images crafted batch by batch against `model`.

    Args:
        attack: a function (model, x, y=..., **kwargs) -> x_adv.
        x: float32 [N, H, W, C] in [0, 1]; y: int [N] true labels.
        batch_size: images per attack call.
        progress: optional callable(done, total) called after each batch.
        **kwargs: the attack's parameters.

    Returns:
        the fraction of adversarial images still classified as `y`.
    """
    correct = 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        x_adv = attack(model, xb, y=yb, **kwargs)
        correct += int(np.sum(predict_labels(model(x_adv, training=False)) == yb))
        if progress:
            progress(min(start + batch_size, len(x)), len(x))
    return correct / max(len(x), 1)


def score_examples(model, x_adv: np.ndarray, y: np.ndarray, target: np.ndarray | None) -> dict:
    """{"accuracy", "examples"} of `model` on adversarial images, and
    "target_success" (the fraction predicted as `target`) for targeted ones."""
    pred = predict(model, x_adv)
    out = {"accuracy": float(np.mean(pred == y)), "examples": int(len(y))}
    if target is not None:
        out["target_success"] = float(np.mean(pred == target))
    return out


def perturbation_sizes(x: np.ndarray, x_adv: np.ndarray) -> dict:
    """{"mean_linf", "median_l2"} of x_adv - x over the images (0.0 for none)."""
    diff = np.asarray(x_adv) - np.asarray(x)
    diff = diff.reshape(len(diff), int(np.prod(diff.shape[1:])))  # -1 fails on 0 images
    if len(diff) == 0:
        return {"mean_linf": 0.0, "median_l2": 0.0}
    return {"mean_linf": float(np.abs(diff).max(axis=1).mean()),
            "median_l2": float(np.median(np.sqrt((diff ** 2).sum(axis=1))))}


def spread(images: np.ndarray) -> float:
    """Mean L2 distance between two different images of the set (float64)."""
    flat = images.reshape(len(images), -1).astype("float64")
    squared = (flat ** 2).sum(1)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None] - 2 * flat @ flat.T, 0))
    return float(distances.sum() / (len(flat) * (len(flat) - 1)))


def spread_ratio(images: np.ndarray, labels: np.ndarray, real_x: np.ndarray, real_y: np.ndarray,
                 per_class: int = 100) -> float:
    """Mean over classes of spread(generated images of the class) / spread(the
    first `per_class` real images of it): about 1 for samples as varied as
    real digits, far less for a generator collapsed to one image per class."""
    classes = np.unique(labels)
    return float(np.mean([spread(images[labels == c]) / spread(real_x[real_y == c][:per_class])
                          for c in classes]))
