"""Datasets for LAD: train / provider / test splits of images in [0, 1].

    >>> from lad_tf.data import load_dataset
    >>> splits = load_dataset("mnist", data_dir="/data")    # doctest: +SKIP
    >>> splits.dataset("train", batch_size=128, shuffle=True)  # doctest: +SKIP
"""

from lad_tf.data.registry import (
    LOADERS,
    available_datasets,
    load_dataset,
    load_recipe_data,
)
from lad_tf.data.splits import (
    SPLITS,
    DatasetSplits,
    RawData,
    make_splits,
    stratified_split,
)

__all__ = [
    "LOADERS",
    "SPLITS",
    "DatasetSplits",
    "RawData",
    "available_datasets",
    "load_dataset",
    "load_recipe_data",
    "make_splits",
    "stratified_split",
]
