"""python -m lad_tf.ga_study end to end on a tiny digits run, its cache, its errors,
and the judge's rates."""

import json
import shutil

import keras
import numpy as np
import pytest

from lad_tf.cli import ga_study as ga_study_cli
from lad_tf.recipe.schema import recipe_from_dict
from lad_tf.studies.ga import study as ga_study
from lad_tf.studies.ga.acgan import train_acgan
from lad_tf.studies.ga.judge import judge_rates

STUDY_ARGS = ["--steps", "3", "--per-class", "2", "--whitebox-per-class", "1",
              "--ft-per-class", "2", "--sample-per-class", "2", "--targeted-per-class", "1",
              "--judge-epochs", "1", "--batch-size", "8", "--check-steps", "4",
              "--check-per-class", "1"]


def _classifier(name, data, epochs=1):
    from lad_tf.defences import classification_loss
    from lad_tf.models import build_classifier

    keras.utils.set_random_seed(0)
    model = build_classifier(name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=classification_loss(10))
    model.fit(data.x_train, data.y_train, batch_size=64, epochs=epochs, verbose=0)
    return model


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run directory with what the study reads, made directly (no pipeline):
    a digits LeNet as the original and as two "defences", a black-box CNN, an
    untrained generator, and a 6-step AC-GAN."""
    from lad_tf.data import load_dataset
    from lad_tf.models import build_generator

    root = tmp_path_factory.mktemp("ga-study")
    run = root / "run"
    for folder in ("methods", "evaluation"):
        (run / folder).mkdir(parents=True)
    recipe = recipe_from_dict({
        "data": {"dataset": "digits", "validation_fraction": 0.1},
        "selection": {"per_class": 2}, "hardening": {"epochs": 1},
        "evaluation": {"attack_params": {"cw": {"max_iter": 2, "binary_search_steps": 1},
                                         "jsma": {"gamma": 0.02}}}})
    (run / "recipe.json").write_text(json.dumps(recipe.to_dict(), default=list))
    data = load_dataset("digits")
    lenet = _classifier("lenet", data)
    lenet.save(run / "classifier.keras")
    shutil.copy(run / "classifier.keras", run / "methods" / "lad.keras")
    shutil.copy(run / "classifier.keras", run / "methods" / "lad-eps-1.keras")
    _classifier("blackbox_cnn", data).save(run / "evaluation" / "blackbox.keras")
    build_generator("mnist_generator", latent_dim=lenet.latent_dim).save(run / "generator.keras")
    train_acgan(root / "acgan", dataset="digits", steps=6, batch_size=32, latent_dim=16,
                channels=8, n_critic=1, chunk=6, pooling="flatten", log=lambda _: None,
                xla=False)  # six steps: XLA's compilation would be most of their time
    return run, root / "acgan" / "acgan" / "acgan.keras"


def test_the_study_writes_every_part_and_reuses_its_cache(tiny_run):
    run, acgan = tiny_run
    assert ga_study_cli.main([str(run), "--acgan", str(acgan), *STUDY_ARGS]) == 0
    results = ga_study.read_results(run)
    assert set(results) == set(ga_study.PARTS)
    assert results["samples"]["n"] == 20 and 0 <= results["samples"]["lenet_accuracy"] <= 1
    assert results["samples"]["spread_ratio"] > 0
    assert 0 <= results["judge"]["test_accuracy"] <= 1
    # Table III's GA row: the original, the defence and the smallest FT-eps model.
    assert set(results["transfer"]["accuracy"]) == {"original", "lad", "FT-1"}
    assert results["transfer"]["crafting"]["n"] == 20
    assert set(results["whitebox"]) - {"part_seconds"} == {"original", "lad", "FT-1"}
    # The same LeNet file under two names meets the same GA search: the same result.
    assert results["whitebox"]["original"]["accuracy"] == results["whitebox"]["lad"]["accuracy"]
    assert 0 <= results["ga-ft"]["clean_accuracy"] <= 1 and results["ga-ft"]["examples"] == 20
    assert {"JSMA (targeted)", "C&W-L2 (targeted)", "GA, crafted on the black-box CNN",
            "GA, white box on the original"} <= set(results["rates"])
    assert set(results["steps"]) - {"part_seconds"} == {"3", "4"}
    report = (run / "ga" / "report.md").read_text()
    for heading in ("## AC-GAN samples", "## The label-keeping judge", "Table III, GA row",
                    "Table IV, GA-FT row", "## GA as a white-box attack",
                    "still show its source class"):
        assert heading in report, heading
    for figure in ("ga_judge.png", "ga_samples.png"):
        assert (run / "figures" / figure).stat().st_size > 0
    # A second call with the same settings reads its parts from the cache.
    lines = []
    settings = ga_study_cli._parse([str(run), "--acgan", str(acgan), *STUDY_ARGS])
    settings = ga_study.GASettings(**{f: getattr(settings, f)
                                      for f in ga_study.GASettings.__dataclass_fields__})
    ga_study.run_study(run, acgan, settings, ["samples", "transfer"], log=lines.append)
    assert sum("(cached)" in line for line in lines) == 2, lines


def test_ga_ft_never_restores_an_older_studys_selection(tiny_run):
    """Older studies kept GA-FT's best validation weights in ga/ga-ft/. A
    rerun under a new key (here another seed) must train afresh, not restore
    what is there (zeroed weights with a perfect score)."""
    run, acgan = tiny_run
    stale = keras.saving.load_model(run / "classifier.keras")
    stale.set_weights([np.zeros_like(w) for w in stale.get_weights()])
    folder = run / "ga" / "ga-ft"
    folder.mkdir(parents=True, exist_ok=True)
    stale.save_weights(str(folder / "best.weights.h5"))
    (folder / "best.json").write_text(json.dumps(
        {"epoch": 1, "val_clean_accuracy": 1.0, "val_robust_accuracy": 1.0, "score": 1e9}))
    settings = ga_study_cli._parse([str(run), "--acgan", str(acgan), *STUDY_ARGS, "--seed", "1"])
    settings = ga_study.GASettings(**{f: getattr(settings, f)
                                      for f in ga_study.GASettings.__dataclass_fields__})
    ga_study.run_study(run, acgan, settings, ["ga-ft"], log=lambda _: None)
    trained = keras.saving.load_model(run / "ga" / "ga-ft.keras", compile=False)
    assert sum(float(np.abs(w).sum()) for w in trained.get_weights()) > 0


def test_parts_of_another_study_are_neither_reused_nor_read_back(tiny_run):
    """Every part's file carries its study's key (settings, AC-GAN, model files):
    a part planted under another key is computed afresh, and `read_results`
    returns only the parts of the run's latest study (it used to return every
    part file it found)."""
    run, acgan = tiny_run
    folder = run / "ga"
    folder.mkdir(exist_ok=True)
    for part in ("samples", "transfer"):
        (folder / f"{part}.json").write_text(json.dumps(
            {"key": "another study", "result": {"n": -1, "planted": True}}))
    settings = ga_study_cli._parse([str(run), "--acgan", str(acgan), *STUDY_ARGS, "--seed", "2"])
    settings = ga_study.GASettings(**{f: getattr(settings, f)
                                      for f in ga_study.GASettings.__dataclass_fields__})
    lines = []
    ga_study.run_study(run, acgan, settings, ["samples"], log=lines.append)
    assert not any("(cached)" in line for line in lines), lines
    results = ga_study.read_results(run)
    assert results["samples"]["n"] == 20 and "planted" not in results["samples"]
    assert "transfer" not in results  # on disk, but another study's


def test_bad_input_is_one_clear_line(tiny_run, tmp_path, capsys):
    run, acgan = tiny_run
    cases = [([str(tmp_path), "--acgan", str(acgan)], "recipe.json is missing"),
             ([str(run), "--acgan", str(tmp_path / "none.keras")], "none.keras is missing"),
             ([str(run), "--acgan", str(acgan), "--parts", "tables"], "unknown GA study part"),
             ([str(run), "--acgan", str(acgan), "--steps", "-1"], "must be >= 1"),
             ([str(run), "--acgan", str(acgan), "--method", "nosuch", "--parts", "samples"],
              "has no ['nosuch']"),
             ([str(run), "--acgan", str(acgan), "--model", "x=" + str(tmp_path / "no.keras")],
              "--model takes LABEL=PATH")]
    for argv, message in cases:
        assert ga_study_cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err, err


def test_judge_rates_count_changed_images():
    source = np.array([0, 0, 1, 1])
    attacked = np.array([5, 0, 7, 3])  # examples 0, 2, 3 leave their source
    judge = np.array([5, 0, 1, 3])  # the judge reads 0 and 3 as the new class
    r = judge_rates(judge, source, attacked)
    assert r["attack_success"] == 0.75 and r["keeps_source"] == 0.5
    assert r["changed_count"] == 2 and r["changed"] == 0.5 and r["reads_other"] == 0.5
    # Targeted: only the target counts as the new class.
    r = judge_rates(judge, source, attacked, target=np.array([5, 5, 7, 7]))
    assert r["attack_success"] == 0.5 and r["changed_count"] == 1
