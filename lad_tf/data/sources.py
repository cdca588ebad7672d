"""Where dataset files are looked for, and how they are read, offline.

Shared by every per-dataset loader: the local-file search order
(`--data-dir`, then `$LAD_DATA_DIR`, then loader-specific caches), checked
reading of `.npz` files, and reading already-prepared tensorflow-datasets
data with `download=False` (never the network).
"""

from __future__ import annotations

import glob
import logging
import os
from typing import Callable, Iterable, Optional, Sequence

import numpy as np
import tensorflow as tf

from lad_tf.utils.errors import LadError

log = logging.getLogger(__name__)

ENV_DATA_DIR = "LAD_DATA_DIR"


def candidate_paths(name: str, filename: str, data_dir: Optional[str],
                    extra: Iterable[str] = ()) -> list[str]:
    """Places searched for a dataset file, in order, without duplicates.

    Order: `data_dir/filename`, `data_dir/name/filename`,
    `$LAD_DATA_DIR/name/filename`, `$LAD_DATA_DIR/filename`, then `extra`
    (with `~` expanded).
    """
    paths: list[str] = []
    if data_dir:
        paths += [os.path.join(data_dir, filename), os.path.join(data_dir, name, filename)]
    env_dir = os.environ.get(ENV_DATA_DIR)
    if env_dir:
        paths += [os.path.join(env_dir, name, filename), os.path.join(env_dir, filename)]
    paths += [os.path.expanduser(p) for p in extra]
    unique = [os.path.abspath(os.path.expanduser(p)) for p in paths]
    return list(dict.fromkeys(unique))


def find_file(name: str, filename: str, data_dir: Optional[str],
              extra: Iterable[str] = (), note: str = "") -> str:
    """Returns the first existing candidate path (see `candidate_paths`).

    Args:
        name: Dataset name (sub-folder of a data dir).
        filename: File to find, e.g. "mnist.npz".
        data_dir: The user's `--data-dir`, or None.
        extra: Further paths searched last, e.g. "~/.keras/datasets/mnist.npz".
        note: Appended to the error message, e.g. why tfds was not used.

    Raises:
        LadError: No candidate exists; the message lists them and the fix.
    """
    paths = candidate_paths(name, filename, data_dir, extra)
    for path in paths:
        if os.path.isfile(path):
            return path
    note = f" ({note})" if note else ""
    raise LadError(f"no {filename} found in {paths}{note}; pass --data-dir DIR holding "
                   f"{filename} or set {ENV_DATA_DIR} to a folder with {name}/{filename}")


def bad_file(path: str, problem: str) -> LadError:
    """The error for a corrupt or wrong data file: names it, the problem and the fix."""
    return LadError(f"{path}: {problem}; re-download it or point --data-dir / "
                    f"{ENV_DATA_DIR} elsewhere")


def read_npz(path: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
    """Reads the arrays `keys` of an `.npz` file, without pickle.

    Raises:
        LadError: Not a readable npz (garbage, truncated, pickled) or a key is
            missing; the message names the file and the fix.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise bad_file(path, f"missing arrays {missing} (has {sorted(npz.files)})")
            return {k: np.asarray(npz[k]) for k in keys}
    except LadError:
        raise
    except AttributeError:  # np.load returned a plain array: an .npy, not an .npz
        raise bad_file(path, "is a single .npy array, not an .npz archive") from None
    except Exception as e:  # BadZipFile, zlib.error, EOFError, ValueError, OSError, ...
        problem = " ".join(str(e).split())[:160]
        raise bad_file(path, f"is not a readable .npz archive "
                              f"({type(e).__name__}: {problem})") from None


def check_images_labels(path: str, part: str, x: np.ndarray, y: np.ndarray,
                        image_shape: tuple[int, ...], num_classes: int) -> None:
    """Checks uint8 images [N, *image_shape] against integer labels [N] in 0..K-1.

    `image_shape` is (H, W) or (H, W, C); a trailing channel axis of size 1 on
    the images is accepted for (H, W). Raises LadError naming `path` and `part`.
    """
    shape = tuple(x.shape[1:])
    if shape not in (tuple(image_shape), tuple(image_shape) + (1,)) or x.dtype != np.uint8:
        raise bad_file(path, f"{part} images are {x.dtype} {x.shape}, want uint8 "
                              f"[N, {', '.join(map(str, image_shape))}]")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise bad_file(path, f"{part} labels are {y.dtype} {y.shape}, want integers [N]")
    if len(y) != len(x):
        raise bad_file(path, f"{part} has {len(x)} images but {len(y)} labels")
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise bad_file(path, f"{part} labels span {y.min()}..{y.max()}, "
                              f"want 0..{num_classes - 1}")


def tfds_data_dir(data_dir: Optional[str]) -> Optional[str]:
    """The tfds data dir: `data_dir`, else `$TFDS_DATA_DIR` (read now), else None.

    tfds reads `$TFDS_DATA_DIR` only once, at import; reading it here makes a
    later change (e.g. in tests) take effect.
    """
    return data_dir or os.environ.get("TFDS_DATA_DIR") or None


def load_tfds(tfds_name: str, splits: Sequence[str], data_dir: Optional[str],
              preprocess: Optional[Callable] = None,
              limit: Optional[int] = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Reads prepared tfds splits as numpy, never downloading.

    Args:
        tfds_name: tfds builder name, e.g. "mnist", "svhn_cropped".
        splits: Split names, e.g. ("train", "test").
        data_dir: tfds data dir, or None for tfds' default.
        preprocess: None for the builder's (image, label) supervised pair;
            else a function, traced by `tf.data`, from one example's feature
            dict to (image uint8 [H, W, C], label), e.g. to crop and resize
            big images before they are held in memory.
        limit: read at most this many examples per split (None: all).

    Returns:
        One (images uint8 [N, H, W, C], labels int64 [N]) pair per split.

    Raises:
        Whatever tfds raises; AssertionError when the data is not prepared.
    """
    import tensorflow_datasets as tfds  # lazy: slow to import, and optional

    loaded = tfds.load(tfds_name, split=list(splits), data_dir=data_dir, download=False,
                       as_supervised=preprocess is None)
    out = []
    for ds in loaded:
        if limit is not None:
            ds = ds.take(int(limit))
        if preprocess is not None:
            ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
        # Not batch_size=-1: with unknown split sizes (e.g. under
        # tfds.testing.mock_data) tfds batches by sys.maxsize and aborts the process.
        batches = list(tfds.as_numpy(ds.batch(8192)))
        if not batches:
            raise ValueError(f"tfds {tfds_name} has an empty split")
        out.append((np.concatenate([x for x, _ in batches]),
                    np.concatenate([y for _, y in batches]).astype(np.int64)))
    return out


def try_tfds(tfds_name: str, splits: Sequence[str], data_dir: Optional[str],
             use_tfds: Optional[bool],
             **options) -> tuple[Optional[list[tuple[np.ndarray, np.ndarray]]], str]:
    """Loads tfds data according to the `use_tfds` policy.

    Args:
        tfds_name: tfds builder name.
        splits: Split names.
        data_dir: The user's data dir (see `tfds_data_dir`).
        **options: `preprocess` and `limit` of `load_tfds`.
        use_tfds: False: skip tfds. None: try it if a prepared copy seems to
            exist (`dataset_info.json` under `<dir>/<name>`), return (None,
            reason) on any failure (not prepared, broken, tfds missing).
            True: always try it; failure -> LadError.

    Returns:
        (arrays per split or None, reason tfds was not used or "").
    """
    if use_tfds is False:
        return None, "tfds not requested"
    directory = tfds_data_dir(data_dir)
    where = directory or "tfds' default data dir"
    if use_tfds is None:
        # Cheap pre-check: skip importing tfds when it cannot have the data (a
        # prepared dataset has <dir>/<name>/[<config>/]<version>/dataset_info.json).
        root = os.path.join(directory or os.path.expanduser("~/tensorflow_datasets"), tfds_name)
        if not (glob.glob(os.path.join(root, "*", "dataset_info.json"))
                or glob.glob(os.path.join(root, "*", "*", "dataset_info.json"))):
            return None, f"tfds has no prepared {tfds_name!r} in {os.path.dirname(root)}"
    try:
        return load_tfds(tfds_name, splits, directory, **options), ""
    except Exception as e:
        reason = " ".join(str(e).split())[:200] or type(e).__name__
        if use_tfds:
            raise LadError(f"tfds could not load prepared {tfds_name!r} from {where} "
                           f"without downloading ({type(e).__name__}: {reason}); run "
                           f"`tfds build {tfds_name} --data_dir DIR` where there is internet "
                           f"and pass --data-dir DIR (or TFDS_DATA_DIR), or do not force "
                           f"tfds so local files are used") from None
        log.info("tfds %s not used (%s); falling back to local files", tfds_name, reason)
        return None, f"tfds could not read {tfds_name!r} from {where}"
