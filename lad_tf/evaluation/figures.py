"""The evaluation's figures, drawn from its result: Fig. 4 (the same images
as FGSM, JSMA and LAD examples), Fig. 7 (accuracy against LAD eps) and the
clean-vs-robust frontier sized by training time.

The renderers take numpy arrays and return float32 [1, H, W, 3] images in
[0, 1] (see `lad_tf.lad.figures`); `draw_result_figures` and
`draw_examples_figure` write them through a `RunSummaries`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from lad_tf.evaluation.tables import method_title
from lad_tf.lad.figures import (
    HEADER_SIZE,
    LABEL_SIZE,
    TITLE_SIZE,
    check_images,
    label_text,
    new_figure,
    render,
    show,
)
from lad_tf.utils.batching import predict


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
    images = {name: check_images(f"columns[{name!r}]", x) for name, x in columns.items()}
    n = min([n] + [len(x) for x in images.values()])
    if n < 1:
        raise ValueError("examples_figure needs at least one image per method.")
    for name, lab in labels.items():
        if name in images and len(np.asarray(lab)) < n:
            raise ValueError(f"labels[{name!r}] has {len(np.asarray(lab))} entries; "
                             f"{n} rows are drawn.")
    names = list(images)
    fig = new_figure(0.3 + 1.15 * len(names), 0.5 + 1.15 * n)
    # One subfigure per method, so the method name heads its own column.
    subfigs = np.atleast_1d(fig.subfigures(1, len(names), wspace=0.02))
    for sub, name in zip(subfigs, names):
        sub.suptitle(name, fontsize=HEADER_SIZE, fontweight="bold")
        axes = sub.subplots(n, 1, squeeze=False)[:, 0]
        lab = labels.get(name)
        for i, ax in enumerate(axes):
            show(ax, images[name][i])
            if lab is not None:
                ax.set_title(f"pred {label_text(np.asarray(lab)[i])}", fontsize=TITLE_SIZE, pad=2)
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
    fig = new_figure(7.0, 4.5)
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
    ax.set_title(title, fontsize=HEADER_SIZE)
    ax.set_xlabel("eps", fontsize=LABEL_SIZE)
    ax.set_ylabel(f"{ylabel} (%)", fontsize=LABEL_SIZE)
    if len(eps) <= 12:
        # A tick at every evaluated eps (the paper's lists are short and uneven);
        # longer lists keep matplotlib's own ticks so labels do not collide.
        ax.set_xticks(eps, [f"{e:g}" for e in eps], fontsize=8)
    ax.grid(True, alpha=0.4)
    ax.legend(fontsize=TITLE_SIZE, loc="best")
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


ZOOM_ROBUST = 0.5  # points at or above this robust accuracy also get a zoomed panel


def frontier_figure(points: Sequence[tuple]) -> np.ndarray:
    """Clean against robust (worst-case) accuracy, one labelled marker per model.

    When three or more models reach ZOOM_ROBUST, a second panel zooms on
    them (robust defences differ by a point or two, which the full 0-100%
    axis cannot show apart).

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
    clean, robust = (100 * np.array([p[i] for p in points], "float64") for i in (1, 2))
    seconds = np.array([p[3] for p in points], "float64")
    longest = max(float(seconds.max()), 1e-9)
    area = _marker_area(seconds, longest)
    zoom = np.flatnonzero(robust >= 100 * ZOOM_ROBUST)
    fig = new_figure(13.0 if len(zoom) >= 3 else 7.0, 5.0)
    axes = fig.subplots(1, 2 if len(zoom) >= 3 else 1, squeeze=False)[0]
    bottom = max(0.0, clean.min() - 4)
    everything = np.arange(len(points))
    _draw_frontier(axes[0], labels, clean, robust, area, everything, (-5, 105), (bottom, 100.5))
    axes[0].set_title("Clean against robust accuracy; marker area: training time",
                      fontsize=HEADER_SIZE)
    if len(zoom) >= 3:
        x_pad = max(1.0, 0.1 * np.ptp(robust[zoom]))
        y_pad = max(0.2, 0.15 * np.ptp(clean[zoom]))
        _draw_frontier(axes[1], labels, clean, robust, area, zoom,
                       (robust[zoom].min() - x_pad, robust[zoom].max() + 5 * x_pad),
                       (clean[zoom].min() - y_pad, clean[zoom].max() + y_pad), left_from=1.0)
        axes[1].set_title(f"Zoom: the models at or above {100 * ZOOM_ROBUST:g}% robust",
                          fontsize=HEADER_SIZE)
    if seconds.max() > 0:
        _size_legend(axes[0], longest)
    return render(fig)


def _draw_frontier(ax, labels, clean, robust, area, which, xlim, ylim, left_from=0.75):
    """Markers and labels of the points `which` (indices) on `ax`, with its
    axis limits; clean, robust in percent. Points beyond `left_from` of the
    x range are labelled on their left."""
    colours = [f"C{i % 10}" for i in which]
    ax.scatter(robust[which], clean[which], s=area[which], c=colours, alpha=0.7,
               edgecolors="black")
    width = xlim[1] - xlim[0]
    heights = _label_heights(robust[which], clean[which], gap=0.045 * (ylim[1] - ylim[0]),
                             near=0.15 * width)
    for k, y_text in heights:
        # Beside the marker (left of it near the right edge), heights spread so
        # that close points keep their labels in their own vertical order, each
        # label tied to its marker by a thin line.
        i = which[k]
        left = robust[i] > xlim[0] + left_from * width
        ax.annotate(labels[i], (robust[i], clean[i]),
                    xytext=(robust[i] + (-0.09 if left else 0.09) * width, y_text),
                    textcoords="data", ha="right" if left else "left", va="center",
                    fontsize=TITLE_SIZE, arrowprops={"arrowstyle": "-", "lw": 0.6, "color": "0.3"})
    ax.set_xlabel("robust accuracy, worst case over the attack suite (%)", fontsize=LABEL_SIZE)
    ax.set_ylabel("clean accuracy (%)", fontsize=LABEL_SIZE)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.grid(True, alpha=0.4)


# -- drawn from an evaluation result -------------------------------------------------------
def frontier_points(models: Mapping[str, dict], seconds: Mapping[str, float],
                    title: Callable[[str], str] = str) -> list[tuple]:
    """(label, clean accuracy, robust accuracy, training seconds) of every model
    with a robust suite result, for `frontier_figure`; a model missing from
    `seconds` (the original) gets 0."""
    return [(title(n), float(row["clean_accuracy"]), float(row["robust_accuracy"]),
             float(seconds.get(n, 0.0))) for n, row in models.items() if "robust_accuracy" in row]


def fig7_curves(result: dict, eps: list[float]) -> dict[str, list[float]]:
    """Fig. 7's curves: clean and LAD-example accuracy of the models
    fine-tuned per eps (when every eps has one), the original and LAD."""
    models, curves = result["models"], {}
    sweep = result["sweep_models"]
    if sweep and [e for e in eps if f"{e:g}" in sweep] == eps:
        curves["clean test: FT-eps, one model per eps (Large Adv.)"] = [
            sweep[f"{e:g}"]["clean_accuracy"] for e in eps]
        curves["LAD test examples: FT-eps (Large Adv.)"] = [
            sweep[f"{e:g}"].get("lad_accuracy", np.nan) for e in eps]
    for name, label in (("original", "original"), ("lad", "LAD, mixed eps (Small Adv.)")):
        if name in models and "lad_accuracy" in models[name]:
            curves[f"clean test: {label}"] = [models[name]["clean_accuracy"]] * len(eps)
            curves[f"LAD test examples: {label}"] = [models[name]["lad_accuracy"][f"{e:g}"]
                                                     for e in eps]
    return curves


def draw_result_figures(summaries, result: dict, eps: list[float], eps_unit: str,
                        training_seconds: Mapping[str, float], have_lad_sets: bool):
    """Writes Fig. 7 (when LAD test sets were made) and the frontier (when a
    robust suite ran) of an evaluation `result` through `summaries`.

    Args:
        summaries: a `RunSummaries`.
        eps: Fig. 7's eps (`EvaluationContext.curve_eps`); eps_unit: their unit.
        training_seconds: method -> seconds (`costs.training_seconds`).
    """
    curves = fig7_curves(result, eps) if have_lad_sets else {}
    if curves:
        summaries.image(
            "fig7_accuracy_vs_eps",
            accuracy_curves(eps, curves, f"Accuracy against LAD eps ({eps_unit} units)"),
            description="clean test accuracy and accuracy on LAD examples made from test "
                        "images, for models fine-tuned at one eps and for the original")
    points = frontier_points(result["models"], training_seconds, method_title)
    if points:
        summaries.image(
            "frontier", frontier_figure(points),
            description="clean test accuracy against robust (worst-case) accuracy on the "
                        "robust sample; marker area: training seconds (the original: 0)")


def draw_examples_figure(summaries, examples, classifier):
    """Fig. 4: FGSM / JSMA / LAD examples of the same provider images, titled
    with the original model's prediction.

    Args:
        summaries: a `RunSummaries`.
        examples: `diversity.DiversityExamples`; classifier: the original model.
    """
    x, y, lad = examples.x, examples.y, examples.lad
    rows = min(8, len(x))
    pick = np.linspace(0, len(x) - 1, rows).astype(int)
    first_jsma = np.array([np.flatnonzero(examples.jsma_source == i)[0] for i in pick])
    # LAD: the example beyond the boundary (largest eps <= 2) toward the first target
    e = max([i for i, v in enumerate(lad.eps) if v <= 2.0] or [0])
    lad_x = []
    for i in pick:
        p = int(np.flatnonzero(lad.pairs[:, 0] == y[i])[0])
        j = int(np.flatnonzero(lad.source_index[p] == i)[0])
        lad_x.append(lad.images[e, p, j])
    columns = {"original": x[pick], "FGSM": examples.x_fgsm[pick],
               "JSMA": examples.x_jsma[first_jsma], f"LAD (eps {float(lad.eps[e]):g})": np.stack(lad_x)}
    labels = {k: predict(classifier, v) for k, v in columns.items()}
    summaries.image("fig4_examples", examples_figure(columns, labels, n=rows),
                    description="FGSM / JSMA / LAD examples of the same provider images; "
                                "titles: the original model's prediction")
