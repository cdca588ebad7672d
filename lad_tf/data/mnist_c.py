"""The published MNIST-C (Mu & Gilmer 2019) from TFDS, where it is prepared.

TFDS publishes MNIST-C as `mnist_corrupted/<corruption>`, one config per
corruption, each with the 10,000 corrupted MNIST test images. Nothing here
downloads: a config is read only when `tfds build mnist_corrupted` has put
it in `$TFDS_DATA_DIR` (or tfds' default data dir) before. TFDS stores the
examples in its own shuffled order and keeps no index, so its images cannot
be paired with the clean test images one by one; callers judge a
class-balanced sample of TFDS' own test split instead.
"""

from __future__ import annotations

import numpy as np

from lad_tf.data.sources import tfds_data_dir, try_tfds

TFDS_NAME = "mnist_corrupted"


def load_published(corruptions, data_dir=None, force: bool = False):
    """({corruption: (images float32 [N, 28, 28, 1] in [0, 1], labels int64 [N])}, "")
    when every one of `corruptions` is prepared in TFDS, else (None, why not).

    Args:
        corruptions: MNIST-C corruption names (the TFDS config names).
        data_dir: the tfds data dir (default `$TFDS_DATA_DIR`, then tfds' own).
        force: a corruption that cannot be read is an error (LadError naming
            the `tfds build` command), not a fallback.
    """
    out = {}
    for name in corruptions:
        found, why = try_tfds(f"{TFDS_NAME}/{name}", ["test"], tfds_data_dir(data_dir),
                              True if force else None)
        if found is None:
            return None, why
        x, y = found[0]
        out[name] = (x.astype(np.float32) / 255.0, y)
    return out, ""


__all__ = ["TFDS_NAME", "load_published"]
