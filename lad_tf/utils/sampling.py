"""Seeded, class-balanced samples for attacks (paper Sec. IV-D1).

Untargeted attacks use `per_class` images of every class; targeted ones use
`per_class` images of every class, each paired with every other class as its
target (50 x 10 x 9 = 4,500 examples on MNIST).
"""

from __future__ import annotations

import numpy as np


def balanced_subset(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of `per_class` examples of every class (fewer if a class is short)."""
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(chosen)).astype("int64")


def targeted_subset(labels: np.ndarray, per_class: int, num_classes: int,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(indices, targets): each chosen image once per target class other than its own.

    Args:
        labels: int [N] true labels.
        per_class: images per class.
        num_classes: number of classes (2 for a binary task).
    Returns: int [M] indices into `labels` and int [M] target classes, with
        M = per_class * num_classes * (num_classes - 1) when no class is short.
    """
    idx = balanced_subset(labels, per_class, seed)
    sources = np.repeat(idx, num_classes - 1)
    offsets = np.tile(np.arange(1, num_classes), len(idx))
    targets = (labels[sources] + offsets) % num_classes
    return sources, targets.astype("int64")
