"""`training_split_key`: what identifies the images a model was trained on, for cache keys."""

from __future__ import annotations

import hashlib

import numpy as np


def training_split_key(data) -> str:
    """A sha256 over what decides a `DatasetSplits`' training split: its
    dataset and source, image shape, the provider and validation fractions,
    the seed, the labels in order and (for a strided sample of the images, or
    the file paths of a streamed split) its images. Two splits that differ in
    one image's membership differ in their labels' or images' bytes."""
    digest = hashlib.sha256()
    for part in (data.name, data.source, tuple(data.image_shape), data.provider_fraction,
                 data.validation_fraction, data.seed, len(data.y_train)):
        digest.update(repr(part).encode())
    digest.update(np.ascontiguousarray(data.y_train).tobytes())
    if data.streamed:
        digest.update(np.ascontiguousarray(data.train_files.paths).tobytes())
    else:
        step = max(1, len(data.x_train) // 512)
        digest.update(np.ascontiguousarray(data.x_train[::step]).tobytes())
    return digest.hexdigest()
