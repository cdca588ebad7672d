"""Matplotlib renderings of the paper's Figs. 3-7 as [1, H, W, 3] image arrays.

Every function takes numpy arrays and returns a float32 RGB image in [0, 1]
with a leading batch axis, the shape `monitoring.RunSummaries.image` expects,
so one call writes the same picture to TensorBoard and to
`<run>/figures/<tag>.png`.

Figures are built on `matplotlib.figure.Figure` with an Agg canvas instead of
pyplot: pyplot keeps a global registry of open figures and picks a GUI backend,
neither of which a training run or a test worker should depend on.

    Fig. 3  reconstruction_figure   originals above G(phi(x))
    Fig. 4  examples_figure         one column per attack, predicted labels on top
    Fig. 5  pair_success_heatmap    source x target success rate, one map per eps
    Fig. 6  transition_figure       images along the boundary normal, eps rising
    Fig. 7  accuracy_curves         accuracy (%) against eps, one line per model
            frontier_figure         clean against worst-case robust accuracy, sized by cost
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100
_TITLE_SIZE = 9     # per-image titles: small images, so small but legible text
_LABEL_SIZE = 10
_HEADER_SIZE = 12


def _figure(width_in: float, height_in: float) -> Figure:
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


def _show(ax, image: np.ndarray):
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


def _check_images(name: str, images: np.ndarray, ndim: int = 4) -> np.ndarray:
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
    images = _check_images("images", images)
    reconstructions = _check_images("reconstructions", reconstructions)
    if images.shape != reconstructions.shape:
        raise ValueError(f"images and reconstructions must have the same shape. "
                         f"Received: {images.shape} and {reconstructions.shape}")
    n = min(n, len(images))
    if n < 1:
        raise ValueError("reconstruction_figure needs at least one image.")
    cols = min(n, per_row)
    groups = math.ceil(n / cols)
    fig = _figure(1.4 + 0.65 * cols, 0.3 + 1.3 * groups)
    axes = fig.subplots(2 * groups, cols, squeeze=False)
    for i in range(groups * cols):
        g, k = divmod(i, cols)
        top, bottom = axes[2 * g, k], axes[2 * g + 1, k]
        if i < n:
            _show(top, images[i])
            _show(bottom, reconstructions[i])
        else:
            top.axis("off")
            bottom.axis("off")
    for g in range(groups):
        # Labels as y labels of the first column: axis("off") would hide them.
        axes[2 * g, 0].set_ylabel("test image", rotation=0, ha="right", va="center",
                                  fontsize=_LABEL_SIZE)
        axes[2 * g + 1, 0].set_ylabel("G(phi(x))", rotation=0, ha="right", va="center",
                                      fontsize=_LABEL_SIZE)
    return render(fig)


def examples_figure(columns: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray],
                    n: int = 8) -> np.ndarray:
    """Fig. 4: the same examples as crafted by each method, with predicted labels.

    Args:
        columns: method name -> images [N, H, W, C] in [0, 1], e.g.
            {"original": x, "FGSM": x_fgsm, "JSMA": x_jsma, "LAD": x_lad};
            row i of every method should come from the same source example.
            Drawn left to right in the mapping's order.
        labels: method name -> predicted labels [N] (ints or strings); a method
            missing here is drawn without titles.
        n: example rows (the first n; fewer if a method has fewer images).

    Returns:
        float32 [1, H, W, 3] in [0, 1].
    """
    if not columns:
        raise ValueError("examples_figure needs at least one method in `columns`.")
    images = {name: _check_images(f"columns[{name!r}]", x) for name, x in columns.items()}
    n = min([n] + [len(x) for x in images.values()])
    if n < 1:
        raise ValueError("examples_figure needs at least one image per method.")
    for name, lab in labels.items():
        if name in images and len(np.asarray(lab)) < n:
            raise ValueError(f"labels[{name!r}] has {len(np.asarray(lab))} entries; "
                             f"{n} rows are drawn.")
    names = list(images)
    fig = _figure(0.3 + 1.15 * len(names), 0.5 + 1.15 * n)
    # One subfigure per method, so the method name heads its own column.
    subfigs = np.atleast_1d(fig.subfigures(1, len(names), wspace=0.02))
    for sub, name in zip(subfigs, names):
        sub.suptitle(name, fontsize=_HEADER_SIZE, fontweight="bold")
        axes = sub.subplots(n, 1, squeeze=False)[:, 0]
        lab = labels.get(name)
        for i, ax in enumerate(axes):
            _show(ax, images[name][i])
            if lab is not None:
                ax.set_title(f"pred {_label_text(np.asarray(lab)[i])}", fontsize=_TITLE_SIZE, pad=2)
    return render(fig)


def _label_text(label) -> str:
    """Predicted label as text: 7 rather than 7.0 or np.int64(7)."""
    if isinstance(label, (np.integer, int)) or (isinstance(label, (float, np.floating))
                                               and float(label).is_integer()):
        return str(int(label))
    return str(label)


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
    ticks = list(class_names) if class_names is not None else [str(k) for k in range(num_classes)]

    grid = np.full((len(eps), num_classes, num_classes), np.nan)
    grid[:, pairs[:, 0], pairs[:, 1]] = rate

    import matplotlib  # the colormap registry; cheap, already loaded with Figure
    cmap = matplotlib.colormaps["magma"].with_extremes(bad="#9e9e9e")
    cols = min(len(eps), 4)
    rows = math.ceil(len(eps) / cols)
    panel = 2.7 if num_classes > 2 else 2.2
    fig = _figure(0.9 + panel * cols, 0.4 + panel * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    annotate = num_classes <= 5
    for e, ax in enumerate(axes.ravel()):
        if e >= len(eps):
            ax.axis("off")
            continue
        im = ax.imshow(np.ma.masked_invalid(grid[e]), cmap=cmap, vmin=0.0, vmax=1.0,
                       interpolation="nearest")
        ax.set_title(f"eps = {eps[e]:g}", fontsize=_LABEL_SIZE)
        ax.set_xticks(range(num_classes), ticks, fontsize=8)
        ax.set_yticks(range(num_classes), ticks, fontsize=8)
        ax.set_xlabel("target", fontsize=_TITLE_SIZE)
        ax.set_ylabel("source", fontsize=_TITLE_SIZE)
        if annotate:
            for s in range(num_classes):
                for t in range(num_classes):
                    if np.isfinite(grid[e, s, t]):
                        # Dark text on the light (high) end of magma, light on the dark end.
                        ax.text(t, s, f"{grid[e, s, t]:.2f}", ha="center", va="center",
                                fontsize=_LABEL_SIZE,
                                color="black" if grid[e, s, t] > 0.6 else "white")
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
    rows = _check_images("rows", rows, ndim=5)
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

    fig = _figure(0.3 + 1.05 * e_count, 0.1 + 1.6 * r_count)
    # One subfigure per row so each row carries its own title ("0 -> 5").
    subfigs = np.atleast_1d(fig.subfigures(r_count, 1, hspace=0.04))
    for r, sub in enumerate(subfigs):
        sub.suptitle(row_titles[r], fontsize=_HEADER_SIZE, fontweight="bold")
        axes = sub.subplots(1, e_count, squeeze=False)[0]
        for e, ax in enumerate(axes):
            _show(ax, rows[r, e])
            flipped = predicted[r, e] != predicted[r, 0]
            ax.set_title(f"eps={eps_arr[r, e]:g}\npred {_label_text(predicted[r, e])}",
                         fontsize=_TITLE_SIZE, pad=2, color="tab:red" if flipped else "black")
    return render(fig)


_MARKERS = ("s", "o", "^", "D", "v", "P", "X", "<", ">", "*")


def accuracy_curves(eps: Sequence[float], curves: Mapping[str, Sequence[float]], title: str,
                    ylabel: str = "accuracy") -> np.ndarray:
    """Fig. 7: accuracy against eps, one line per model/test set.

    A curve whose values are all equal (e.g. the original classifier's clean
    accuracy, which does not depend on eps) is drawn dashed without markers,
    as a horizontal reference line.

    Args:
        eps: the E perturbation strengths (x axis).
        curves: label -> E accuracies in [0, 1] (NaN leaves a gap); plotted as
            percent, in the mapping's order.
        title: the figure title.
        ylabel: y axis name; " (%)" is appended.

    Returns:
        float32 [1, H, W, 3] in [0, 1].
    """
    eps = np.asarray(eps, dtype="float64")
    if eps.ndim != 1 or len(eps) == 0:
        raise ValueError(f"eps must be a non-empty 1-D sequence. Received: {eps.shape}")
    if not curves:
        raise ValueError("accuracy_curves needs at least one curve.")
    fig = _figure(7.0, 4.5)
    ax = fig.subplots()
    markers = iter(_MARKERS * (1 + len(curves) // len(_MARKERS)))
    for label, values in curves.items():
        values = np.asarray(values, dtype="float64")
        if values.shape != eps.shape:
            raise ValueError(f"curves[{label!r}] must have one value per eps {eps.shape}. "
                             f"Received: {values.shape}")
        finite = values[np.isfinite(values)]
        if len(eps) > 1 and len(finite) and np.all(finite == finite[0]):
            ax.plot(eps, 100 * values, linestyle="--", linewidth=1.5, label=label)
        else:
            ax.plot(eps, 100 * values, marker=next(markers), markersize=6, linewidth=1.5,
                    label=label)
    ax.set_title(title, fontsize=_HEADER_SIZE)
    ax.set_xlabel("eps", fontsize=_LABEL_SIZE)
    ax.set_ylabel(f"{ylabel} (%)", fontsize=_LABEL_SIZE)
    if len(eps) <= 12:
        # A tick at every evaluated eps (the paper's lists are short and uneven);
        # longer lists keep matplotlib's own ticks so labels do not collide.
        ax.set_xticks(eps, [f"{e:g}" for e in eps], fontsize=8)
    ax.grid(True, alpha=0.4)
    ax.legend(fontsize=_TITLE_SIZE, loc="best")
    return render(fig)


_MIN_AREA, _MAX_AREA = 30.0, 900.0  # marker areas (points^2) of 0 s and of the slowest


def _marker_area(seconds, longest: float):
    """Marker area in points^2, proportional to training seconds above a floor."""
    return _MIN_AREA + (_MAX_AREA - _MIN_AREA) * np.asarray(seconds, "float64") / longest


def _size_legend(ax, longest: float):
    """A legend of reference marker sizes: about 1/4, 1/2 and all of `longest` seconds."""
    steps = sorted({float(f"{longest * f:.2g}") for f in (0.25, 0.5, 1.0)})
    handles = [ax.scatter([], [], s=float(_marker_area(v, longest)), color="0.6",
                          edgecolors="black", label=f"{v:g} s") for v in steps if v > 0]
    ax.legend(handles=handles, title="training time", fontsize=8, title_fontsize=8,
              loc="lower right", labelspacing=1.8, borderpad=1.0, handletextpad=1.6,
              frameon=True)


def _label_heights(x, y, gap: float, near: float = 15.0) -> list[tuple[int, float]]:
    """(index, label height) per point, top point first: a label sits at its
    point's height unless the label above it, of a point within `near` on
    the x axis, is closer than `gap`; then it moves down to keep the gap."""
    placed = []
    for i in np.argsort(-np.asarray(y), kind="stable"):
        height = float(y[i])
        for j, above in placed:
            if abs(x[i] - x[j]) < near:
                height = min(height, above - gap)
        placed.append((int(i), height))
    return placed


def frontier_figure(points: Sequence[tuple]) -> np.ndarray:
    """Clean against robust (worst-case) accuracy, one labelled marker per model.

    Args:
        points: (label, clean_accuracy, robust_accuracy, training_seconds) per
            model, accuracies in [0, 1], seconds >= 0 (0: no training, e.g.
            the original model). The marker area grows linearly with the
            seconds; a legend gives reference sizes.

    Returns:
        float32 [1, H, W, 3] in [0, 1].

    Raises:
        ValueError: no point, or a point that is not (str, float, float, float >= 0).
    """
    if not points:
        raise ValueError("frontier_figure needs at least one point.")
    for p in points:
        if len(p) != 4 or not all(np.isfinite(p[1:])) or p[3] < 0:
            raise ValueError("points must be (label, clean, robust, seconds >= 0). "
                             f"Received: {p!r}")
    labels = [str(p[0]) for p in points]
    clean, robust, seconds = (np.array([p[i] for p in points], "float64") for i in (1, 2, 3))
    longest = max(float(seconds.max()), 1e-9)
    fig = _figure(7.0, 5.0)
    ax = fig.subplots()
    area = _marker_area(seconds, longest)
    ax.scatter(100 * robust, 100 * clean, s=area, c=[f"C{i % 10}" for i in range(len(points))],
               alpha=0.7, edgecolors="black")
    bottom = max(0.0, 100 * clean.min() - 4)
    for i, y_text in _label_heights(100 * robust, 100 * clean, gap=0.045 * (100.5 - bottom)):
        # Beside the marker (left of it near the right edge), heights spread so
        # that close points keep their labels in their own vertical order, each
        # label tied to its marker by a thin line.
        left = robust[i] > 0.75
        ax.annotate(labels[i], (100 * robust[i], 100 * clean[i]),
                    xytext=(100 * robust[i] + (-9 if left else 9), y_text), textcoords="data",
                    ha="right" if left else "left", va="center", fontsize=_TITLE_SIZE,
                    arrowprops={"arrowstyle": "-", "lw": 0.6, "color": "0.3"})
    ax.set_xlabel("robust accuracy, worst case over the attack suite (%)", fontsize=_LABEL_SIZE)
    ax.set_ylabel("clean accuracy (%)", fontsize=_LABEL_SIZE)
    ax.set_title("Clean against robust accuracy; marker area: training time",
                 fontsize=_HEADER_SIZE)
    ax.set_xlim(-5, 105)
    ax.set_ylim(bottom, 100.5)
    ax.grid(True, alpha=0.4)
    if seconds.max() > 0:
        _size_legend(ax, longest)
    return render(fig)
