"""The spatial threat: the worst case per image over a grid of rotations and
translations (Engstrom et al. 2019, "Exploring the Landscape of Spatial
Robustness", their grid attack).

An image counts as robust only if the model reads it correctly under every
transform of the grid: rotations in [-max_angle, +max_angle] degrees
(`angles` values) times horizontal and vertical shifts in [-max_shift,
+max_shift] pixels (`shifts` values each). Engstrom et al.'s MNIST grid is
31 angles in +-30 degrees x 5 x 5 shifts in +-3 px = 775 transforms. The
transform rotates about the image centre and then shifts; pixels that come
from outside the image are black (0), and sampling is bilinear. Done in
TensorFlow (`ImageProjectiveTransformV3`), many transforms of the whole
sample per model call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from lad_tf.utils.errors import LadError


@dataclasses.dataclass(frozen=True)
class SpatialGrid:
    """The transforms of the grid attack.

    Attributes:
        max_angle: rotations span [-max_angle, +max_angle] degrees.
        angles: how many rotation values (odd counts include 0).
        max_shift: shifts span [-max_shift, +max_shift] pixels, each axis.
        shifts: how many shift values per axis.
    """

    max_angle: float = 30.0
    angles: int = 31
    max_shift: float = 3.0
    shifts: int = 5

    def __post_init__(self):
        for key in ("angles", "shifts"):
            value = getattr(self, key)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise LadError(f"spatial grid: {key} must be an integer >= 1 (the grid needs at "
                               f"least one point). Received: {key}={value!r}")
        for key in ("max_angle", "max_shift"):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
                raise LadError(f"spatial grid: {key} must be a number >= 0. "
                               f"Received: {key}={value!r}")

    def transforms(self) -> np.ndarray:
        """float32 [T, 3]: (angle in degrees, dx, dy) of every transform, T =
        angles * shifts ** 2, angles outermost."""
        angles = np.linspace(-self.max_angle, self.max_angle, self.angles) if self.angles > 1 \
            else np.zeros(1)
        shifts = np.linspace(-self.max_shift, self.max_shift, self.shifts) if self.shifts > 1 \
            else np.zeros(1)
        grid = np.stack(np.meshgrid(angles, shifts, shifts, indexing="ij"), -1).reshape(-1, 3)
        return grid.astype("float32")

    def title(self) -> str:
        return (f"rotations +-{self.max_angle:g} deg ({self.angles}) x shifts +-{self.max_shift:g} "
                f"px ({self.shifts} x {self.shifts}): {self.angles * self.shifts ** 2} transforms")


def projective_rows(transforms: np.ndarray, height: int, width: int) -> np.ndarray:
    """float32 [T, 8]: the rows `ImageProjectiveTransformV3` takes, which map
    an output pixel (x, y) to the input point it samples.

    Output = R(input - c) + c + t, so input = R^-1 (output - c - t) + c, with
    c the image centre, R the rotation by the angle and t = (dx, dy).
    """
    t = np.asarray(transforms, "float64").reshape(-1, 3)
    theta = np.deg2rad(t[:, 0])
    cos, sin = np.cos(theta), np.sin(theta)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    ux, uy = cx + t[:, 1], cy + t[:, 2]  # the centre after the shift
    rows = np.zeros((len(t), 8))
    rows[:, 0], rows[:, 1], rows[:, 2] = cos, sin, cx - cos * ux - sin * uy
    rows[:, 3], rows[:, 4], rows[:, 5] = -sin, cos, cy + sin * ux - cos * uy
    return rows.astype("float32")


def transform_each(x, transforms) -> tf.Tensor:
    """Image i under transform i (e.g. random spatial augmentation).

    Args:
        x: float32 [N, H, W, C] in [0, 1].
        transforms: [N, 3] (angle in degrees, dx, dy), one row per image.

    Returns:
        float32 [N, H, W, C] in [0, 1].
    """
    x = tf.convert_to_tensor(x, tf.float32)
    rows = projective_rows(np.asarray(transforms), x.shape[1], x.shape[2])
    if len(rows) != x.shape[0]:
        raise LadError(f"transform_each needs one transform per image: {x.shape[0]} images, "
                       f"{len(rows)} transforms")
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=tf.constant(rows), output_shape=tf.constant(x.shape[1:3], tf.int32),
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")
    return tf.clip_by_value(out, 0.0, 1.0)


def transform_images(x, transforms) -> tf.Tensor:
    """Every transform applied to every image.

    Args:
        x: float32 [N, H, W, C] in [0, 1].
        transforms: [T, 3] (angle in degrees, dx, dy) rows.

    Returns:
        float32 [T * N, H, W, C], transform-major (the first N are transform 0).
    """
    x = tf.convert_to_tensor(x, tf.float32)
    transforms = np.asarray(transforms, "float32").reshape(-1, 3)
    return transform_each(tf.tile(x, [len(transforms), 1, 1, 1]),
                          np.repeat(transforms, x.shape[0], axis=0))


def severity_order(grid: SpatialGrid) -> np.ndarray:
    """int [T]: the grid's transforms, the largest first (angle and shifts as
    fractions of their maxima, summed), so that the worst case per image
    finds most failures in the first few calls."""
    t = np.abs(grid.transforms().astype("float64"))
    scale = np.array([grid.max_angle or 1.0, grid.max_shift or 1.0, grid.max_shift or 1.0])
    return np.argsort(-(t / scale).sum(1), kind="stable")


def transform_accuracy(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray,
                       transforms: np.ndarray, images_per_call: int = 20000) -> np.ndarray:
    """float [T]: the model's accuracy on all of x under each of `transforms`.

    Args:
        predict: images float32 [M, H, W, C] -> int [M] labels.
        x: float32 [N, H, W, C] in [0, 1]; y: int [N] true labels.
        transforms: [T, 3] (angle in degrees, dx, dy) rows.
        images_per_call: transformed images made (and predicted) at once.
    """
    x, y = np.asarray(x, "float32"), np.asarray(y)
    transforms = np.asarray(transforms, "float32").reshape(-1, 3)
    if len(x) == 0:
        return np.zeros(len(transforms))
    chunk, out = max(1, images_per_call // len(x)), []
    for start in range(0, len(transforms), chunk):
        part = transforms[start:start + chunk]
        labels = np.asarray(predict(transform_images(x, part).numpy()))
        out.append((labels.reshape(len(part), len(x)) == y[None, :]).mean(1))
    return np.concatenate(out)


def spatial_worst_case(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray,
                       grid: SpatialGrid, images_per_call: int = 20000,
                       progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """int [N]: per image, the index (into `grid.transforms()`) of a transform
    under which the model misreads it, or -1 when it reads it correctly under
    every transform (and clean, the zero transform or not).

    Transforms are tried largest first (`severity_order`), each only on the
    images no earlier transform fooled, so the cost falls with the model's
    robustness; the result is the same as trying every transform on every image.

    Args:
        predict: images float32 [M, H, W, C] -> int [M] labels.
        x: float32 [N, H, W, C] in [0, 1]; y: int [N] true labels.
        grid: the transforms.
        images_per_call: transformed images made (and predicted) at once.
        progress: optional callable(transforms done, total).
    """
    x, y = np.asarray(x, "float32"), np.asarray(y)
    transforms, order = grid.transforms(), severity_order(grid)
    failed = np.full(len(x), -1, "int64")
    clean = np.asarray(predict(x)) == y if len(x) else np.zeros(0, bool)
    failed[~clean] = identity_index(grid) if identity_index(grid) is not None else order[0]
    done = 0
    while done < len(order):
        alive = np.flatnonzero(failed < 0)
        if len(alive) == 0:
            break
        part = order[done:done + max(1, images_per_call // len(alive))]
        labels = np.asarray(predict(transform_images(x[alive], transforms[part]).numpy()))
        wrong = labels.reshape(len(part), len(alive)) != y[alive][None, :]
        hit = wrong.any(0)
        failed[alive[hit]] = part[wrong[:, hit].argmax(0)]
        done += len(part)
        if progress is not None:
            progress(done, len(order))
    return failed


def identity_index(grid: SpatialGrid) -> int | None:
    """The index of the zero transform in `grid.transforms()`, or None when
    the grid does not hold it (an even count of angles or shifts)."""
    hits = np.flatnonzero(np.all(np.isclose(grid.transforms(), 0.0), axis=1))
    return int(hits[0]) if len(hits) else None

