"""Helpers of the tests that harden from an image folder (`--data`): real MNIST
digits written as PNG files into class sub-folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def mnist_digits(data_dir, per_class: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` real MNIST training digits of each class (from the
    `offset`-th on): uint8 [10 * per_class, 28, 28] and int64 labels."""
    with np.load(Path(data_dir) / "mnist" / "mnist.npz") as mnist:
        x, y = mnist["x_train"], mnist["y_train"]
    keep = np.concatenate([np.flatnonzero(y == k)[offset:offset + per_class] for k in range(10)])
    return x[keep], y[keep].astype(np.int64)


def write_png_folder(root: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """PNG files root/<label>/<i>.png of uint8 [N, H, W] grayscale images."""
    import tensorflow as tf

    for i, (image, label) in enumerate(zip(images, labels)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        tf.io.write_file(str(root / str(label) / f"{i:05d}.png"),
                         tf.io.encode_png(image[..., None]))
    return root
