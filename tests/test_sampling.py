"""lad_tf.utils.sampling and lad_tf.evaluation.samples: which images each attack runs on."""

import dataclasses

import numpy as np

from lad_tf.evaluation.samples import robust_samples, sample_for, sample_sizes
from lad_tf.recipe.schema import EvaluationConfig
from lad_tf.utils.sampling import balanced_subset, targeted_subset


def test_balanced_subset():
    labels = np.repeat(np.arange(4), [5, 10, 10, 2])
    idx = balanced_subset(labels, 3, seed=0)
    assert np.bincount(labels[idx]).tolist() == [3, 3, 3, 2]
    np.testing.assert_array_equal(idx, balanced_subset(labels, 3, seed=0))


def test_targeted_subset_pairs_every_image_with_every_other_class():
    labels = np.repeat(np.arange(10), 7)
    idx, target = targeted_subset(labels, 5, 10, seed=0)
    assert len(idx) == 5 * 10 * 9
    assert not np.any(labels[idx] == target)
    for image in np.unique(idx):  # each image once per other class
        assert sorted(target[idx == image]) == sorted(set(range(10)) - {labels[image]})
    idx2, target2 = targeted_subset(np.array([0, 1, 1, 0]), 2, 2)
    assert (target2 == 1 - np.array([0, 1, 1, 0])[idx2]).all()


def test_each_attack_gets_its_sample():
    y = np.repeat(np.arange(10), 20)
    cfg = dataclasses.replace(EvaluationConfig(), per_class=4, targeted_per_class=2,
                              cw_per_class=1, robust_per_class=3, masking_per_class=1)
    pgd, jsma, cw = (sample_for(cfg, a, y, 10) for a in ("pgd", "jsma", "cw"))
    assert pgd.target is None and len(pgd.index) == 40
    assert len(jsma.index) == 2 * 10 * 9 and len(cw.index) == 1 * 10 * 9
    assert not np.any(y[jsma.index] == jsma.target)
    assert sample_sizes(cfg, y, 10) == {"untargeted": 40, "jsma": 180, "cw": 90}
    robust, masking = robust_samples(cfg, y)
    assert len(robust) == 30 and len(masking) == 10
    # Masking check (a) reads the first images per class of the robust sample's draw.
    assert set(masking) <= set(robust)
