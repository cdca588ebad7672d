"""One reader of a run (issue 26): `python -m lad_tf.evaluate` sees the run's
split as the pipeline made it, and the transfer cache is keyed by that split."""

import json
from pathlib import Path

import numpy as np
import pytest

from lad_tf.data import load_recipe_data
from lad_tf.evaluation import evaluate_run
from lad_tf.recipe.schema import load_recipe
from lad_tf.utils.errors import LadError


def _run_dir(tmp_path, dataset="digits"):
    """A run directory as the pipeline writes it before its first stage."""
    recipe = load_recipe(dataset, None, [])
    run = tmp_path / "run"
    run.mkdir()
    (run / "recipe.json").write_text(json.dumps(recipe.to_dict(), default=list))
    return run, recipe


class _Stop(Exception):
    pass


def test_evaluate_command_trains_the_blackbox_on_the_pipelines_training_split(
        tmp_path, monkeypatch):
    """The digits recipe carves a validation split out of the training data;
    the pipeline's stages (and its evaluate stage) train on what is left. The
    evaluate command used to reload the dataset without the validation
    fraction, so its black-box CNN trained on train + validation."""
    run, recipe = _run_dir(tmp_path)
    assert recipe.data.validation_fraction > 0
    pipeline_data = load_recipe_data(recipe.data)  # what `open_run` gives every stage
    seen = {}

    class Recorder:  # stands in for the evaluation: records the data it is given
        def __init__(self, run_dir, recipe, data, **kwargs):
            seen["data"] = data
            raise _Stop

    monkeypatch.setattr(evaluate_run, "RunEvaluation", Recorder)
    with pytest.raises(_Stop):
        evaluate_run.evaluate_run_dir(run)
    data = seen["data"]
    assert len(data.y_validation) == len(pipeline_data.y_validation) > 0
    np.testing.assert_array_equal(data.y_train, pipeline_data.y_train)
    # the same images: one loader, but the resize may run in another batch shape (1e-6 is far
    # below one grey level, 1/255)
    np.testing.assert_allclose(data.x_train, pipeline_data.x_train, rtol=0, atol=1e-6)


def test_a_blackbox_cached_for_another_split_is_trained_again(tmp_path):
    """The black-box CNN's cache was keyed by its settings only: a CNN trained
    on train + validation (the evaluate command's old split) was read back
    for the pipeline's split. Its key now holds the training split."""
    from types import SimpleNamespace

    from lad_tf.data import load_dataset
    from lad_tf.evaluation import transfer
    from lad_tf.models import build_classifier
    from lad_tf.recipe.schema import EvaluationConfig
    from lad_tf.utils.cache import write_keyed_json
    from lad_tf.utils.files import cache_key

    cfg = EvaluationConfig(blackbox_epochs=1)
    data = load_dataset("digits", validation_fraction=0.1)
    settings = {"model": cfg.blackbox_model, "epochs": cfg.blackbox_epochs, "seed": cfg.seed}
    build_classifier(cfg.blackbox_model, num_classes=10,
                     image_shape=data.image_shape).save(tmp_path / "blackbox.keras")
    write_keyed_json(tmp_path / "blackbox.json", cache_key(settings),  # a key without the split
                     {"settings": settings, "clean_accuracy": -1.0, "seconds": 0.0})
    ctx = SimpleNamespace(cfg=cfg, data=data, folder=tmp_path, num_classes=10,
                          log=lambda _: None)
    _, meta = transfer.train_blackbox(ctx)
    assert meta["clean_accuracy"] >= 0  # trained here, not the planted entry
    assert transfer.train_blackbox(ctx)[1] == meta  # and cached under the split's key
    whole = load_dataset("digits")  # the same settings, train + validation
    assert transfer.blackbox_key(cfg, whole) != transfer.blackbox_key(cfg, data)


def test_a_folder_without_recipe_is_no_run(tmp_path):
    from lad_tf.runs.run_dir import RunDir

    with pytest.raises(LadError, match="not a run directory"):
        RunDir(tmp_path)
    run, _ = _run_dir(tmp_path)
    assert RunDir(run).model_path("original") == run / "classifier.keras"
    assert RunDir(run).model_path("pgd-at") == run / "methods" / "pgd-at.keras"


def test_the_commands_that_made_a_run_are_recorded_in_order(tmp_path):
    """`python -m lad_tf.harden` appends its command to RUN/commands.json
    (the leaderboard's `command`); a run made before that reads as None, and
    an unreadable file is started afresh rather than breaking the run."""
    from lad_tf.runs.run_dir import COMMANDS_FILE, RunDir, record_command

    run, _ = _run_dir(tmp_path)
    assert RunDir(run).made_by() is None
    record_command(run, "python -m lad_tf.harden --dataset digits --stop-after svm")
    record_command(run, "python -m lad_tf.harden --dataset digits --resume")
    assert RunDir(run).made_by() == ("python -m lad_tf.harden --dataset digits --stop-after svm"
                                     " && python -m lad_tf.harden --dataset digits --resume")
    (run / COMMANDS_FILE).write_text("{not json")
    record_command(run, "python -m lad_tf.harden --dataset digits")
    assert RunDir(run).made_by() == "python -m lad_tf.harden --dataset digits"


def test_model_cards_name_no_machine_path(monkeypatch, tmp_path):
    """`export_model` writes its card through `portable_paths`: the data folder
    becomes $LAD_DATA_DIR, the working folder a relative path, home `~`."""
    from lad_tf.utils.files import portable_paths

    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("LAD_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)
    card = {"dataset": {"source": f"file:{data}/celeba/list_attr_celeba.txt"},
            "run_dir": str(tmp_path / "runs" / "a"), "seed": 3,
            "paths": [str(Path.home() / "x"), "runs/b"]}
    assert portable_paths(card) == {
        "dataset": {"source": "file:$LAD_DATA_DIR/celeba/list_attr_celeba.txt"},
        "run_dir": "runs/a", "seed": 3, "paths": ["~/x", "runs/b"]}
