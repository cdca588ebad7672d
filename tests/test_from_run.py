"""`harden --from-run OLD_RUN`: a new run copies the earlier run's stages and
defences whose recipe values are unchanged and trains the rest."""

import json

import pytest
from _cli import assert_clean_error, run_main, run_module
from _tiny import SHORT_EXPORT_CHOICE

SMALL = [
    "--dataset", "digits", "--set", "classifier.epochs=2", "--set", "generator.epochs=2",
    "--set", "svm.epochs=2", "--set", "svm.per_class=9", "--set", "generation.per_class=2",
    "--set", "generation.eps_sweep=[1.0]", "--set", "hardening.per_class=3",
    "--set", "hardening.epochs=1", "--set", "pgd_at.steps_per_epoch=2", "--set", "pgd_at.steps=2",
    "--set", "selection.per_class=2", "--set", "selection.pgd_steps=2",
    "--method", "lad,pgd-at", "--stop-after", "harden", *SHORT_EXPORT_CHOICE,
]


@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("from_run")
    result = run_module("lad_tf.harden", *SMALL, "--set", "pgd_at.epochs=1",
                        "--run-dir", str(cwd / "old"), cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, cwd / "old"


def test_changed_defence_budget_retrains_that_defence_only(source_run):
    cwd, old = source_run
    new = cwd / "new"
    result = run_module("lad_tf.harden", *SMALL, "--set", "pgd_at.epochs=2",
                        "--run-dir", str(new), "--from-run", str(old), cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((new / "from_run.json").read_text())
    assert summary["stages"] == ["classifier", "generator", "svm", "generate"]
    assert summary["methods"] == ["lad"]
    assert summary["figures_redrawn"] == summary["stages"]
    assert not summary["evaluation_cache"]  # the earlier run stopped before evaluating
    for name in ("classifier.keras", "generator.keras", "svm.keras", "generated.npz",
                 "metrics/generator.json", "methods/lad.keras", "methods/lad.json"):
        assert (new / name).read_bytes() == (old / name).read_bytes(), name
    assert "harden pgd-at: trained again (pgd_at changed)" in result.stderr
    assert "generator epoch" not in result.stderr  # nothing upstream was trained
    old_info = json.loads((old / "methods" / "pgd-at.json").read_text())
    new_info = json.loads((new / "methods" / "pgd-at.json").read_text())
    assert (old_info["epochs"], new_info["epochs"]) == (1, 2)
    harden = json.loads((new / "metrics" / "harden.json").read_text())
    assert list(harden["methods"]) == ["lad", "pgd-at"]
    assert (new / "figures" / "fig3_reconstructions.png").is_file()  # redrawn from the copies
    assert json.loads((new / "recipe.json").read_text())["pgd_at"]["epochs"] == 2


def test_changed_generator_trains_it_and_everything_after(source_run, capfd):
    """The command's main() in this process (the test above runs `python -m
    lad_tf.harden --from-run` in a fresh one)."""
    from lad_tf.cli.harden import main

    cwd, old = source_run
    new = cwd / "new-generator"
    result = run_main(main, *SMALL, "--set", "pgd_at.epochs=1", "--set", "generator.epochs=1",
                      "--stop-after", "generator", "--run-dir", new, "--from-run", old, cwd=cwd,
                      capfd=capfd)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((new / "from_run.json").read_text())
    assert summary["stages"] == ["classifier"]
    assert summary["changed"] == {"generator": ["generator"]}
    assert summary["methods"] == []
    assert "generator epoch 1/1" in result.stderr


def test_bad_from_run_fails_before_writing(tmp_path, capfd):
    """The command's main() in this process (the first run above is `python -m
    lad_tf.harden --from-run` in a fresh process)."""
    from lad_tf.cli.harden import main

    not_a_run = tmp_path / "empty"
    not_a_run.mkdir()
    result = run_main(main, *SMALL, "--run-dir", tmp_path / "new", "--from-run", not_a_run,
                      cwd=tmp_path, capfd=capfd)
    assert_clean_error(result, "not a run directory", "recipe.json")
    assert not (tmp_path / "new").exists()
    result = run_main(main, *SMALL, "--run-dir", not_a_run, "--resume", "--from-run", not_a_run,
                      cwd=tmp_path, capfd=capfd)
    assert_clean_error(result, "drop --resume")


def test_run_older_than_the_sweep_file_is_copied_without_redrawing(source_run, tmp_path):
    import shutil

    from lad_tf.pipeline.reuse import seed_from_run
    from lad_tf.pipeline.runner import STAGE_TABLE
    from lad_tf.recipe.schema import recipe_from_dict

    cwd, old = source_run
    older = tmp_path / "older"
    shutil.copytree(old, older)
    (older / "generated-sweep.npz").unlink()  # runs before 2026-11-30 have none
    (older / "evaluation").mkdir()
    (older / "evaluation" / "original.json").write_text("{}")
    recipe = recipe_from_dict(json.loads((older / "recipe.json").read_text()))
    new = tmp_path / "new"
    new.mkdir()
    summary = seed_from_run(older, new, recipe, STAGE_TABLE)
    assert summary["stages"] == ["classifier", "generator", "svm", "generate"]
    assert summary["figures_redrawn"] == ["classifier", "generator", "svm"]
    assert summary["methods"] == ["lad", "pgd-at"]  # same recipe: every defence copied
    assert not (new / "backup").exists()
    assert summary["evaluation_cache"] and (new / "evaluation" / "original.json").is_file()
