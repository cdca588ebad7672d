"""lad_tf.evaluation.figures: Figs. 4 and 7 and the frontier render to a
non-blank [1, H, W, 3] image, and are drawn from an evaluation result."""

from __future__ import annotations

import numpy as np
import pytest
from test_figures import EPS, _images, assert_rgb_image

from lad_tf.evaluation import figures


def test_examples_figure():
    x = _images(10)
    columns = {"original": x, "FGSM": x * 0.5, "JSMA": 1 - x, "LAD": x ** 2}
    labels = {name: np.arange(10) % 10 for name in columns}
    assert_rgb_image(figures.examples_figure(columns, labels, n=8))
    # A method without labels is drawn untitled rather than failing.
    del labels["original"]
    assert_rgb_image(figures.examples_figure(columns, labels, n=4))


def test_accuracy_curves():
    curves = {"LeNet (clean)": [0.99] * len(EPS),                    # horizontal reference
              "fine-tuned (clean)": [0.992, 0.99, 0.98, 0.95, 0.9],
              "Adv. LeNet": [np.nan, 0.6, 0.7, 0.8, 0.9]}
    assert_rgb_image(figures.accuracy_curves(EPS, curves, "MNIST"))
    with pytest.raises(ValueError, match="one value per eps"):
        figures.accuracy_curves(EPS, {"short": [0.5, 0.6]}, "MNIST")


def test_frontier_figure_is_an_rgb_image():
    points = figures.frontier_points(
        {"original": {"clean_accuracy": 0.99, "robust_accuracy": 0.0},
         "pgd-at": {"clean_accuracy": 0.98, "robust_accuracy": 0.9},
         "lad": {"clean_accuracy": 0.99, "robust_accuracy": 0.05},
         "no-suite": {"clean_accuracy": 0.9}}, {"pgd-at": 1200.0, "lad": 300.0})
    assert [p[0] for p in points] == ["original", "pgd-at", "lad"] and points[0][3] == 0.0
    image = figures.frontier_figure(points)
    assert image.dtype == np.float32 and image.ndim == 4 and image.shape[0] == 1
    assert image.shape[-1] == 3 and 0.0 <= image.min() and image.max() <= 1.0
    assert image.std() > 0.01
    with pytest.raises(ValueError, match="at least one point"):
        figures.frontier_figure([])


def test_frontier_zooms_on_three_or_more_robust_models():
    """Robust defences a point apart get a second, zoomed panel: the image
    is wider than with one robust model."""
    one = figures.frontier_figure([("original", 0.99, 0.0, 0.0), ("pgd-at", 0.988, 0.9, 10.0)])
    three = figures.frontier_figure([("original", 0.99, 0.0, 0.0), ("pgd-at", 0.988, 0.9, 10.0),
                                     ("trades", 0.99, 0.877, 9.0), ("lad+pgd", 0.987, 0.871, 8.0)])
    assert three.shape[1] == one.shape[1] and three.shape[2] > 1.5 * one.shape[2]


def test_frontier_labels_of_close_points_keep_their_vertical_order():
    """Two defences 1.4 points apart: the higher point's label stays above
    the lower one's, at least the gap apart (they once looked swapped)."""
    heights = dict(figures._label_heights(np.array([0.0, 82.3, 83.7]),
                                          np.array([99.24, 98.54, 98.38]), gap=0.3))
    assert heights[0] == 99.24  # far from the others: at its own height
    assert heights[1] == 98.54 and heights[2] <= heights[1] - 0.3


def test_fig7_curves_from_a_result():
    eps = [1.0, 3.0]
    result = {"models": {"original": {"clean_accuracy": 0.99, "lad_accuracy": {"1": 0.5, "3": 0.25}},
                         "pgd-at": {"clean_accuracy": 0.9}},
              "sweep_models": {"1": {"clean_accuracy": 0.98, "lad_accuracy": 0.75},
                               "3": {"clean_accuracy": 0.97}}}
    curves = figures.fig7_curves(result, eps)
    assert curves == {"clean test: FT-eps, one model per eps (Large Adv.)": [0.98, 0.97],
                      "LAD test examples: FT-eps (Large Adv.)": [0.75, pytest.approx(np.nan,
                                                                                   nan_ok=True)],
                      "clean test: original": [0.99, 0.99],
                      "LAD test examples: original": [0.5, 0.25]}
    del result["sweep_models"]["3"]  # a missing eps: no FT-eps curves
    assert list(figures.fig7_curves(result, eps)) == ["clean test: original",
                                                      "LAD test examples: original"]


def test_draw_result_figures_writes_fig7_and_the_frontier(tmp_path):
    from lad_tf.utils.monitoring import RunSummaries

    row = {"clean_accuracy": 0.99, "robust_accuracy": 0.1, "lad_accuracy": {"1": 0.5, "3": 0.2}}
    result = {"models": {"original": row, "lad": {**row, "robust_accuracy": 0.3}},
              "sweep_models": {}}
    figures.draw_result_figures(RunSummaries(tmp_path), result, [1.0, 3.0], "latent",
                                {"lad": 60.0}, have_lad_sets=True)
    for tag in ("fig7_accuracy_vs_eps", "frontier"):
        assert (tmp_path / "figures" / f"{tag}.png").stat().st_size > 5000, tag
