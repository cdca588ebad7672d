"""Which test images each attack of the evaluation runs on (paper Sec. IV-D1).

The draws themselves are `lad_tf.utils.sampling`'s seeded, class-balanced subsets;
here they are chosen per attack and per check.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lad_tf.attacks import ATTACKS
from lad_tf.utils.sampling import balanced_subset, targeted_subset


@dataclasses.dataclass
class AttackSample:
    """The test images an attack runs on: untargeted (target None) or targeted.

    Attributes:
        index: int [M] indices into the test split.
        target: int [M] target classes, or None for an untargeted attack.
    """

    index: np.ndarray
    target: np.ndarray | None


def sample_for(cfg, name: str, y_test: np.ndarray, num_classes: int) -> AttackSample:
    """The sample of attack `name`: `per_class` images per class when
    untargeted; when targeted, `targeted_per_class` (C&W: `cw_per_class`
    where set) images per class, each x every other class as target."""
    if ATTACKS[name].targeted:
        per_class = cfg.cw_per_class if (name == "cw" and cfg.cw_per_class) else cfg.targeted_per_class
        idx, target = targeted_subset(y_test, per_class, num_classes, cfg.seed)
        return AttackSample(idx, target)
    return AttackSample(balanced_subset(y_test, cfg.per_class, cfg.seed), None)


def sample_sizes(cfg, y_test: np.ndarray, num_classes: int) -> dict:
    """evaluation.json's "samples": the untargeted sample's size and each
    targeted attack's number of examples."""
    return {"untargeted": int(len(balanced_subset(y_test, cfg.per_class, cfg.seed))),
            **{a: int(len(sample_for(cfg, a, y_test, num_classes).index))
               for a in cfg.attacks if ATTACKS[a].targeted}}


def robust_samples(cfg, y_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Test-split indices of the robust sample and of masking check (a)'s
    images (the first masking_per_class per class of the same draw)."""
    return (balanced_subset(y_test, cfg.robust_per_class, cfg.seed),
            balanced_subset(y_test, cfg.masking_per_class, cfg.seed))
