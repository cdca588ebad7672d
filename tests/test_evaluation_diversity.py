"""lad_tf.evaluation.diversity: the distances and label counts it reports."""

import numpy as np
import pytest

from lad_tf.evaluation.diversity import diversity_stats


def test_diversity_stats_on_known_distances():
    source = np.zeros((2, 2, 1), "float32")
    groups = [np.stack([np.full((2, 2, 1), v, "float32") for v in (0.0, 0.5, 1.0)])]
    stats = diversity_stats(groups, [[0, 1, 1]], [source], [(0, 1), (0, 1), (0, 2)])
    # per-pixel gaps 0.5, 1, 0.5 over 4 pixels -> L2 1, 2, 1
    assert stats["mean_pairwise_l2"] == pytest.approx(4 / 3)
    assert stats["mean_l2_to_source"] == pytest.approx((0 + 1 + 2) / 3)
    assert stats["distinct_labels_per_source"] == 2
    assert stats["distinct_label_paths"] == 2 and stats["label_paths"] == 3
    assert "distinct_label_paths" not in diversity_stats(groups, [[0, 1, 1]], [source], None)
