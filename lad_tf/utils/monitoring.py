"""Progress output, TensorBoard summaries and PNG figures for a run."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from lad_tf.utils.files import write_bytes, write_json


def log(message: str):
    """Progress output on stderr with a wall-clock stamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class EpochLogger(keras.callbacks.Callback):
    """One line per epoch with every logged metric (fit runs with verbose=0)."""

    def __init__(self, stage: str, epochs: int):
        super().__init__()
        self.stage, self.epochs = stage, epochs

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._epoch = epoch
        self._last_line = self._start

    def on_train_batch_end(self, batch, logs=None):
        """A progress line at most every 30 s inside long epochs (PGD training)."""
        now = time.perf_counter()
        if now - self._last_line >= 30:
            self._last_line = now
            steps = (self.params or {}).get("steps")
            of = f"/{steps}" if steps else ""
            loss = f", loss {float(logs['loss']):.4f}" if logs and "loss" in logs else ""
            log(f"{self.stage} epoch {self._epoch + 1}/{self.epochs}: step {batch + 1}{of} "
                f"({now - self._start:.0f} s{loss})")

    def on_epoch_end(self, epoch, logs=None):
        metrics = " ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items())
        log(f"{self.stage} epoch {epoch + 1}/{self.epochs} "
            f"({time.perf_counter() - self._start:.0f} s): {metrics}")


class FitHistory(dict):
    """A fit's history (metric -> one value per epoch, epochs of an earlier,
    killed process first) and `earlier_seconds`, the training time of those
    earlier epochs."""

    earlier_seconds: float = 0.0


class EpochRecord(keras.callbacks.Callback):
    """Keeps each finished epoch's logs and seconds in a JSON file beside the
    stage's backup, so a run killed and resumed with --resume still reports
    every epoch and the whole training time, not only the resumed part.

    Args:
        path: the record file (`<run>/backup/<stage>.epochs.json`).
        resuming: the stage's backup exists, so fit continues from it and the
            record's epochs before the first one fit runs now are kept; a
            fresh stage starts a new record.
    """

    def __init__(self, path: Path, resuming: bool):
        super().__init__()
        self.path = Path(path)
        self.earlier = (json.loads(self.path.read_text())
                        if resuming and self.path.is_file() else [])
        self.rows, self.first_epoch = [], None

    def on_epoch_begin(self, epoch, logs=None):
        if self.first_epoch is None:
            self.first_epoch = epoch
            self.earlier = [row for row in self.earlier if row["epoch"] < epoch]
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append({"epoch": int(epoch), "seconds": time.perf_counter() - self._start,
                          "logs": {k: float(v) for k, v in (logs or {}).items()}})
        write_json(self.path, self.earlier + self.rows)

    def history(self, current: dict) -> FitHistory:
        """`current` (this process's history) after the earlier epochs' values;
        the record file is removed (the stage has finished)."""
        merged = FitHistory({  # NaN where an earlier epoch did not log a metric
            k: [row["logs"].get(k, float("nan")) for row in self.earlier] + list(v)
            for k, v in current.items()})
        merged.earlier_seconds = float(sum(row["seconds"] for row in self.earlier))
        self.path.unlink(missing_ok=True)
        return merged


def image_grid(images: np.ndarray, rows: int, cols: int, pad: int = 1) -> np.ndarray:
    """Tiles images [rows*cols, H, W, C] in [0, 1] into one [1, R, C, ch] image."""
    n, h, w, c = images.shape
    if n != rows * cols:
        raise ValueError(f"image_grid needs rows*cols={rows * cols} images. Received: {n}")
    grid = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), "float32")
    for i in range(n):
        r, k = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        grid[top:top + h, left:left + w] = images[i]
    return grid[None]


def save_png(grid: np.ndarray, path: Path, scale: int = 3):
    """Writes a [1, H, W, C] grid in [0, 1] as a PNG, enlarged `scale` times."""
    img = np.repeat(np.repeat(grid[0], scale, axis=0), scale, axis=1)
    data = tf.io.encode_png(tf.convert_to_tensor(np.clip(img * 255 + 0.5, 0, 255).astype("uint8")))
    write_bytes(path, data.numpy())


class RunSummaries:
    """Writes images and scalars to `<run>/tensorboard/lad` and PNGs to `<run>/figures`."""

    def __init__(self, run_dir: Path):
        self.figures = run_dir / "figures"
        self.figures.mkdir(exist_ok=True)
        self.writer = tf.summary.create_file_writer(str(run_dir / "tensorboard" / "lad"))

    def image(self, tag: str, grid: np.ndarray, step: int = 0, description: str = "",
              scale: int | None = None):
        """Args: scale: PNG enlargement; default 3 for small image grids, 1 for
        rendered figures (RGB arrays wider than 300 px)."""
        with self.writer.as_default():
            tf.summary.image(tag, grid, step=step, description=description)
        self.writer.flush()
        if scale is None:
            scale = 1 if grid.shape[2] > 300 else 3
        save_png(grid, self.figures / f"{tag.replace('/', '_')}.png", scale)

    def scalar(self, tag: str, value: float, step: int):
        with self.writer.as_default():
            tf.summary.scalar(tag, value, step=step)
        self.writer.flush()
