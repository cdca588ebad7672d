"""`ImageFiles`: labelled PNG / JPEG files read from disk through `tf.data`.

The training split of an image folder (`lad_tf.data.own_data`) is one: every
epoch reads, decodes and resizes its files batch by batch, so memory holds a
few batches of images (plus the file names and labels), never the split.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf


def decode_image(data: tf.Tensor, image_shape: tuple[int, int, int]) -> tf.Tensor:
    """Decodes one PNG / JPEG / BMP file's bytes to float32 [H, W, C] in [0, 1].

    The file's channels are converted to C (grayscale <-> RGB, alpha dropped)
    by the decoder, and its size is resized bilinearly to H x W (as
    `keras.utils.image_dataset_from_directory` does; no crop).

    Args:
        data: The file's bytes, a string scalar.
        image_shape: (H, W, C) wanted, C in {1, 3}.
    """
    height, width, channels = image_shape
    image = tf.io.decode_image(data, channels=channels, dtype=tf.float32,
                               expand_animations=False)
    # Bilinear resizing to the same size returns the pixels unchanged.
    image = tf.image.resize(image, (height, width), method="bilinear")
    image.set_shape((height, width, channels))
    return tf.clip_by_value(image, 0.0, 1.0)


@dataclasses.dataclass(frozen=True, eq=False)
class ImageFiles:
    """Image files with their labels, decoded on the fly.

    Attributes:
        paths: File paths [N], UTF-8 bytes (numpy "S" dtype: one byte per
            character, where str would take four).
        labels: int64 labels [N].
        image_shape: (H, W, C) every image is decoded and resized to.
    """

    paths: np.ndarray
    labels: np.ndarray
    image_shape: tuple[int, int, int]

    def __post_init__(self) -> None:
        if len(self.paths) != len(self.labels):
            raise ValueError(f"{len(self.paths)} paths but {len(self.labels)} labels")
        if self.labels.dtype != np.int64:
            raise ValueError(f"labels must be int64, got {self.labels.dtype}")

    def __len__(self) -> int:
        return len(self.labels)

    def examples(self, shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
        """Unbatched (image float32 [H, W, C] in [0, 1], label int64) pairs.

        Shuffling reorders the file names (a buffer of N strings), never the
        decoded images; files are then read and decoded in parallel, in that
        order (deterministic).
        """
        ds = tf.data.Dataset.from_tensor_slices((self.paths, self.labels))
        if shuffle:
            ds = ds.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        shape = tuple(self.image_shape)
        return ds.map(lambda path, label: (decode_image(tf.io.read_file(path), shape), label),
                      num_parallel_calls=tf.data.AUTOTUNE)

    def dataset(self, batch_size: int, shuffle: bool = False, seed: int = 0) -> tf.data.Dataset:
        """Batched, prefetched (images float32 [B, H, W, C], labels int64 [B])."""
        return self.examples(shuffle, seed).batch(int(batch_size)).prefetch(tf.data.AUTOTUNE)

    def read(self) -> np.ndarray:
        """All the images in memory: float32 [N, H, W, C] in [0, 1] (for small splits)."""
        out = np.zeros((len(self), *self.image_shape), np.float32)
        start = 0
        for images, _ in self.dataset(256):
            out[start:start + len(images)] = images.numpy()
            start += len(images)
        return out
