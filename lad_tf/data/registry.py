"""The dataset registry: name -> loader, and `load_dataset`.

To add a dataset (e.g. "svhn"), write `lad_tf/data/svhn.py` with a
`load_raw(data_dir, use_tfds) -> RawData` (use `sources` for file search,
npz/tfds reading) and add one line to `LOADERS`. Scaling, the test split (if
the source has none) and the provider split are shared (`splits.make_splits`).
"""

from __future__ import annotations

from typing import Callable, Optional

from lad_tf.data import digits, mnist
from lad_tf.data.splits import DatasetSplits, RawData, make_splits
from lad_tf.errors import LadError

Loader = Callable[[Optional[str], Optional[bool]], RawData]

LOADERS: dict[str, Loader] = {
    "digits": digits.load_raw,
    "mnist": mnist.load_raw,
}


def available_datasets() -> list[str]:
    """Registered dataset names, sorted."""
    return sorted(LOADERS)


def load_dataset(name: str, data_dir: Optional[str] = None, provider_fraction: float = 1 / 6,
                 seed: int = 0, use_tfds: Optional[bool] = None) -> DatasetSplits:
    """Loads a registered dataset and splits it into train / provider / test.

    Args:
        name: One of `available_datasets()` (case-insensitive).
        data_dir: Folder holding the dataset's files (also used as tfds data
            dir); None searches `$LAD_DATA_DIR` and the usual caches.
        provider_fraction: Fraction in (0, 1) of the training data held out,
            stratified, as the provider split (1/6: MNIST 50,000 / 10,000).
        seed: Seed of the provider split; same seed, same split.
        use_tfds: True: read prepared tfds data (never downloads), fail if
            absent. None: use tfds if prepared, else local files. False: local
            files only. Datasets without a tfds source ignore it.

    Returns:
        `DatasetSplits` with float32 [N, H, W, C] images in [0, 1], int64 labels.

    Raises:
        LadError: Unknown name, bad fraction or seed, missing or corrupt data.
    """
    key = str(name).strip().lower()
    if key not in LOADERS:
        raise LadError(f"unknown dataset {name!r}; choose one of {available_datasets()}")
    raw = LOADERS[key](data_dir, use_tfds)
    return make_splits(key, raw, provider_fraction=provider_fraction, seed=seed)
