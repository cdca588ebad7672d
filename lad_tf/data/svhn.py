"""SVHN cropped digits: prepared tfds `svhn_cropped`, else the official `.mat` files."""

from __future__ import annotations

from typing import Optional

import numpy as np

from lad_tf.data import sources
from lad_tf.data.splits import RawData

IMAGE_SHAPE = (32, 32, 3)
FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}


def read_mat(path: str, part: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Reads one official SVHN `.mat` file (MATLAB v5, as published).

    The file holds `X` uint8 [32, 32, 3, N] and `y` [N, 1] with labels 1..10,
    where 10 stands for the digit 0.

    Args:
        path: the `.mat` file.
        part: "train" or "test", for error messages.

    Returns:
        (images uint8 [N, 32, 32, 3], digit labels int64 [N] in 0..9).

    Raises:
        LadError: not a readable v5 `.mat` file, `X` or `y` missing, or
            arrays of the wrong shape, type or label range.
    """
    import scipy.io  # scipy comes with scikit-learn

    try:
        mat = scipy.io.loadmat(path)
    except NotImplementedError:  # scipy's answer to MATLAB v7.3 (HDF5) files
        raise sources.bad_file(path, "is a MATLAB v7.3 (HDF5) file; the official SVHN files "
                                      "are MATLAB v5, which this reader needs") from None
    except Exception as e:  # ValueError, MatReadError, OSError, zlib.error, ...
        problem = " ".join(str(e).split())[:160]
        raise sources.bad_file(path, f"is not a readable MATLAB .mat file "
                                      f"({type(e).__name__}: {problem})") from None
    missing = [k for k in ("X", "y") if k not in mat]
    if missing:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise sources.bad_file(path, f"is not an SVHN file: missing variables {missing} "
                                      f"(has {found}); SVHN files hold X [32, 32, 3, N] and "
                                      f"y [N, 1]")
    x, y = np.asarray(mat["X"]), np.asarray(mat["y"])
    if x.ndim != 4 or x.shape[:3] != IMAGE_SHAPE or x.dtype != np.uint8:
        raise sources.bad_file(path, f"{part} X is {x.dtype} {x.shape}, want uint8 "
                                      f"[32, 32, 3, N] (32x32 RGB images)")
    images = np.ascontiguousarray(np.transpose(x, (3, 0, 1, 2)))
    labels = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    if labels.ndim != 1 or not (np.issubdtype(labels.dtype, np.integer)
                                or np.array_equal(labels, np.round(labels))):
        raise sources.bad_file(path, f"{part} y is {y.dtype} {y.shape}, want integers [N, 1]")
    labels = labels.astype(np.int64)
    if len(labels) and (labels.min() < 1 or labels.max() > 10):
        raise sources.bad_file(path, f"{part} labels span {labels.min()}..{labels.max()}, want "
                                      f"1..10 (10 = digit 0)")
    labels[labels == 10] = 0
    sources.check_images_labels(path, part, images, labels, IMAGE_SHAPE, 10)
    return images, labels


def load_raw(data_dir: Optional[str] = None, use_tfds: Optional[bool] = None) -> RawData:
    """Loads SVHN as uint8 images [N, 32, 32, 3] and digit labels 0..9.

    Sources, in order: tfds "svhn_cropped" (train / test, download=False; only
    when `use_tfds` is True, or None and tfds has it prepared), then the
    official `train_32x32.mat` and `test_32x32.mat` in `data_dir`,
    `data_dir/svhn`, `$LAD_DATA_DIR/svhn` or `$LAD_DATA_DIR`. The "extra"
    set is not used (the paper trains on the 73,257 training digits).

    Raises:
        LadError: Forced tfds is not prepared, a file is missing or corrupt.
    """
    arrays, why_not_tfds = sources.try_tfds("svhn_cropped", ("train", "test"), data_dir,
                                            use_tfds)
    if arrays is not None:
        source = "tfds:svhn_cropped"
        (x_train, y_train), (x_test, y_test) = arrays
        for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
            sources.check_images_labels(source, part, x, y, IMAGE_SHAPE, 10)
    else:
        paths = {part: sources.find_file("svhn", name, data_dir, note=why_not_tfds)
                 for part, name in FILES.items()}
        source = f"file:{paths['train']} + {paths['test']}"
        x_train, y_train = read_mat(paths["train"], "train")
        x_test, y_test = read_mat(paths["test"], "test")
    return RawData(source=source, num_classes=10, x_train=x_train, y_train=y_train,
                   x_test=x_test, y_test=y_test)
