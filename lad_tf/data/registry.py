"""The dataset registry: name -> loader, and `load_dataset`.

To add a dataset (e.g. "svhn"), write `lad_tf/data/svhn.py` with a
`load_raw(data_dir, use_tfds) -> RawData` (use `sources` for file search,
npz/tfds reading) and add one line to `LOADERS`. A loader that can resize
its images or read a subset also takes the keywords `image_size` and / or
`max_images` (see `celeba.py`). Scaling, the test split (if the source has
none) and the provider split are shared (`splits.make_splits`).
"""

from __future__ import annotations

import inspect
from typing import Callable, Optional

from lad_tf.data import celeba, digits, mnist, svhn
from lad_tf.data.splits import DatasetSplits, RawData, make_splits
from lad_tf.utils.errors import LadError

Loader = Callable[..., RawData]

LOADERS: dict[str, Loader] = {
    "celeba": celeba.load_raw,
    "digits": digits.load_raw,
    "mnist": mnist.load_raw,
    "svhn": svhn.load_raw,
}


def available_datasets() -> list[str]:
    """Registered dataset names, sorted."""
    return sorted(LOADERS)


def _check_shape(name: str, raw: RawData, image_size: Optional[int],
                 channels: Optional[int]) -> None:
    shape = tuple(raw.x_train.shape[1:]) + ((1,) if raw.x_train.ndim == 3 else ())
    (h, w, c), want = shape, (image_size or shape[0], image_size or shape[1], channels or shape[2])
    if (h, w, c) != want:
        raise LadError(f"{name} images are {h}x{w}x{c}, but the recipe is made for "
                       f"{want[0]}x{want[1]}x{want[2]} images (data.image_size / data.channels); "
                       f"use the recipe of this dataset (--dataset {name}) or point --data-dir "
                       f"at the data the recipe expects")


def load_dataset(name: str, data_dir: Optional[str] = None, provider_fraction: float = 1 / 6,
                 seed: int = 0, use_tfds: Optional[bool] = None,
                 image_size: Optional[int] = None, channels: Optional[int] = None,
                 max_images: Optional[int] = None,
                 validation_fraction: float = 0.0) -> DatasetSplits:
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
        image_size: Square image side the recipe needs. Datasets that resize
            (celeba) crop and resize to it; for the others it is checked.
            None: the dataset's own size.
        channels: Image channels the recipe needs (checked); None: any.
        max_images: Read at most this many images (datasets that support
            it, e.g. celeba); None: all.
        validation_fraction: Fraction of the non-provider training data held
            out as the validation split (defences select on it); 0: none.

    Returns:
        `DatasetSplits` with float32 [N, H, W, C] images in [0, 1], int64 labels.

    Raises:
        LadError: Unknown name, bad fraction or seed, missing or corrupt data,
            or images of another size or channel count than the recipe's.
    """
    key = str(name).strip().lower()
    if key not in LOADERS:
        raise LadError(f"unknown dataset {name!r}; choose one of {available_datasets()}")
    loader = LOADERS[key]
    accepts = inspect.signature(loader).parameters
    options = {k: v for k, v in (("image_size", image_size), ("max_images", max_images))
               if v is not None and k in accepts}
    if max_images is not None and "max_images" not in accepts:
        raise LadError(f"dataset {key!r} always loads all its images; remove data.max_images "
                       f"from the recipe")
    raw = loader(data_dir, use_tfds, **options)
    _check_shape(key, raw, image_size, channels)
    return make_splits(key, raw, provider_fraction=provider_fraction, seed=seed,
                       validation_fraction=validation_fraction)


def load_recipe_data(cfg, data_dir: Optional[str] = None) -> DatasetSplits:
    """`load_dataset` with every setting of a recipe's `data` section (`DataConfig`)."""
    return load_dataset(cfg.dataset, data_dir=data_dir, provider_fraction=cfg.provider_fraction,
                        seed=cfg.seed, use_tfds=cfg.use_tfds, image_size=cfg.image_size,
                        channels=cfg.channels, max_images=cfg.max_images,
                        validation_fraction=cfg.validation_fraction)
