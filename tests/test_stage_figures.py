"""The figures of the generation stage are drawn from its saved files
(lad_tf.pipeline.stages.figures), with no model and no training."""

import types

import numpy as np

from lad_tf.lad.boundary import GeneratedSet
from lad_tf.pipeline.run import Run
from lad_tf.pipeline.stages.figures import generation_figures
from lad_tf.pipeline.stages.generate import sweep_path
from lad_tf.utils.monitoring import RunSummaries


def test_generation_figures_read_the_saved_sweep(tmp_path):
    rng = np.random.default_rng(0)
    pairs = np.array([(s, t) for s in range(3) for t in range(3) if s != t])
    eps = np.array([0.0, 1.0, 2.0])
    E, P, N = len(eps), len(pairs), 4
    full = GeneratedSet(eps, pairs, rng.integers(0, 12, (P, N)),
                        rng.random((E, P, N, 8, 8, 1)).astype("float32"),
                        rng.integers(0, 3, (E, P, N)), rng.integers(0, 3, (E, P, N)))
    first = full.first_examples()
    assert first.images.shape == (E, P, 1, 8, 8, 1)
    np.testing.assert_array_equal(first.images[:, :, 0], full.images[:, :, 0])
    first.save(sweep_path(tmp_path))
    assert not list(tmp_path.glob("*.tmp"))  # written atomically

    data = types.SimpleNamespace(x_provider=rng.random((12, 8, 8, 1)).astype("float32"),
                                 num_classes=3)
    run = Run(tmp_path, None, data, None, False, True, RunSummaries(tmp_path), "")
    metrics = {"sweep": full.stats(), "pair_success": {"rate": full.pair_success().tolist()}}
    generation_figures(run, metrics)
    for name in ("boundary_crossing", "fig5_pair_success", "fig6_transitions"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 0, name
