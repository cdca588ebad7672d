"""Your own data (`--data PATH`): an image folder or an `.npz`, split as the zoo's.

Two layouts are read:

- A folder in the class-per-subfolder layout of
  `keras.utils.image_dataset_from_directory`: `PATH/<class name>/**/*.png`
  (PNG, JPEG or BMP, any size). Classes are the sub-folder names, sorted;
  class i is the i-th name. Images are decoded to the channels the model
  takes (grayscale <-> RGB, alpha dropped) and resized bilinearly to its
  input size. The folder has no test split: 20% of the images (stratified,
  fixed seed) are held out as the test split.
- An `.npz` with `x` / `y`, or `x_train` / `y_train` and optionally `x_test` /
  `y_test` (then kept as the test split): images uint8 [N, H, W(, C)] in
  0..255 or float in [0, 1], integer labels [N] in 0..K-1 (K = the largest
  label + 1). 1 and 3 channels are converted into each other; other sizes
  are resized.

What is in memory: a folder's training split is streamed, i.e. read from its
files batch by batch on every epoch (`ImageFiles`), so memory holds a few
batches; its validation, provider and test splits (together about 1/3 of
the images with the default fractions) are decoded into memory, because
generation, the SVMs and the evaluation index them at random. The file
names and labels of all images are in memory too (about 100 bytes each). An
`.npz` is read whole into memory (numpy cannot stream it): use a folder for
data larger than memory.

Before anything is trained, every image file is read and decoded once: an
unreadable or corrupt file stops the run with its name. That pass also
fingerprints the data (sha256 over each file's relative path and a hash of
its bytes), which the run records so that `--resume` refuses other data.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from lad_tf.data.image_files import ImageFiles
from lad_tf.data.registry import load_recipe_data
from lad_tf.data.splits import (
    DatasetSplits,
    RawData,
    make_splits,
    split_indices,
    to_unit_float,
)
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import file_sha256

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
# Images of a folder held out as the test split (it has no official one).
FOLDER_TEST_FRACTION = 0.2
LAYOUT = ("a folder with one sub-folder of PNG / JPEG images per class "
          "(PATH/cat/1.png, PATH/dog/2.png) or an .npz with arrays x and y")


def _quiet(log):
    return log or (lambda message: None)


def load_own_data(path, cfg, image_shape: Optional[tuple] = None,
                  log: Optional[Callable[[str], None]] = None) -> tuple[DatasetSplits, dict]:
    """Reads your data and splits it into train / validation / provider / test.

    Args:
        path: An image folder or an `.npz` file (see the module docstring).
        cfg: The recipe's `DataConfig`: provider / validation fractions and
            seed; its `image_size` / `channels`, when set, give the image
            shape if `image_shape` is None.
        image_shape: (H, W, C) your model takes, or None: the recipe's
            (`data.image_size`, `data.channels`), else the data's own (a
            folder's first image's size, the channels most images have).
        log: Progress output (conversions, counts).

    Returns:
        (splits, record): the `DatasetSplits` (a folder's training split
        streamed from its files) and what the run records about the source:
        {"path", "kind": "folder" | "npz", "files", "images", "fingerprint",
         "class_names", "image_shape"}.

    Raises:
        LadError: A missing path, a folder with fewer than two classes or no
            images, an unreadable image, an npz without the needed arrays
            or with mismatched lengths, or images whose channels the model
            cannot take; the message names the fix.
    """
    path = _source_path(path)
    if path.is_dir():
        return _load_folder(path, cfg, image_shape, _quiet(log))
    return _load_npz(path, cfg, image_shape, _quiet(log))


def _source_path(path) -> Path:
    """`path` resolved, if it is a folder or an .npz file (else LadError)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise LadError(f"--data {path} does not exist; pass {LAYOUT}")
    if not path.is_dir() and path.suffix.lower() != ".npz":
        raise LadError(f"--data {path} is neither a folder nor an .npz file; pass {LAYOUT}")
    return path.resolve()


def data_fingerprint(path) -> str:
    """The fingerprint that `load_own_data` records for `path` (data.json's
    "fingerprint"), from the files' bytes without decoding the images: what
    `harden --from-run` compares before the run reads the data.

    Raises:
        LadError: as `load_own_data`, for a path it cannot read.
    """
    path = _source_path(path)
    if not path.is_dir():
        return file_sha256(path)
    paths, _, _ = _scan(path)
    ds = (tf.data.Dataset.from_tensor_slices((tf.range(len(paths), dtype=tf.int64), paths))
          .map(lambda i, p: (i, _content_hash(tf.io.read_file(p))),
               num_parallel_calls=tf.data.AUTOTUNE).ignore_errors().batch(1024))
    hashes, ok = np.zeros((len(paths), 8), np.uint8), np.zeros(len(paths), bool)
    for index, digest in ds.as_numpy_iterator():
        hashes[index], ok[index] = digest, True
    if not ok.all():
        raise LadError(f"--data {path}: {paths[int(np.flatnonzero(~ok)[0])]} cannot be read; "
                       "fix its permissions or delete it")
    return _fingerprint(path, paths, hashes)


def describe_conversion(record: Optional[dict], image_shape) -> str:
    """How the images were made to fit the model, in words (data.json's "converted")."""
    shape = "x".join(str(int(d)) for d in image_shape)
    done = (record or {}).get("converted") or {}
    parts = []
    if done.get("from_sizes", [done.get("to_size")]) != [done.get("to_size")]:
        parts.append(f"resized from {', '.join(done['from_sizes'])} to {done['to_size']}")
    if done.get("from_channels", [done.get("to_channels")]) != [done.get("to_channels")]:
        parts.append(f"channels converted from {'/'.join(map(str, done['from_channels']))} "
                     f"to {done['to_channels']}")
    return (f"the images were {' and '.join(parts)}" if parts
            else f"the images were used as they are ({shape})")


def _converted(sizes, channels, shape) -> dict:
    """data.json's "converted": the images' own sizes and channels, and what they became."""
    return {"from_sizes": [f"{h}x{w}" for h, w in sorted(sizes)],
            "to_size": f"{shape[0]}x{shape[1]}", "from_channels": sorted(channels),
            "to_channels": int(shape[2])}


def check_same_source(recorded: dict, record: dict, run_dir) -> None:
    """On --resume: the data must be the run's (same fingerprint)."""
    if recorded.get("fingerprint") != record["fingerprint"]:
        raise LadError(f"{run_dir} was made from the data {recorded.get('path')} "
                       f"({recorded.get('images')} images, fingerprint "
                       f"{str(recorded.get('fingerprint'))[:12]}), but --data {record['path']} "
                       f"holds other data ({record['images']} images, fingerprint "
                       f"{record['fingerprint'][:12]}); resume with the run's data, or start a "
                       "new run with --run-dir NEW_DIR")


def load_run_data(run_dir, cfg, data_dir=None,
                  log: Optional[Callable[[str], None]] = None) -> DatasetSplits:
    """The data a finished run was made from, for commands that read a run
    (`python -m lad_tf.evaluate`, the study): the own data recorded in its
    data.json (checked to be unchanged), else the recipe's dataset.

    Raises:
        LadError: The recorded data is gone or has changed.
    """
    record_path = Path(run_dir) / "data.json"
    if not record_path.is_file():
        return load_recipe_data(cfg, data_dir)
    recorded = json.loads(record_path.read_text())
    splits, record = load_own_data(recorded["path"], cfg, tuple(recorded["image_shape"]), log)
    check_same_source(recorded, record, run_dir)
    return splits


# -- channels ------------------------------------------------------------------------------
def _target_channels(data_channels: int, image_shape, cfg) -> int:
    if image_shape is not None:
        return int(image_shape[2])
    return int(cfg.channels or data_channels)


def _channel_problem(have: int, want: int, what: str) -> LadError:
    return LadError(f"{what} have {have} channel(s), but the model takes {want}-channel images; "
                    f"LAD-TF converts only between 1 (grayscale) and 3 (RGB) channels: pass "
                    f"{want}-channel images, or a model (or recipe data.channels) for "
                    f"{have}-channel images")


# -- an image folder -------------------------------------------------------------------------
def _scan(root: Path) -> tuple[list[str], np.ndarray, list[str]]:
    """(file paths, int64 labels, class names) of a class-per-subfolder folder."""
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    paths, labels = [], []
    for k, name in enumerate(classes):
        files = sorted(str(p) for p in (root / name).rglob("*")
                       if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise LadError(f"class folder {root / name} holds no PNG / JPEG images; add its "
                           "images or remove the folder")
        paths += files
        labels += [k] * len(files)
    if len(classes) < 2:
        found = (f"one class ({classes[0]!r})" if classes else
                 "no class sub-folders" + (" (image files lie directly in it)"
                                           if any(p.suffix.lower() in IMAGE_SUFFIXES
                                                  for p in root.iterdir()) else ""))
        raise LadError(f"--data {root} has {found}; LAD needs at least two classes: put each "
                       f"class's images in a sub-folder named after it ({root}/cat/1.png, "
                       f"{root}/dog/2.png)")
    return paths, np.asarray(labels, np.int64), classes


def _inspect(paths: list[str]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Reads and decodes every file once, in parallel.

    Returns:
        (shapes int [N, 3] of the decoded images (H, W, native C),
         content hashes uint8 [N, 8], indices of files that failed).
    """
    def one(i, path):
        data = tf.io.read_file(path)
        image = tf.io.decode_image(data, expand_animations=False)
        return i, tf.shape(image), _content_hash(data)

    ds = (tf.data.Dataset.from_tensor_slices((tf.range(len(paths), dtype=tf.int64), paths))
          .map(one, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors().batch(1024))
    shapes = np.zeros((len(paths), 3), np.int64)
    hashes = np.zeros((len(paths), 8), np.uint8)
    ok = np.zeros(len(paths), bool)
    for index, shape, digest in ds.as_numpy_iterator():
        shapes[index], hashes[index], ok[index] = shape, digest, True
    return shapes, hashes, np.flatnonzero(~ok).tolist()


def _content_hash(data):
    """uint8 [8]: the hash of one file's bytes (a string tensor) in the fingerprint."""
    return tf.fingerprint(tf.reshape(data, [1]))[0]


def _fingerprint(root: Path, paths: list[str], hashes: np.ndarray) -> str:
    digest = hashlib.sha256()
    for path, h in zip(paths, hashes):
        digest.update(str(Path(path).relative_to(root)).encode() + b"\0" + h.tobytes())
    return digest.hexdigest()


def _load_folder(root: Path, cfg, image_shape, log) -> tuple[DatasetSplits, dict]:
    paths, labels, classes = _scan(root)
    log(f"data: reading {len(paths)} image files of {len(classes)} classes in {root} once "
        "(check and fingerprint)")
    shapes, hashes, failed = _inspect(paths)
    if failed:
        raise LadError(f"{len(failed)} of {len(paths)} image files in {root} cannot be read as "
                       f"PNG / JPEG, e.g. {paths[failed[0]]}; delete or re-save "
                       f"{'it' if len(failed) == 1 else 'them'}")
    native = sorted({int(c) for c in shapes[:, 2]})
    # Without a model or recipe to say: what most images have (alpha dropped).
    common = np.bincount(np.where(shapes[:, 2] >= 3, 3, 1)).argmax()
    channels = _target_channels(int(common), image_shape, cfg)
    if channels not in (1, 3):
        raise _channel_problem(int(common), channels, f"the images in {root}")
    if image_shape is not None:
        height, width = int(image_shape[0]), int(image_shape[1])
    elif cfg.image_size:
        height = width = int(cfg.image_size)
    else:
        height, width = int(shapes[0, 0]), int(shapes[0, 1])
    shape = (height, width, channels)
    sizes = {(int(h), int(w)) for h, w in shapes[:, :2]}
    if sizes != {(height, width)}:
        shown = ", ".join(f"{h}x{w}" for h, w in sorted(sizes)[:3])
        log(f"data: resizing {shown}{' ...' if len(sizes) > 3 else ''} images to "
            f"{height}x{width} (bilinear)")
    if native != [channels]:
        log(f"data: converting images with {'/'.join(map(str, native))} channel(s) to "
            f"{channels} ({'grayscale' if channels == 1 else 'RGB'})")
    index = split_indices(root.name, labels, cfg.provider_fraction, cfg.seed,
                          cfg.validation_fraction, test_fraction=FOLDER_TEST_FRACTION)
    encoded = np.asarray([p.encode("utf-8") for p in paths])
    files = {split: ImageFiles(encoded[idx], labels[idx], shape)
             for split, idx in index.items()}
    log(f"data: streaming the {len(files['train'])} training images from disk; reading the "
        f"{len(files['validation'])} validation, {len(files['provider'])} provider and "
        f"{len(files['test'])} test images into memory")
    kept = {split: files[split].read() for split in ("validation", "provider", "test")}
    splits = DatasetSplits(
        name=root.name, source=f"folder:{root}", image_shape=shape,
        num_classes=len(classes), x_train=None, y_train=files["train"].labels,
        x_provider=kept["provider"], y_provider=files["provider"].labels,
        x_test=kept["test"], y_test=files["test"].labels,
        x_validation=kept["validation"], y_validation=files["validation"].labels,
        provider_fraction=float(cfg.provider_fraction), seed=int(cfg.seed),
        validation_fraction=float(cfg.validation_fraction), train_files=files["train"],
        class_names=tuple(classes))
    record = {"path": str(root), "kind": "folder", "files": len(paths), "images": len(paths),
              "fingerprint": _fingerprint(root, paths, hashes), "class_names": classes,
              "image_shape": list(shape), "test_fraction": FOLDER_TEST_FRACTION,
              "converted": _converted(sizes, native, shape)}
    return splits, record


# -- an .npz ---------------------------------------------------------------------------------
def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = set(npz.files)
            for keys in (("x", "y"), ("x_train", "y_train", "x_test", "y_test"),
                         ("x_train", "y_train")):
                if names.issuperset(keys):
                    return {k: np.asarray(npz[k]) for k in keys}
    except Exception as exc:  # BadZipFile, zlib.error, a pickled array, an .npy, ...
        problem = " ".join(str(exc).split())[:160]
        raise LadError(f"--data {path} is not a readable .npz archive ({type(exc).__name__}: "
                       f"{problem}); save it with np.savez(PATH, x=images, y=labels)") from None
    raise LadError(f"--data {path} has arrays {sorted(names)}, but needs x and y (or x_train, "
                   "y_train and optionally x_test, y_test); save it with "
                   "np.savez(PATH, x=images, y=labels)")


def _labels(path: Path, name: str, y: np.ndarray, count: int) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise LadError(f"--data {path}: {name} is {y.dtype} {y.shape}; it must hold integer "
                       "class labels [N] in 0..K-1")
    if len(y) != count:
        raise LadError(f"--data {path}: {count} images but {len(y)} labels in {name}; save as "
                       "many labels as images")
    if len(y) and y.min() < 0:
        raise LadError(f"--data {path}: {name} has negative labels; use labels 0..K-1")
    return y.astype(np.int64)


def _fit_images(path: Path, name: str, x: np.ndarray, image_shape, cfg, log) -> np.ndarray:
    """uint8 / float images [N, H, W(, C)] -> float32 [N, H', W', C'] in [0, 1]."""
    if x.ndim not in (3, 4):
        raise LadError(f"--data {path}: {name} has shape {x.shape}; images must be "
                       "[N, H, W] or [N, H, W, C]")
    x = to_unit_float(x, f"--data {path}")
    have = x.shape[-1]
    channels = _target_channels(have, image_shape, cfg)
    if have != channels:
        if {have, channels} != {1, 3}:
            raise _channel_problem(have, channels, f"the images of {path} ({name} {x.shape})")
        log(f"data: converting {name} from {have} to {channels} channel(s)")
        x = (np.repeat(x, 3, axis=-1) if channels == 3
             else tf.image.rgb_to_grayscale(x).numpy())
    size = ((int(image_shape[0]), int(image_shape[1])) if image_shape is not None else
            (int(cfg.image_size),) * 2 if cfg.image_size else x.shape[1:3])
    if tuple(x.shape[1:3]) != tuple(size):
        x = np.concatenate([tf.image.resize(x[i:i + 1024], size).numpy()
                            for i in range(0, len(x), 1024)])
    return np.clip(x, 0.0, 1.0)


def _load_npz(path: Path, cfg, image_shape, log) -> tuple[DatasetSplits, dict]:
    arrays = _npz_arrays(path)
    x_key, y_key = ("x", "y") if "x" in arrays else ("x_train", "y_train")
    parts = [(x_key, y_key)] + ([("x_test", "y_test")] if "x_test" in arrays else [])
    images, labels = [], []
    for xk, yk in parts:
        labels.append(_labels(path, yk, arrays[yk], len(arrays[xk])))
        images.append(_fit_images(path, xk, arrays[xk], image_shape, cfg, log))
    num_classes = int(max(int(y.max()) for y in labels if len(y)) + 1)
    if len(np.unique(labels[0])) < 2:
        raise LadError(f"--data {path}: {y_key} holds one class; LAD needs at least two "
                       "classes")
    has_test = len(parts) == 2
    raw = RawData(source=f"npz:{path}", num_classes=num_classes, x_train=images[0],
                  y_train=labels[0], x_test=images[1] if has_test else None,
                  y_test=labels[1] if has_test else None, test_fraction=FOLDER_TEST_FRACTION)
    log(f"data: {path.name}: {len(labels[0])} images"
        + (f" + {len(labels[1])} test images (kept as the test split)" if has_test else "")
        + f" of {num_classes} classes, {tuple(images[0].shape[1:])}, all in memory")
    splits = make_splits(path.stem, raw, provider_fraction=cfg.provider_fraction,
                         seed=cfg.seed, validation_fraction=cfg.validation_fraction)
    own = [arrays[xk].shape for xk, _ in parts]
    record = {"path": str(path), "kind": "npz", "files": 1,
              "images": int(sum(len(y) for y in labels)), "fingerprint": file_sha256(path),
              "class_names": [str(k) for k in range(num_classes)],
              "image_shape": list(splits.image_shape),
              "test_fraction": None if has_test else FOLDER_TEST_FRACTION,
              "converted": _converted({tuple(s[1:3]) for s in own},
                                      {s[3] if len(s) == 4 else 1 for s in own},
                                      splits.image_shape)}
    return splits, record
