"""lad_tf.evaluation.run: which models a run evaluates, and the header of its
result. (The whole evaluation runs end to end in test_robustness.py.)"""

import dataclasses

import numpy as np
import pytest

from lad_tf.evaluation.run import RunEvaluation
from lad_tf.recipe.schema import recipe_from_dict
from lad_tf.utils.errors import LadError


@dataclasses.dataclass
class FakeSplits:
    y_test: np.ndarray
    num_classes: int = 10


def _evaluation(tmp_path, methods=None, quick=False):
    recipe = recipe_from_dict({"hardening": {"methods": ["lad", "pgd-at", "trades"]}})
    data = FakeSplits(np.repeat(np.arange(10), 30))
    return RunEvaluation(tmp_path, recipe, data, quick=quick, methods=methods, log=lambda m: None)


def test_model_files_in_recipe_order_and_only_those_trained(tmp_path):
    with pytest.raises(LadError, match="no classifier.keras; run `python -m lad_tf.harden "
                                       "--resume --run-dir"):
        _evaluation(tmp_path).model_files()
    (tmp_path / "methods").mkdir()
    for name in ("classifier.keras", "methods/trades.keras", "methods/lad.keras"):
        (tmp_path / name).write_bytes(b"")
    assert list(_evaluation(tmp_path).model_files()) == ["original", "lad", "trades"]
    assert list(_evaluation(tmp_path, methods=["trades"]).model_files()) == ["original", "trades"]


def test_header_names_the_samples_and_the_suite(tmp_path):
    evaluation = _evaluation(tmp_path, quick=True)
    assert (tmp_path / "evaluation-quick").is_dir()
    header = evaluation.header()
    assert header["quick"] and header["settings"]["per_class"] == 3
    assert header["samples"] == {"untargeted": 30, "jsma": 90, "cw": 90}
    cfg = evaluation.ctx.cfg
    assert list(header["attack_titles"]) == list(dict.fromkeys([*cfg.attacks,
                                                                *cfg.transfer_attacks]))
    assert header["robust"]["examples"] == 20 and header["robust"]["masking_examples"] == 10
