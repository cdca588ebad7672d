"""What every kind of result reads: the run, its data, the evaluation
settings and where results are cached; and how a run's model files load."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import keras

from lad_tf import models
from lad_tf.lad import attention_svm
from lad_tf.utils.cache import ResultCache
from lad_tf.utils.files import fingerprint
from lad_tf.utils.shared_models import shared_model

# EvaluationConfig fields that only the threats beyond L-inf read.
THREAT_FIELDS = ("threats", "l2_eps", "l2_attack_params", "spatial", "corruptions",
                 "corruptions_source", "ga_searches", "ga_steps", "ga_acgan")

# Imported for their side effect: they register the classes a run's files hold.
_REGISTERED = (attention_svm, models)


def load_model(path: Path) -> keras.Model:
    """A `.keras` file of a run (classifier, generator, SVM or defended model),
    shared read-only within the process (`lad_tf.utils.shared_models`)."""
    return shared_model(path)


@dataclasses.dataclass(frozen=True)
class EvaluationContext:
    """The inputs shared by every kind of result.

    Attributes:
        run_dir: a run of `python -m lad_tf.harden`.
        recipe: its resolved `Recipe`.
        data: its `DatasetSplits` (x_test float32 [N, H, W, C] in [0, 1], ...).
        cfg: the EvaluationConfig in force (`--quick` sizes applied).
        folder: where results are cached (`evaluation/` or `evaluation-quick/`).
        log: print-like progress output.
    """

    run_dir: Path
    recipe: object
    data: object
    cfg: object
    folder: Path
    log: Callable = print

    @property
    def num_classes(self) -> int:
        return self.data.num_classes

    def settings(self) -> dict:
        """The evaluation settings as a dict (evaluation.json's "settings")."""
        return dataclasses.asdict(self.cfg)

    def key_settings(self) -> dict:
        """The settings the L-inf results depend on (their cache key): all but
        the threat settings, which key each threat's own cache
        (`lad_tf.evaluation.threats`), so that naming another threat reruns
        nothing else, and caches written before threats existed stay valid."""
        return {k: v for k, v in self.settings().items() if k not in THREAT_FIELDS}

    def curve_eps(self) -> list[float]:
        """The eps of Fig. 7 and of the LAD test sets: hardening.sweep_eps, else
        generation.eps_sweep."""
        hard = self.recipe.hardening
        return [float(e) for e in (hard.sweep_eps or self.recipe.generation.eps_sweep)]

    def cache(self, name: str, model_path: Path) -> ResultCache:
        """The result cache of model `name`, valid for this file version and these settings."""
        return ResultCache(self.folder, name, fingerprint(model_path), self.key_settings())
