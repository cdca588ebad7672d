"""CelebA smile / non-smile: prepared tfds `celeb_a`, else the official aligned files.

Every image is cropped to its centre square and resized to `image_size` x
`image_size` (the paper: 128; DLIB face crops there, a centre crop here, as
the aligned faces are already centred). The label is the `Smiling`
attribute: 1 = smile, 0 = non-smile. The source's own train / validation /
test partition is not used: the shared split logic holds out a seeded,
stratified 20% test split (2,000 of 10,000 faces) and then the provider part.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np
import tensorflow as tf

from lad_tf.data import sources
from lad_tf.data.splits import RawData
from lad_tf.utils.errors import LadError

ATTRIBUTE_FILE = "list_attr_celeba.txt"
IMAGE_DIR = "img_align_celeba"
LABEL = "Smiling"
PAPER_IMAGE_SIZE = 128
TEST_FRACTION = 0.2


def read_attributes(path: str) -> tuple[list[str], list[str], np.ndarray]:
    """Reads `list_attr_celeba.txt` in the official format.

    Line 1 is the number of images, line 2 the attribute names, then one row
    per image: its file name and one +1 / -1 per attribute.

    Returns:
        (attribute names [A], file names [N], values int8 [N, A] in {-1, +1}).

    Raises:
        LadError: unreadable file, a bad count line, a row of the wrong
            length or with values other than +1 / -1, or a count line that
            disagrees with the number of rows.
    """
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.split() for line in f]
    except (OSError, UnicodeDecodeError) as e:
        raise sources.bad_file(path, f"cannot be read as text ({type(e).__name__})") from None
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) < 2 or len(lines[0]) != 1 or not lines[0][0].isdigit():
        raise sources.bad_file(path, "is not a CelebA attribute file: line 1 must be the number "
                                     "of images and line 2 the attribute names")
    count, names, rows = int(lines[0][0]), lines[1], lines[2:]
    if len(rows) != count:
        raise sources.bad_file(path, f"line 1 says {count} images but the file has {len(rows)} "
                                     f"rows; the file is truncated or edited")
    files, values = [], np.empty((len(rows), len(names)), np.int8)
    for i, row in enumerate(rows):
        if len(row) != len(names) + 1 or any(v not in ("1", "-1") for v in row[1:]):
            raise sources.bad_file(path, f"line {i + 3} is not a file name followed by "
                                         f"{len(names)} values of 1 or -1")
        files.append(row[0])
        values[i] = [int(v) for v in row[1:]]
    return names, files, values


def crop_resize(image, image_size: int):
    """Centre square crop, then resize: uint8 [H, W, C] -> uint8 [S, S, C].

    Bilinear with antialiasing (it also averages when shrinking), rounded.
    Works on one image tensor inside `tf.data` as well as eagerly.
    """
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1])
    top, left = (shape[0] - side) // 2, (shape[1] - side) // 2
    square = image[top:top + side, left:left + side]
    resized = tf.image.resize(tf.cast(square, tf.float32), (image_size, image_size),
                              method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def _decode(path):
    return tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)


def read_images(folder: str, files: list[str], image_size: int) -> np.ndarray:
    """Reads, crops and resizes the JPEGs `files` in `folder`: uint8 [N, S, S, 3].

    Raises:
        LadError: a file is missing or cannot be decoded (named in the message).
    """
    paths = [os.path.join(folder, name) for name in files]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise LadError(f"{len(missing)} of the {len(paths)} images listed in {ATTRIBUTE_FILE} "
                       f"are not in {folder} (first: {missing[0]}); copy the whole "
                       f"{IMAGE_DIR}/ folder or point --data-dir elsewhere")
    ds = (tf.data.Dataset.from_tensor_slices(paths)
          .map(lambda p: crop_resize(_decode(p), image_size), num_parallel_calls=tf.data.AUTOTUNE)
          .batch(1024))
    try:
        return np.concatenate([batch.numpy() for batch in ds])
    except tf.errors.OpError:
        for path in paths:  # slow path, only to name the bad file
            try:
                _decode(path)
            except tf.errors.OpError:
                raise sources.bad_file(path, "is not a readable JPEG / PNG image") from None
        raise


def load_raw(data_dir: Optional[str] = None, use_tfds: Optional[bool] = None,
             image_size: Optional[int] = None, max_images: Optional[int] = None) -> RawData:
    """Loads CelebA faces as uint8 [N, S, S, 3] and Smiling labels (1 smile, 0 not).

    Sources, in order: tfds "celeb_a" (its "train" split, download=False;
    only when `use_tfds` is True, or None and tfds has it prepared), then
    `list_attr_celeba.txt` with the `img_align_celeba/` folder beside it, in
    `data_dir`, `data_dir/celeba`, `$LAD_DATA_DIR/celeba` or `$LAD_DATA_DIR`.

    Args:
        data_dir: folder with the files (or the tfds data dir).
        use_tfds: see `lad_tf.data.load_dataset`.
        image_size: S, the side of the square images (default 128, the paper).
        max_images: read only the first this many images (None: all). The
            paper used about 22,000 (19,999 training + 2,000 test images).

    Raises:
        LadError: Forced tfds is not prepared, files missing or corrupt.
    """
    size = PAPER_IMAGE_SIZE if image_size is None else int(image_size)

    def from_tfds(example):
        return crop_resize(example["image"], size), tf.cast(example["attributes"][LABEL], tf.int64)

    arrays, why_not_tfds = sources.try_tfds("celeb_a", ("train",), data_dir, use_tfds,
                                            preprocess=from_tfds, limit=max_images)
    if arrays is not None:
        source = "tfds:celeb_a"
        [(images, labels)] = arrays
    else:
        path = sources.find_file("celeba", ATTRIBUTE_FILE, data_dir, note=why_not_tfds)
        names, files, values = read_attributes(path)
        if LABEL not in names:
            raise sources.bad_file(path, f"has no {LABEL!r} attribute (has {names[:5]}...)")
        if max_images is not None:
            files, values = files[:int(max_images)], values[:int(max_images)]
        folder = os.path.join(os.path.dirname(path), IMAGE_DIR)
        if not os.path.isdir(folder):
            raise LadError(f"no {IMAGE_DIR}/ folder beside {path}; put the aligned images "
                           f"there or point --data-dir at the folder holding both")
        source = f"file:{path}"
        images = read_images(folder, files, size)
        labels = (values[:, names.index(LABEL)] > 0).astype(np.int64)
    sources.check_images_labels(source, "all", images, labels, (size, size, 3), 2)
    return RawData(source=source, num_classes=2, x_train=images, y_train=labels,
                   test_fraction=TEST_FRACTION)
