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


def test_a_stale_variant_row_under_another_key_is_not_read(tmp_path, monkeypatch, data_dir):
    """RUN/study/<variant>.json used to be read by the variant's name alone, so a
    row left by another classifier, recipe or split came back as this run's."""
    import keras

    run = tmp_path / "run"
    run.mkdir()
    (run / "recipe.json").write_text(json.dumps(
        recipe_from_dict({"data": {"dataset": "digits", "validation_fraction": 0.1},
                          "selection": {"per_class": 2}}).to_dict(), default=list))
    for name in ("classifier.keras", "generator.keras", "svm.keras"):
        (run / name).write_bytes(b"model")
    (run / "study").mkdir()
    stale = {"variant": "recipe", "validation": {"clean": 0.5, "fgsm": 0.5, "pgd20": 0.5},
             "seconds": 1.0}
    (run / "study" / "recipe.json").write_text(json.dumps({"key": "another run", "result": stale}))
    fresh = {"clean": 0.9, "fgsm": 0.1, "pgd20": 0.0}
    calls = []

    def run_variant(run_dir, recipe, data, pieces, name, overrides):
        calls.append(name)
        return {"variant": name, "validation": fresh, "seconds": 0.0}

    monkeypatch.setattr(keras.models, "load_model", lambda path: path)  # no real models here
    monkeypatch.setattr(study, "score", lambda model, x, y, eps=0.3: fresh)
    monkeypatch.setattr(study, "run_variant", run_variant)
    result = study.run_study(run, ["recipe"])
    assert calls == ["recipe"] and result["variants"][0]["validation"] == fresh
    assert study.run_study(run, ["recipe"])["variants"][0]["validation"] == fresh
    assert calls == ["recipe"]  # the second time from the cache, under this run's key
    (run / "classifier.keras").write_bytes(b"another model")
    study.run_study(run, ["recipe"])
    assert calls == ["recipe", "recipe"]  # a new classifier is a new key
