"""lad_tf.lad.figures: the training stages' figures (Figs. 3, 5, 6) render to a
non-blank [1, H, W, 3] image; RunSummaries writes them."""

from __future__ import annotations

import numpy as np
import pytest

from lad_tf.lad import figures

EPS = [0.1, 2.0, 5.0, 10.0, 20.0]
MNIST_PAIRS = np.array([(s, t) for s in range(10) for t in range(10) if s != t])


def _images(n, size=28, channels=1, seed=0):
    return np.random.default_rng(seed).random((n, size, size, channels)).astype("float32")


def assert_rgb_image(image):
    """The shape and range RunSummaries.image expects, and something drawn."""
    assert image.dtype == np.float32
    assert image.ndim == 4 and image.shape[0] == 1 and image.shape[-1] == 3
    assert 100 <= image.shape[1] <= 2000 and 100 <= image.shape[2] <= 2000
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert image.std() > 0.01


@pytest.mark.parametrize("channels", [1, 3])
def test_reconstruction_figure(channels):
    x = _images(20, channels=channels)
    assert_rgb_image(figures.reconstruction_figure(x, 1 - x, n=16))
    assert_rgb_image(figures.reconstruction_figure(x[:3], x[:3]))   # fewer than n
    with pytest.raises(ValueError, match="same shape"):
        figures.reconstruction_figure(x, x[:5])


def test_pair_success_heatmap_mnist():
    rate = np.random.default_rng(0).random((len(EPS), len(MNIST_PAIRS)))
    assert_rgb_image(figures.pair_success_heatmap(rate, MNIST_PAIRS, EPS, num_classes=10))


def test_pair_success_heatmap_draws_the_rates():
    """All-0 and all-1 rates give different pixels: the data is really drawn."""
    shape = (len(EPS), len(MNIST_PAIRS))
    low = figures.pair_success_heatmap(np.zeros(shape), MNIST_PAIRS, EPS, 10)
    high = figures.pair_success_heatmap(np.ones(shape), MNIST_PAIRS, EPS, 10)
    assert low.shape == high.shape
    # 90 cells out of 100 per map change colour, a large share of the figure.
    assert np.mean(np.any(np.abs(low - high) > 0.1, axis=-1)) > 0.1


@pytest.mark.parametrize("pairs", [[[0, 1]], [[0, 1], [1, 0]]])
def test_pair_success_heatmap_binary(pairs):
    rate = np.linspace(0, 1, 3 * len(pairs)).reshape(3, len(pairs))
    assert_rgb_image(figures.pair_success_heatmap(rate, np.array(pairs), [1, 2, 3], num_classes=2))


def test_pair_success_heatmap_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"rate must be \[E, P\] = \(5, 90\).*\(5, 89\)"):
        figures.pair_success_heatmap(np.zeros((5, 89)), MNIST_PAIRS, EPS, 10)
    with pytest.raises(ValueError, match=r"\(4, 90\)"):
        figures.pair_success_heatmap(np.zeros((4, 90)), MNIST_PAIRS, EPS, 10)
    with pytest.raises(ValueError, match=r"pairs must be \[P, 2\]"):
        figures.pair_success_heatmap(np.zeros((1, 3)), np.arange(3), [1.0], 10)
    with pytest.raises(ValueError, match="source != target"):
        figures.pair_success_heatmap(np.zeros((1, 1)), [[1, 1]], [1.0], 2)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        figures.pair_success_heatmap(np.zeros((1, 1)), [[0, 2]], [1.0], 2)


def test_transition_figure():
    rows = np.random.default_rng(0).random((2, 6, 28, 28, 1)).astype("float32")
    predicted = np.array([[0, 0, 0, 5, 5, 5], [1, 1, 7, 3, 7, 7]])
    assert_rgb_image(figures.transition_figure(rows, predicted, [0, 4, 8, 12, 16, 20],
                                               ["0 -> 5", "1 -> 7"]))
    with pytest.raises(ValueError, match="predicted must be"):
        figures.transition_figure(rows, predicted[:, :5], [0, 4, 8, 12, 16, 20], ["a", "b"])


def test_render_closes_pyplot_figures():
    plt = pytest.importorskip("matplotlib.pyplot")
    fig = plt.figure(figsize=(2, 2), dpi=100)
    fig.add_subplot().plot([0, 1], [0, 1])
    image = figures.render(fig)
    assert image.shape == (1, 200, 200, 3) and image.dtype == np.float32
    assert not plt.fignum_exists(fig.number)


def test_run_summaries_writes_the_png(tmp_path):
    from lad_tf.utils.monitoring import RunSummaries

    rate = np.random.default_rng(0).random((2, 2))
    image = figures.pair_success_heatmap(rate, [[0, 1], [1, 0]], [1.0, 2.0], num_classes=2)
    RunSummaries(tmp_path).image("fig5", image)
    png = tmp_path / "figures" / "fig5.png"
    assert png.stat().st_size > 1000
    assert any((tmp_path / "tensorboard" / "lad").iterdir())
