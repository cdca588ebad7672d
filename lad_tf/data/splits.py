"""Shared split and normalisation logic for every dataset.

A per-dataset loader returns a `RawData` (images and labels as the source
stores them); `make_splits` turns it into a `DatasetSplits`: images scaled to
float32 in [0, 1] with a channel axis, a seeded stratified test split when the
source has no official one, and a seeded stratified "provider" split of the
training data.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np
import tensorflow as tf

from lad_tf.data.image_files import ImageFiles
from lad_tf.utils.errors import LadError

SPLITS: tuple[str, ...] = ("train", "validation", "provider", "test")

# The test split of sources without an official one is fixed (independent of
# the provider seed), so reported accuracy always uses the same images.
TEST_SPLIT_SEED = 0


@dataclasses.dataclass(frozen=True)
class RawData:
    """What a per-dataset loader returns, before splitting and scaling.

    Attributes:
        source: Human-readable origin, e.g. "tfds:mnist" or "file:/x/mnist.npz".
        num_classes: Number of classes K; labels are in 0..K-1.
        x_train: Training images, uint8 [N, H, W] or [N, H, W, C] in 0..255, or
            floating point in [0, 1].
        y_train: Integer labels [N].
        x_test: Official test images (same layout), or None if the source has
            no test split; then `test_fraction` of the training data is held out.
        y_test: Integer labels [M], or None.
        test_fraction: Fraction of the training data used as the test split when
            `x_test` is None.
    """

    source: str
    num_classes: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: Optional[np.ndarray] = None
    y_test: Optional[np.ndarray] = None
    test_fraction: float = 0.2


@dataclasses.dataclass(frozen=True, eq=False)
class DatasetSplits:
    """A dataset split into train / provider / test parts, ready for training.

    Every split is held in memory as arrays, except the training split of a
    folder of image files (`lad_tf.data.own_data`): then `train_files` reads
    it from disk batch by batch, `x_train` is None, and `dataset("train")` /
    `examples("train")` stream it (`streamed` is True).

    Attributes:
        name: Registered dataset name, e.g. "mnist".
        source: Human-readable origin, e.g. "tfds:mnist", "file:/x/mnist.npz".
        image_shape: (H, W, C) of every image, e.g. (28, 28, 1).
        num_classes: Number of classes K; labels are in 0..K-1.
        x_train: float32 [N, H, W, C] in [0, 1]; the classifier and generator
            are trained on it.
        y_train: int64 [N].
        x_provider: float32 [P, H, W, C] in [0, 1]; held-out part of the
            training data that LAD generation draws from.
        y_provider: int64 [P].
        x_test: float32 [M, H, W, C] in [0, 1]; the official test set, only
            for reported accuracy.
        y_test: int64 [M].
        provider_fraction: Fraction of the training data in the provider part.
        seed: Seed of the provider split.
        x_validation: float32 [V, H, W, C] in [0, 1]; a held-out part of the
            training data (disjoint from train, provider and test) on which
            defences select checkpoints and recipes; empty (V = 0) when the
            recipe asks for none.
        y_validation: int64 [V].
        validation_fraction: Fraction of the non-provider training data in
            the validation part (0: none).
        train_files: `ImageFiles` of the training split when it streams from
            disk (then `x_train` is None), else None.
        class_names: Name of each class 0..K-1 when the data names them
            (e.g. the sub-folders of an image folder), else ().
    """

    name: str
    source: str
    image_shape: tuple[int, int, int]
    num_classes: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_provider: np.ndarray
    y_provider: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    provider_fraction: float = 1 / 6
    seed: int = 0
    x_validation: Optional[np.ndarray] = None
    y_validation: Optional[np.ndarray] = None
    validation_fraction: float = 0.0
    train_files: Optional[ImageFiles] = None
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.x_validation is None:  # no validation split: an empty one
            object.__setattr__(self, "x_validation", self.x_test[:0])
            object.__setattr__(self, "y_validation", self.y_test[:0])
        if self.streamed:
            files = self.train_files
            if self.x_train is not None or not np.array_equal(files.labels, self.y_train):
                raise ValueError("a streamed training split has x_train None and y_train equal "
                                 "to train_files.labels")
            if tuple(files.image_shape) != tuple(self.image_shape):
                raise ValueError(f"train_files make {files.image_shape} images, not "
                                 f"{self.image_shape}")
        for split in SPLITS:
            if split == "train" and self.streamed:
                continue
            x, y = self.arrays(split)
            if x.dtype != np.float32 or y.dtype != np.int64:
                raise ValueError(f"{split}: want float32 images and int64 labels, "
                                 f"got {x.dtype} and {y.dtype}")
            if x.shape[1:] != tuple(self.image_shape) or y.shape != (len(x),):
                raise ValueError(f"{split}: images {x.shape} / labels {y.shape} do "
                                 f"not match image_shape {self.image_shape}")

    @property
    def streamed(self) -> bool:
        """True when the training split is read from image files, batch by batch."""
        return self.train_files is not None

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Returns (images float32 [N, H, W, C] in [0, 1], labels int64 [N]).

        Args:
            split: One of "train", "validation", "provider", "test".

        Raises:
            ValueError: `split` is not one of those, or it is the streamed
                training split (use `dataset` or `examples`).
        """
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid splits: {list(SPLITS)}")
        if split == "train" and self.streamed:
            raise ValueError(f"the training split of {self.source} streams from its files and "
                             "is never held in memory; use dataset('train', ...) or "
                             "examples('train', ...)")
        return getattr(self, f"x_{split}"), getattr(self, f"y_{split}")

    def examples(self, split: str, shuffle: bool = False, seed: int = 0,
                 buffer: Optional[int] = None) -> tf.data.Dataset:
        """Unbatched (image float32 [H, W, C] in [0, 1], label int64) pairs of one split.

        Args:
            split: One of `SPLITS`.
            shuffle: Reshuffle the order every epoch (seeded by `seed`).
            seed: Shuffle seed.
            buffer: Shuffle buffer of an in-memory split (default: the whole
                split); a streamed split shuffles all its file names.
        """
        if split == "train" and self.streamed:
            return self.train_files.examples(shuffle=shuffle, seed=seed)
        x, y = self.arrays(split)
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            ds = ds.shuffle(buffer or len(y), seed=seed)
        return ds

    def dataset(self, split: str, batch_size: int, shuffle: bool = False,
                seed: int = 0) -> tf.data.Dataset:
        """A batched, prefetched `tf.data.Dataset` of one split.

        Args:
            split: One of "train", "provider", "test".
            batch_size: Images per batch (>= 1); the last batch may be smaller.
            shuffle: Reshuffle the order every epoch (seeded by `seed`).
            seed: Shuffle seed.

        Returns:
            Dataset of (images float32 [B, H, W, C] in [0, 1], labels int64 [B]).

        Raises:
            ValueError: Unknown split or batch_size < 1.
        """
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if split == "train" and self.streamed:
            return self.train_files.dataset(batch_size, shuffle=shuffle, seed=seed)
        x, y = self.arrays(split)
        images, labels = tf.constant(x), tf.constant(y)
        index = tf.data.Dataset.range(len(y))
        if shuffle:
            index = index.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
        ds = index.batch(int(batch_size)).map(
            lambda i: (tf.gather(images, i), tf.gather(labels, i)),
            num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    def summary(self) -> dict:
        """JSON-serialisable description: source, shape and per-class counts.

        Returns:
            {"name", "source", "image_shape", "num_classes", "provider_fraction",
             "seed", "splits": {split: {"count": n, "per_class": [n_0, ...]}},
             and "class_names" / "streamed" (["train"]) where they apply}.
        """
        splits = {}
        for split in SPLITS:
            y = getattr(self, f"y_{split}")
            per_class = np.bincount(y, minlength=self.num_classes)
            splits[split] = {"count": int(len(y)), "per_class": [int(c) for c in per_class]}
        return {"name": self.name, "source": self.source,
                "image_shape": [int(d) for d in self.image_shape],
                "num_classes": int(self.num_classes),
                "provider_fraction": float(self.provider_fraction), "seed": int(self.seed),
                "validation_fraction": float(self.validation_fraction),
                "splits": splits,
                **({"class_names": list(self.class_names)} if self.class_names else {}),
                **({"streamed": ["train"]} if self.streamed else {})}


def check_fraction(value: float, what: str, flag: str) -> float:
    """Returns `value` as float if it lies in (0, 1), else raises LadError."""
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not 0.0 < value < 1.0:
        raise LadError(f"{what} must be a number in (0, 1), got {value!r}; "
                       f"pass e.g. {flag} 0.1667")
    return float(value)


def stratified_split(labels: np.ndarray, fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of indices into a kept part and a held-out part.

    The held-out part has round(N * fraction) items; each class contributes
    floor or ceil of its proportional share (largest remainders get the ceil,
    ties broken by class order), so per-class counts are within 1 of
    `fraction * class_count`. Deterministic for a given seed.

    Args:
        labels: Integer labels [N].
        fraction: Held-out fraction in (0, 1).
        seed: Seed of `np.random.default_rng`.

    Returns:
        (kept, held): sorted int64 index arrays that partition range(N).
    """
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * fraction
    take = np.floor(quota).astype(np.int64)
    extra = int(round(len(labels) * fraction)) - int(take.sum())
    take[np.argsort(-(quota - take), kind="stable")[:extra]] += 1
    rng = np.random.default_rng(seed)
    held = [rng.permutation(np.flatnonzero(labels == c))[:k]
            for c, k in zip(classes, take)]
    held_idx = np.sort(np.concatenate(held + [np.zeros(0, np.int64)])).astype(np.int64)
    keep = np.ones(len(labels), dtype=bool)
    keep[held_idx] = False
    return np.flatnonzero(keep).astype(np.int64), held_idx


def to_unit_float(images: np.ndarray, where: str) -> np.ndarray:
    """Scales images to float32 [N, H, W, C] in [0, 1].

    Args:
        images: uint8 [N, H, W] or [N, H, W, C] in 0..255, or floating point in
            [0, 1] (values within 1e-4 outside are clipped).
        where: Name of the origin, for error messages.

    Raises:
        LadError: Unsupported dtype or values outside [0, 1].
    """
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.dtype == np.uint8:
        out = images.astype(np.float32)
        out /= np.float32(255.0)
        return out
    if np.issubdtype(images.dtype, np.floating):
        out = images.astype(np.float32)
        if out.size and (out.min() < -1e-4 or out.max() > 1 + 1e-4):
            raise LadError(f"{where}: float images outside [0, 1] "
                           f"({out.min()}..{out.max()}); store uint8 or scale to [0, 1]")
        return np.clip(out, 0.0, 1.0, out=out)
    raise LadError(f"{where}: unsupported image dtype {images.dtype}; store uint8 "
                   f"0..255 or float in [0, 1]")


def split_indices(name: str, labels: np.ndarray, provider_fraction: float = 1 / 6,
                  seed: int = 0, validation_fraction: float = 0.0,
                  test_fraction: Optional[float] = None,
                  test_labels: Optional[np.ndarray] = None) -> dict[str, np.ndarray]:
    """The project's split rule, as index arrays into `labels`.

    `make_splits` applies it to images in memory, `own_data` to image files.

    Args:
        name: Dataset name, for error messages.
        labels: Integer labels [N] of the training data (all of it).
        provider_fraction: Fraction in (0, 1) of the training data (after any
            test hold-out) held out, stratified, as the provider split.
        seed: Seed of the provider split (the validation split uses seed + 1).
        validation_fraction: Fraction in [0, 1) of the remaining training
            data held out as the validation split; 0: none.
        test_fraction: When the source has no test split: the fraction of
            `labels` held out (stratified, seed `TEST_SPLIT_SEED`) as the test
            split; None: the source has its own test split.
        test_labels: The source's own test labels [M] (only to check that no
            split is empty), or None.

    Returns:
        {"train", "validation", "provider"} and, with `test_fraction`, "test":
        sorted int64 indices into `labels`, disjoint.

    Raises:
        LadError: Bad fraction or seed, or an empty split.
    """
    provider_fraction = check_fraction(provider_fraction, "provider_fraction",
                                       "--provider-fraction")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise LadError(f"seed must be a non-negative integer, got {seed!r}; pass e.g. --seed 0")
    labels = np.asarray(labels)
    rest, out = np.arange(len(labels), dtype=np.int64), {}
    if test_fraction is not None:
        rest, out["test"] = stratified_split(labels, test_fraction, TEST_SPLIT_SEED)
    train, provider = stratified_split(labels[rest], provider_fraction, seed)
    validation = train[:0]
    if validation_fraction:
        validation_fraction = check_fraction(validation_fraction, "validation_fraction",
                                             "--set data.validation_fraction=")
        keep, held = stratified_split(labels[rest][train], validation_fraction, seed + 1)
        train, validation = train[keep], train[held]
    test_count = len(out["test"]) if test_fraction is not None else len(test_labels)
    if len(train) == 0 or len(provider) == 0 or test_count == 0:
        raise LadError(f"{name}: provider_fraction={provider_fraction} leaves an empty split "
                       f"of {len(rest)} training images; pass a --provider-fraction "
                       f"nearer 0.5")
    out.update(train=rest[train], validation=rest[validation], provider=rest[provider])
    return out


def make_splits(name: str, raw: RawData, provider_fraction: float = 1 / 6,
                seed: int = 0, validation_fraction: float = 0.0) -> DatasetSplits:
    """Scales `raw` and splits it into train / validation / provider / test
    (`split_indices`).

    Args:
        name: Registered dataset name.
        raw: Loader output.
        provider_fraction: Fraction of the training data held out as the
            provider split, in (0, 1).
        seed: Seed of the provider split.
        validation_fraction: Fraction in [0, 1) of the remaining training data
            held out (stratified, seed + 1) as the validation split; 0: none.
            The provider split does not depend on it.

    Returns:
        The `DatasetSplits`.

    Raises:
        LadError: Bad fraction, mismatched shapes or labels, or an empty split.
    """
    provider_fraction = check_fraction(provider_fraction, "provider_fraction",
                                       "--provider-fraction")
    x_all = to_unit_float(np.asarray(raw.x_train), raw.source)
    y_all = np.asarray(raw.y_train).astype(np.int64).reshape(-1)
    x_test = None if raw.x_test is None else to_unit_float(np.asarray(raw.x_test), raw.source)
    y_test = None if raw.y_test is None else np.asarray(raw.y_test).astype(np.int64).reshape(-1)
    for part, x, y in (("training", x_all, y_all), ("test", x_test, y_test)):
        if x is None:
            continue
        if len(x) != len(y) or x.shape[1:] != x_all.shape[1:]:
            raise LadError(f"{raw.source}: {part} images {x.shape} and labels {y.shape} "
                           f"do not match; re-create the data or point --data-dir elsewhere")
        if len(y) and (y.min() < 0 or y.max() >= raw.num_classes):
            raise LadError(f"{raw.source}: {part} labels outside 0..{raw.num_classes - 1}; "
                           f"re-create the data or point --data-dir elsewhere")
    index = split_indices(name, y_all, provider_fraction, seed, validation_fraction,
                          test_fraction=raw.test_fraction if raw.x_test is None else None,
                          test_labels=y_test)
    if x_test is None:
        x_test, y_test = x_all[index["test"]], y_all[index["test"]]
    return DatasetSplits(
        name=name, source=raw.source, image_shape=tuple(int(d) for d in x_all.shape[1:]),
        num_classes=int(raw.num_classes),
        x_train=x_all[index["train"]], y_train=y_all[index["train"]],
        x_provider=x_all[index["provider"]], y_provider=y_all[index["provider"]],
        x_test=x_test, y_test=y_test, provider_fraction=provider_fraction, seed=int(seed),
        x_validation=x_all[index["validation"]], y_validation=y_all[index["validation"]],
        validation_fraction=float(validation_fraction))
