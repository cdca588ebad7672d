"""scikit-learn's bundled 8x8 digits, resized to 28x28: a demo needing no download."""

from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf

from lad_tf.data.splits import RawData

SOURCE = "scikit-learn digits (embedded demo, 8x8 resized to 28x28)"


def load_raw(data_dir: Optional[str] = None, use_tfds: Optional[bool] = None) -> RawData:
    """Loads the 1797 digits as float32 [1797, 28, 28, 1] in [0, 1], labels 0..9.

    The source has no test split, so 20% is held out (stratified, fixed seed)
    by the shared split logic. `data_dir` and `use_tfds` are ignored.
    """
    from sklearn.datasets import load_digits  # bundled with scikit-learn

    digits = load_digits()
    small = digits.images.astype(np.float32)[..., np.newaxis] / np.float32(16.0)
    big = tf.image.resize(small, (28, 28), method="bilinear").numpy()
    return RawData(source=SOURCE, num_classes=10, x_train=np.clip(big, 0.0, 1.0),
                   y_train=digits.target.astype(np.int64), test_fraction=0.2)
