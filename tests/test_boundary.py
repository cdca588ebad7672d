"""Generation bookkeeping: source selection and the per-eps statistics."""

import numpy as np
import pytest

from lad_tf.lad.boundary import GeneratedSet, select_sources


def test_select_sources_is_balanced_and_seeded():
    labels = np.repeat(np.arange(3), 20)
    pairs = [(0, 1), (0, 2), (1, 0), (2, 1)]
    idx = select_sources(labels, pairs, per_class=5, seed=3)
    assert idx.shape == (4, 5)
    for row, (s, _) in zip(idx, pairs):
        assert np.all(labels[row] == s)
    np.testing.assert_array_equal(idx[0], idx[1])  # one draw per source class
    np.testing.assert_array_equal(idx, select_sources(labels, pairs, 5, seed=3))
    with pytest.raises(ValueError, match="only 20 examples"):
        select_sources(labels, pairs, per_class=21)


def make_set():
    # 2 eps x 2 pairs x 2 sources; pairs (0 -> 1) and (1 -> 0).
    # eps 0: one of four leaves its source (and lands on its target 0);
    # eps 1: all four leave, three land on their target.
    pred_image = np.array([[[0, 0], [1, 0]],
                           [[1, 2], [0, 0]]])
    pred_latent = np.array([[[0, 0], [1, 1]],
                            [[1, 1], [0, 0]]])
    return GeneratedSet(
        eps=np.array([0.0, 1.0], "float32"), pairs=np.array([[0, 1], [1, 0]]),
        source_index=np.array([[0, 1], [2, 3]]),
        images=np.random.default_rng(0).random((2, 2, 2, 4, 4, 1)).astype("float32"),
        pred_image=pred_image, pred_latent=pred_latent)


def test_stats_numbers():
    rows = make_set().stats()
    assert [r["attack_success"] for r in rows] == [0.25, 1.0]
    assert [r["targeted_success"] for r in rows] == [0.25, 0.75]
    assert [r["latent_success"] for r in rows] == [0.0, 1.0]
    assert [r["inconsistency"] for r in rows] == [0.25, 0.25]
    np.testing.assert_allclose(make_set().pair_success(), [[0.0, 0.5], [1.0, 1.0]])


def test_training_set_keeps_source_labels(tmp_path):
    generated = make_set()
    x, y = generated.training_set()
    assert x.shape == (8, 4, 4, 1)
    assert sorted(y.tolist()) == [0, 0, 0, 0, 1, 1, 1, 1]
    x_inc, y_inc = generated.training_set(only_inconsistent=True)
    assert len(x_inc) == 2 and y_inc.tolist() == [1, 0]
    generated.save(tmp_path / "g.npz")
    again = GeneratedSet.load(tmp_path / "g.npz")
    np.testing.assert_array_equal(again.images, generated.images)
    assert again.stats() == generated.stats()
