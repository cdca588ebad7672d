"""python -m lad_tf.study: LAD's knobs scored on the validation split only."""

import json

import numpy as np

from lad_tf.cli import study as study_cli
from lad_tf.recipe.schema import Recipe, recipe_from_dict
from lad_tf.studies import lad_knobs as study


def test_every_variant_is_a_valid_hardening_setting():
    base = Recipe().hardening
    for name, overrides in study.VARIANTS.items():
        fields = {k: v for k, v in overrides.items() if k != "eps_unit"}
        recipe_from_dict({"hardening": {**vars(base), **fields}})  # raises if invalid
        assert overrides.get("eps_unit", "calibrated") in ("calibrated", "raw"), name


def test_a_folder_that_is_not_a_run_is_refused(tmp_path, capsys):
    assert study_cli.main([str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_a_run_without_a_validation_split_is_refused(tmp_path, capsys, data_dir):
    (tmp_path / "recipe.json").write_text(json.dumps(
        recipe_from_dict({"data": {"dataset": "digits"}}).to_dict(), default=list))
    for name in ("classifier.keras", "generator.keras", "svm.keras"):
        (tmp_path / name).write_bytes(b"")
    assert study_cli.main([str(tmp_path)]) == 2
    assert "no validation split" in capsys.readouterr().err


def test_study_figure_draws_one_group_per_variant():
    rows = [{"variant": n, "validation": {"clean": 0.99, "fgsm": 0.1 * i, "pgd20": 0.0}}
            for i, n in enumerate(("original", "recipe", "alpha-0.25"))]
    image = study.study_figure(rows)
    assert image.ndim == 4 and image.shape[-1] == 3 and np.isfinite(image).all()
