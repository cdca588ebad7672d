"""MNIST: prepared tfds data, else a Keras-layout `mnist.npz`."""

from __future__ import annotations

from typing import Optional

from lad_tf.data import sources
from lad_tf.data.splits import RawData

KERAS_CACHE = "~/.keras/datasets/mnist.npz"
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_raw(data_dir: Optional[str] = None, use_tfds: Optional[bool] = None) -> RawData:
    """Loads MNIST as uint8 images [N, 28, 28(, 1)] and labels 0..9.

    Sources, in order: tfds "mnist" with download=False (only when `use_tfds`
    is True, or None and tfds has it prepared), then `mnist.npz` (Keras
    layout) in `data_dir`, `data_dir/mnist`, `$LAD_DATA_DIR/mnist`,
    `$LAD_DATA_DIR`, `~/.keras/datasets`.

    Raises:
        LadError: Forced tfds is not prepared, no file is found, or the file
            is corrupt.
    """
    arrays, why_not_tfds = sources.try_tfds("mnist", ("train", "test"), data_dir, use_tfds)
    if arrays is not None:
        source = "tfds:mnist"
        (x_train, y_train), (x_test, y_test) = arrays
    else:
        path = sources.find_file("mnist", "mnist.npz", data_dir, extra=[KERAS_CACHE],
                                 note=why_not_tfds)
        source = f"file:{path}"
        x_train, y_train, x_test, y_test = sources.read_npz(path, _KEYS).values()
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        sources.check_images_labels(source, part, x, y, (28, 28), 10)
    return RawData(source=source, num_classes=10, x_train=x_train, y_train=y_train,
                   x_test=x_test, y_test=y_test)
