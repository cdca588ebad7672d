"""Target selection: which classes each source class is moved toward (`svm.targets`).

The paper generates along every ordered (source s, target t) pair and fits one
attention SVM per ordered pair: K (K - 1) SVMs, 9,900 for 100 classes, each
with a D x D attention kernel (1 MB at D = 500, about 4 MB with Adam's slots and
the gradient). With many classes most of those pairs are far apart and their
boundaries teach little; `svm.targets` keeps only each class's k nearest.

    all      every ordered pair, one SVM per ordered pair (the paper; the two
             directions of a pair are fitted separately, as the authors did).
             A binary task fits its one pair (0, 1) and uses it both ways.
    nearest  each source s gets the `svm.k` classes nearest to it as targets,
             by `svm.nearest_by`:
               mean_distance  Euclidean distance between the class means of the
                              latents z = phi(x) of the provider split;
               confusion      how often the model predicts t for provider images
                              of class s (the provider split is the held-out part
                              of the training data; the test split is never
                              read); ties by the mean probability the model gives
                              t on those images.
             Remaining ties go to the smaller class index, so the choice is
             deterministic.
    auto     nearest above `AUTO_NEAREST_ABOVE` (20) classes, all otherwise (the
             default: every recipe of the zoo keeps the paper's pairs).

How k-nearest meets the one-SVM-both-ways economy: the SVM of (s, t) and the
SVM of (t, s) solve the same problem (the loss is unchanged when w, b and the
labels change sign, and the attention does not see the labels), so `nearest`
fits one SVM per unordered pair {s, t} that either direction needs, oriented
(min, max), and `attention_svm.svm_for_pairs` serves the other direction with
w and b negated, as it does for a binary task. The nearness relation is not
symmetric (t may be among s's nearest while s is not among t's), so the
generation pairs are exactly the K k chosen (s, t), and the fitted SVMs number
between K k / 2 (every choice mutual) and K k (none mutual).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from lad_tf.lad.attention_svm import (
    AttentionSVM,
    ordered_pairs,
    svm_for_pairs,
    svm_pairs,
)
from lad_tf.utils.errors import LadError

AUTO_NEAREST_ABOVE = 20  # `auto` turns `nearest` on above this many classes


@dataclasses.dataclass(frozen=True)
class TargetChoice:
    """The pairs a run generates along and the pairs it fits SVMs for.

    Attributes:
        mode: "all" or "nearest" (`auto` resolved).
        pairs: ordered (source, target) pairs that generation moves along.
        svm_pairs: the pairs with a fitted SVM; every pair of `pairs` is one of
            them or its reverse (`svm_for_pairs`).
        measure: `svm.nearest_by` for "nearest", else None.
        k: targets per source class for "nearest", else None.
        nearest: for "nearest", {source: [targets, nearest first]}.
    """

    mode: str
    pairs: list
    svm_pairs: list
    measure: str | None = None
    k: int | None = None
    nearest: dict | None = None

    def to_dict(self) -> dict:
        return {"mode": self.mode, "measure": self.measure, "k": self.k,
                "pairs": [list(p) for p in self.pairs],
                "svm_pairs": [list(p) for p in self.svm_pairs],
                "nearest": None if self.nearest is None
                else {str(s): list(t) for s, t in self.nearest.items()}}

    def generation_svm(self, svm: AttentionSVM) -> AttentionSVM:
        """The SVM of every pair of `pairs`, from `svm` fitted for `svm_pairs`
        (a reversed pair uses its fitted SVM negated, `svm_for_pairs`)."""
        return svm_for_pairs(svm, self.svm_pairs, self.pairs)

    @classmethod
    def from_dict(cls, raw: dict) -> "TargetChoice":
        to_pairs = lambda rows: [tuple(int(c) for c in p) for p in rows]  # noqa: E731
        nearest = raw.get("nearest")
        return cls(raw["mode"], to_pairs(raw["pairs"]), to_pairs(raw["svm_pairs"]),
                   raw.get("measure"), raw.get("k"),
                   None if nearest is None else {int(s): [int(t) for t in ts]
                                                 for s, ts in nearest.items()})


def resolve_mode(cfg, num_classes: int) -> str:
    """"all" or "nearest" for `cfg` (an `SVMConfig`) and K classes.

    Raises:
        LadError: "nearest" with svm.k >= K (a class has only K - 1 others).
    """
    K = max(int(num_classes), 2)
    mode = cfg.targets
    if mode == "auto":
        mode = "nearest" if K > AUTO_NEAREST_ABOVE else "all"
    if mode == "nearest" and not 1 <= cfg.k < K:
        raise LadError(f"invalid recipe: svm.k must be in [1, {K - 1}] for {K} classes (each "
                       f"class has {K - 1} others). Received: svm.k={cfg.k}; lower it with "
                       f"--set svm.k=N or use --set svm.targets=all")
    return mode


def _order(keys: list[np.ndarray], k: int) -> np.ndarray:
    """Per row, the k columns with the smallest keys (first key first, then the
    next, then the column index), the diagonal excluded: int [K, k]."""
    K = keys[0].shape[0]
    out = np.empty((K, k), "int64")
    for s in range(K):
        others = np.array([t for t in range(K) if t != s])
        # np.lexsort sorts by the last key first.
        order = np.lexsort([others] + [key[s, others] for key in reversed(keys)])
        out[s] = others[order[:k]]
    return out


def _present(labels: np.ndarray, num_classes: int, what: str):
    missing = [c for c in range(num_classes) if not np.any(labels == c)]
    if missing:
        raise LadError(f"svm.nearest_by={what} needs provider images of every class; classes "
                       f"{missing} have none. Use --set svm.targets=all")


def class_mean_distances(latents: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Euclidean distances between class means of the latents: float64 [K, K].

    Args:
        latents: float [N, D], z = phi(x); labels: int [N] in [0, K).
    """
    _present(labels, num_classes, "mean_distance")
    z = np.asarray(latents, "float64")
    means = np.stack([z[labels == c].mean(axis=0) for c in range(num_classes)])
    return np.sqrt(np.maximum(((means[:, None, :] - means[None, :, :]) ** 2).sum(-1), 0.0))


def confusions(logits: np.ndarray, labels: np.ndarray, num_classes: int):
    """The model's confusions: (counts int [K, K], mean probability float64 [K, K]).

    counts[s, t]: images of class s predicted t; probability[s, t]: the mean
    probability the model gives t on images of class s (softmax of K logits,
    or sigmoid of one logit for a two-class task).
    """
    _present(labels, num_classes, "confusion")
    logits = np.asarray(logits, "float64")
    if logits.shape[-1] == 1:
        p1 = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        probs = np.stack([1.0 - p1, p1], axis=1)
    else:
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
    predicted = probs.argmax(axis=1)
    counts = np.zeros((num_classes, num_classes), "int64")
    np.add.at(counts, (labels, predicted), 1)
    mean_prob = np.stack([probs[labels == c].mean(axis=0) for c in range(num_classes)])
    return counts, mean_prob


def nearest_by_mean_distance(latents, labels, num_classes: int, k: int) -> np.ndarray:
    """Each class's k classes with the nearest latent means: int [K, k], nearest first."""
    return _order([class_mean_distances(latents, labels, num_classes)], k)


def nearest_by_confusion(logits, labels, num_classes: int, k: int) -> np.ndarray:
    """Each class's k most confused classes: int [K, k], most confused first.

    Ranked by the count of images of s predicted t, then by the mean
    probability of t on s's images, then by class index.
    """
    counts, mean_prob = confusions(logits, labels, num_classes)
    return _order([-counts.astype("float64"), -mean_prob], k)


def unordered_svm_pairs(pairs) -> list[tuple[int, int]]:
    """One (min, max) pair per unordered pair {s, t} of `pairs`, sorted."""
    return sorted({(min(s, t), max(s, t)) for s, t in pairs})


def choose_targets(cfg, num_classes: int, latents=None, labels=None, logits=None) -> TargetChoice:
    """Resolves `svm.targets` for a run.

    Args:
        cfg: the recipe's `SVMConfig`.
        latents: float [N, D], phi(x) of the provider split (mean_distance).
        labels: int [N], their classes.
        logits: float [N, K or 1], the model's logits on them (confusion).
    """
    mode = resolve_mode(cfg, num_classes)
    if mode == "all":
        return TargetChoice("all", ordered_pairs(num_classes), svm_pairs(num_classes))
    K = max(int(num_classes), 2)
    labels = np.asarray(labels).astype("int64")
    if cfg.nearest_by == "mean_distance":
        chosen = nearest_by_mean_distance(latents, labels, K, cfg.k)
    else:
        chosen = nearest_by_confusion(logits, labels, K, cfg.k)
    pairs = [(s, int(t)) for s in range(K) for t in chosen[s]]
    return TargetChoice("nearest", pairs, unordered_svm_pairs(pairs), cfg.nearest_by, int(cfg.k),
                        {s: [int(t) for t in chosen[s]] for s in range(K)})


def run_targets(run_dir, num_classes: int) -> TargetChoice:
    """The target choice a run recorded in metrics/svm.json (runs from before
    `svm.targets` used every pair)."""
    path = Path(run_dir) / "metrics" / "svm.json"
    if path.is_file():
        recorded = json.loads(path.read_text()).get("targets")
        if recorded:
            return TargetChoice.from_dict(recorded)
    return TargetChoice("all", ordered_pairs(num_classes), svm_pairs(num_classes))


def run_generation_svm(run_dir, svm: AttentionSVM, num_classes: int):
    """The pair SVMs of a run, in one place for every reader of a run.

    Args:
        run_dir: the run directory (its metrics/svm.json records the targets).
        svm: the run's fitted SVMs (svm.keras).
        num_classes: the run's classes.

    Returns: (the run's `TargetChoice`, the `AttentionSVM` of every pair of
        its `pairs`, ready for `lad_tf.lad.boundary.generate`).
    """
    targets = run_targets(run_dir, num_classes)
    return targets, targets.generation_svm(svm)
