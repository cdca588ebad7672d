"""Matplotlib renderings of the paper's figures as [1, H, W, 3] image arrays:
the canvas every figure is drawn on, and the figures of the training stages.

Every function takes numpy arrays and returns a float32 RGB image in [0, 1]
with a leading batch axis, the shape `monitoring.RunSummaries.image` expects,
so one call writes the same picture to TensorBoard and to
`<run>/figures/<tag>.png`.

Figures are built on `matplotlib.figure.Figure` with an Agg canvas instead of
pyplot: pyplot keeps a global registry of open figures and picks a GUI backend,
neither of which a training run or a test worker should depend on.

    Fig. 3  reconstruction_figure   originals above G(phi(x))
    Fig. 5  pair_success_heatmap    source x target success rate, one map per eps
    Fig. 6  transition_figure       images along the boundary normal, eps rising

The evaluation's figures (Fig. 4 examples, Fig. 7 accuracy against eps, the
clean-vs-robust frontier) are in `lad_tf.evaluation.figures`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100
TITLE_SIZE = 9     # per-image titles: small images, so small but legible text
LABEL_SIZE = 10
HEADER_SIZE = 12


def new_figure(width_in: float, height_in: float) -> Figure:
    """A pyplot-free figure with an Agg canvas and constrained layout."""
    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def render(fig: Figure) -> np.ndarray:
    """Rasterises a figure to an RGB array and releases it.

    Args:
        fig: a matplotlib figure (built here or by pyplot).

    Returns:
        float32 array [1, H, W, 3] in [0, 1]; H and W are the figure size in
        inches times its dpi.
    """
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    image = (rgba[..., :3].astype("float32") / 255.0)[None]
    # A pyplot figure stays in pyplot's registry (and memory) until closed;
    # look pyplot up rather than import it, so this module never loads it.
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and getattr(fig.canvas, "manager", None) is not None:
        pyplot.close(fig)
    fig.clear()
    return image


def show(ax, image: np.ndarray):
    """Draws one [H, W, C] (C = 1 or 3) or [H, W] image in [0, 1] without axes."""
    image = np.asarray(image, dtype="float32")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        # Fixed vmin/vmax: imshow would otherwise stretch each image's own
        # range, making a faint reconstruction look as crisp as the original.
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    elif image.ndim == 3 and image.shape[-1] == 3:
        ax.imshow(np.clip(image, 0.0, 1.0), interpolation="nearest")
    else:
        raise ValueError(f"Images must be [H, W, 1], [H, W, 3] or [H, W]. Received: {image.shape}")
    ax.set_xticks([])
    ax.set_yticks([])


def check_images(name: str, images: np.ndarray, ndim: int = 4) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != ndim or images.shape[-1] not in (1, 3):
        axes = "[R, E, H, W, C]" if ndim == 5 else "[N, H, W, C]"
        raise ValueError(f"{name} must be {axes} with C = 1 or 3. Received: {images.shape}")
    return images


def reconstruction_figure(images: np.ndarray, reconstructions: np.ndarray, n: int = 16,
                          per_row: int = 16) -> np.ndarray:
    """Fig. 3: test images above their reconstructions G(phi(x)).

    Args:
        images: float [N, H, W, C] in [0, 1], C = 1 (drawn in gray) or 3.
        reconstructions: the generator's outputs for `images`, same shape.
        n: how many pairs to draw (the first n; fewer if N < n).
        per_row: pairs per line; more than this wraps into further
            original/reconstruction line pairs.

    Returns:
        float32 [1, H, W, 3] in [0, 1].
    """
    images = check_images("images", images)
    reconstructions = check_images("reconstructions", reconstructions)
    if images.shape != reconstructions.shape:
        raise ValueError(f"images and reconstructions must have the same shape. "
                         f"Received: {images.shape} and {reconstructions.shape}")
    n = min(n, len(images))
    if n < 1:
        raise ValueError("reconstruction_figure needs at least one image.")
    cols = min(n, per_row)
    groups = math.ceil(n / cols)
    fig = new_figure(1.4 + 0.65 * cols, 0.3 + 1.3 * groups)
    axes = fig.subplots(2 * groups, cols, squeeze=False)
    for i in range(groups * cols):
        g, k = divmod(i, cols)
        top, bottom = axes[2 * g, k], axes[2 * g + 1, k]
        if i < n:
            show(top, images[i])
            show(bottom, reconstructions[i])
        else:
            top.axis("off")
            bottom.axis("off")
    for g in range(groups):
        # Labels as y labels of the first column: axis("off") would hide them.
        axes[2 * g, 0].set_ylabel("test image", rotation=0, ha="right", va="center",
                                  fontsize=LABEL_SIZE)
        axes[2 * g + 1, 0].set_ylabel("G(phi(x))", rotation=0, ha="right", va="center",
                                      fontsize=LABEL_SIZE)
    return render(fig)


def label_text(label) -> str:
    """Predicted label as text: 7 rather than 7.0 or np.int64(7)."""
    if isinstance(label, (np.integer, int)) or (isinstance(label, (float, np.floating))
                                               and float(label).is_integer()):
        return str(int(label))
    return str(label)


def _check_pair_rates(rate, pairs, eps, num_classes: int, class_names):
    """pair_success_heatmap's arguments as arrays, checked (see its Raises)."""
    rate = np.asarray(rate, dtype="float64")
    pairs = np.asarray(pairs)
    eps = np.atleast_1d(np.asarray(eps, dtype="float64"))
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs must be [P, 2]. Received: {pairs.shape}")
    if rate.shape != (len(eps), len(pairs)):
        raise ValueError(f"rate must be [E, P] = {(len(eps), len(pairs))} for eps {eps.shape} "
                         f"and pairs {pairs.shape}. Received: {rate.shape}")
    if len(eps) == 0 or len(pairs) == 0:
        raise ValueError(f"pair_success_heatmap needs at least one eps and one pair. "
                         f"Received: eps {eps.shape}, pairs {pairs.shape}")
    if pairs.min() < 0 or pairs.max() >= num_classes:
        raise ValueError(f"pairs must hold classes in [0, {num_classes}). "
                         f"Received: {pairs.min()}..{pairs.max()}")
    if np.any(pairs[:, 0] == pairs[:, 1]):
        raise ValueError(f"pairs must have source != target. Received: {pairs.tolist()}")
    if len({tuple(p) for p in pairs.tolist()}) != len(pairs):
        raise ValueError(f"pairs must not repeat. Received: {pairs.tolist()}")
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"class_names needs {num_classes} names. Received: {len(class_names)}")
    return rate, pairs, eps


def _annotate(ax, grid: np.ndarray):
    """Writes each finite cell's value of a [K, K] map into its cell."""
    for s in range(grid.shape[0]):
        for t in range(grid.shape[1]):
            if np.isfinite(grid[s, t]):
                # Dark text on the light (high) end of magma, light on the dark end.
                ax.text(t, s, f"{grid[s, t]:.2f}", ha="center", va="center",
                        fontsize=LABEL_SIZE, color="black" if grid[s, t] > 0.6 else "white")


def pair_success_heatmap(rate: np.ndarray, pairs: np.ndarray, eps: Sequence[float],
                         num_classes: int,
                         class_names: Sequence[str] | None = None) -> np.ndarray:
    """Fig. 5: attack success rate per (source, target) pair, one heat map per eps.

    Rows are source classes, columns target classes. Cells with no value (the
    diagonal, pairs not in `pairs`, NaN rates) are drawn gray; the colour scale
    runs 0..1 for every map, lighter meaning higher success as in the paper.
    With 5 or fewer classes each cell also shows its value.

    Args:
        rate: float [E, P], success rate of pair p at eps[e], in [0, 1].
        pairs: int [P, 2], ordered (source, target) class pairs.
        eps: the E perturbation strengths, one map each.
        num_classes: classes per axis (10 for MNIST, 2 for a binary task).
        class_names: optional tick labels, one per class; default the indices.

    Returns:
        float32 [1, H, W, 3] in [0, 1].

    Raises:
        ValueError: on shapes that disagree, classes out of range, a pair with
            source == target, or a repeated pair.
    """
    rate, pairs, eps = _check_pair_rates(rate, pairs, eps, num_classes, class_names)
    ticks = list(class_names) if class_names is not None else [str(k) for k in range(num_classes)]

    grid = np.full((len(eps), num_classes, num_classes), np.nan)
    grid[:, pairs[:, 0], pairs[:, 1]] = rate

    cmap = matplotlib.colormaps["magma"].with_extremes(bad="#9e9e9e")
    cols = min(len(eps), 4)
    rows = math.ceil(len(eps) / cols)
    panel = 2.7 if num_classes > 2 else 2.2
    fig = new_figure(0.9 + panel * cols, 0.4 + panel * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    annotate = num_classes <= 5  # values in the cells of small maps
    for e, ax in enumerate(axes.ravel()):
        if e >= len(eps):
            ax.axis("off")
            continue
        im = ax.imshow(np.ma.masked_invalid(grid[e]), cmap=cmap, vmin=0.0, vmax=1.0,
                       interpolation="nearest")
        ax.set_title(f"eps = {eps[e]:g}", fontsize=LABEL_SIZE)
        ax.set_xticks(range(num_classes), ticks, fontsize=8)
        ax.set_yticks(range(num_classes), ticks, fontsize=8)
        ax.set_xlabel("target", fontsize=TITLE_SIZE)
        ax.set_ylabel("source", fontsize=TITLE_SIZE)
        if annotate:
            _annotate(ax, grid[e])
    fig.colorbar(im, ax=axes.ravel().tolist(), label="attack success rate", shrink=0.9)
    return render(fig)


def transition_figure(rows: np.ndarray, predicted: np.ndarray, eps,
                      row_titles: Sequence[str]) -> np.ndarray:
    """Fig. 6: images generated along the boundary normal for increasing eps.

    Each image is titled with its eps and the classifier's prediction; a
    prediction that differs from the row's first one is drawn in red, so the
    eps where the label flips stands out.

    Args:
        rows: float [R, E, H, W, C] in [0, 1], row r holding G(z + eps_e ...)
            for one source example.
        predicted: int [R, E], the classifier's label for each image.
        eps: [E] strengths shared by all rows, or [R, E] one list per row.
        row_titles: R titles, e.g. "0 -> 5".

    Returns:
        float32 [1, H, W, 3] in [0, 1].
    """
    rows = check_images("rows", rows, ndim=5)
    r_count, e_count = rows.shape[:2]
    predicted = np.asarray(predicted)
    if predicted.shape != (r_count, e_count):
        raise ValueError(f"predicted must be [R, E] = {(r_count, e_count)} for rows "
                         f"{rows.shape}. Received: {predicted.shape}")
    eps_arr = np.asarray(eps, dtype="float64")
    if eps_arr.shape not in ((e_count,), (r_count, e_count)):
        raise ValueError(f"eps must be [E] = ({e_count},) or [R, E] = {(r_count, e_count)}. "
                         f"Received: {eps_arr.shape}")
    eps_arr = np.broadcast_to(eps_arr, (r_count, e_count))
    if len(row_titles) != r_count:
        raise ValueError(f"row_titles needs {r_count} titles. Received: {len(row_titles)}")
    if r_count == 0 or e_count == 0:
        raise ValueError(f"transition_figure needs at least one image. Received: {rows.shape}")

    fig = new_figure(0.3 + 1.05 * e_count, 0.1 + 1.6 * r_count)
    # One subfigure per row so each row carries its own title ("0 -> 5").
    subfigs = np.atleast_1d(fig.subfigures(r_count, 1, hspace=0.04))
    for r, sub in enumerate(subfigs):
        sub.suptitle(row_titles[r], fontsize=HEADER_SIZE, fontweight="bold")
        axes = sub.subplots(1, e_count, squeeze=False)[0]
        for e, ax in enumerate(axes):
            show(ax, rows[r, e])
            flipped = predicted[r, e] != predicted[r, 0]
            ax.set_title(f"eps={eps_arr[r, e]:g}\npred {label_text(predicted[r, e])}",
                         fontsize=TITLE_SIZE, pad=2, color="tab:red" if flipped else "black")
    return render(fig)
