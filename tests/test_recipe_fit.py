"""Issue 23, "a recipe that fits the user's data": the recipe's per-class counts
against the classes of every split (`lad_tf.recipe.fit`), before anything is
trained. Your data lowers the counts that do not fit; a zoo dataset stops with
one `error:` line that gives a --set that fits; a class too small for any
recipe stops with one line that names it and the images a class needs.
(`test_recipe_fit_run.py` runs the mnist recipe end to end on a small folder.)
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _cli import assert_clean_error, run_main, snapshot
from _folders import mnist_digits, write_png_folder

from lad_tf.cli.harden import main as harden_main
from lad_tf.recipe.fit import (
    CAPPED,
    STRICT,
    fit_recipe,
    min_class_images,
    misfit_message,
    refit,
    too_few_message,
    with_values,
)
from lad_tf.recipe.schema import load_recipe

# A folder of 30 images per class under the mnist recipe (20% test, then 1/6
# provider, 4% validation): what `test_recipe_fit_run.py` meets.
COUNTS = {"train": [20] * 10, "validation": [1] * 8 + [0, 0], "provider": [4] * 9 + [5],
          "test": [6] * 10}
NAMES = [f"c{k}" for k in range(10)]


def test_strict_counts_are_lowered_to_the_smallest_class_of_their_split():
    recipe = load_recipe("mnist")
    counts = {**COUNTS, "provider": [9, 7, 4, 8, 9, 9, 9, 9, 9, 5]}  # class c2 is the smallest
    fit = fit_recipe(recipe, counts, NAMES)
    assert not fit.problems
    lowered = {c["key"]: (c["from"], c["to"], c["split"], c["class"]) for c in fit.changes}
    assert lowered == {
        "svm.per_class": (200, 4, "provider", "c2"),
        "generation.per_class": (50, 4, "provider", "c2"),
        "hardening.per_class": (200, 4, "provider", "c2"),
        "hardening.sweep_per_class": (50, 4, "provider", "c2"),
        "evaluation.diversity_per_class": (5, 4, "provider", "c2"),
        "evaluation.lad_per_class": (10, 6, "test", "c0"),
    }
    r = fit.recipe
    assert (r.svm.per_class, r.generation.per_class, r.hardening.per_class,
            r.hardening.sweep_per_class, r.evaluation.diversity_per_class,
            r.evaluation.lad_per_class) == (4, 4, 4, 4, 4, 6)
    # Only those keys changed; the draws that take at most what a class has are listed.
    assert r == with_values(recipe, {key: to for key, (_, to, _, _) in lowered.items()})
    assert (r.evaluation.per_class, r.selection.per_class) == (450, 100)
    capped = {c["key"]: (c["value"], c["images"]) for c in fit.capped}
    assert capped["evaluation.per_class"] == (450, 6) and capped["selection.per_class"] == (100, 0)
    assert "evaluation.cw_per_class" not in capped  # null in the mnist recipe: targeted_per_class


def test_every_per_class_key_of_the_recipe_is_checked_once():
    keys = [key for key, _ in STRICT] + [key for key, _ in CAPPED]
    recipe = load_recipe("mnist").to_dict()
    in_recipe = sorted(f"{section}.{key}" for section, values in recipe.items()
                       if isinstance(values, dict) for key in values if "per_class" in key)
    assert sorted(keys) == in_recipe


def test_counts_that_fit_and_draws_that_are_off_change_nothing():
    recipe = load_recipe("digits")  # no Fig. 7 sweep, no diversity measure
    big = {split: [400] * 10 for split in COUNTS}
    assert fit_recipe(recipe, big).recipe is recipe
    small = {**big, "provider": [8] * 10}  # below hardening.sweep_per_class 10, unused here
    fit = fit_recipe(recipe, small)
    assert [c["key"] for c in fit.changes] == ["svm.per_class", "generation.per_class",
                                              "hardening.per_class"]
    assert fit.recipe.hardening.sweep_per_class == 10  # no hardening.sweep_eps
    assert fit.recipe.evaluation.diversity_per_class == 0  # off


def test_a_class_too_small_for_any_recipe_is_a_problem_not_a_change():
    recipe = load_recipe("mnist")
    counts = {**COUNTS, "provider": [4] * 9 + [2], "test": [6] * 9 + [0], "train": [20] * 9 + [1]}
    fit = fit_recipe(recipe, counts, NAMES)
    assert fit.recipe is recipe
    assert [(p["class"], p["split"], p["images"], p["total"]) for p in fit.problems] == [
        ("c9", "provider", 2, 3), ("c9", "test", 0, 3)]
    message = too_few_message(fit, 1 / 6, 0.2, "the folder")
    assert "class 'c9' has 3 images, 2 in the provider split and 0 in the test split" in message
    assert "at least 23 images in the folder" in message


@pytest.mark.parametrize("provider_fraction", [1 / 6, 0.25, 0.5])
def test_the_minimum_class_size_is_enough_under_the_split_rule(provider_fraction):
    """A class of min_class_images images gets >= 3 provider and >= 1 test
    images beside any other classes (the split rule's worst rounding)."""
    from lad_tf.data.splits import split_indices

    least = min_class_images(provider_fraction, 0.2)
    assert least == {1 / 6: 23, 0.25: 15, 0.5: 8}[provider_fraction]
    rng = np.random.default_rng(0)
    for _ in range(200):
        sizes = [least, *rng.integers(1, 60, size=rng.integers(1, 12))]
        labels = np.repeat(np.arange(len(sizes)), sizes)
        index = split_indices("t", labels, provider_fraction, int(rng.integers(0, 5)),
                              0.04, test_fraction=0.2)
        assert np.sum(labels[index["provider"]] == 0) >= 3
        assert np.sum(labels[index["test"]] == 0) >= 1


def test_one_image_fewer_can_be_too_few():
    """The mnist recipe's 23 is tight: 22 images beside nine classes of 6 give
    the class 5 test images and only 2 provider images."""
    from lad_tf.data.splits import split_indices

    labels = np.repeat(np.arange(10), [22] + [6] * 9)
    index = split_indices("t", labels, 1 / 6, 0, 0.04, test_fraction=0.2)
    assert np.sum(labels[index["test"]] == 0) == 5
    assert np.sum(labels[index["provider"]] == 0) == 2
    counts = {split: np.bincount(labels[i], minlength=10).tolist() for split, i in index.items()}
    problems = fit_recipe(load_recipe("mnist"), counts).problems  # the 6s are too few too
    assert [(p["split"], p["images"]) for p in problems if p["class"] == "0"] == [("provider", 2)]


def test_a_resumed_run_compares_equal_after_the_runs_own_changes():
    recipe = load_recipe("mnist", None, ["generator.epochs=1"])
    fit = fit_recipe(recipe, COUNTS)
    assert refit(recipe, fit.changes) == fit.recipe
    other = load_recipe("mnist", None, ["generator.epochs=1", "svm.per_class=150"])
    assert refit(other, fit.changes).svm.per_class == 150  # another ask is not the run's


def test_zoo_message_gives_a_set_that_fits_for_every_count():
    fit = fit_recipe(load_recipe("mnist"), COUNTS)
    message = misfit_message(fit.changes, "mnist")
    for change in fit.changes:
        assert f"{change['key']}={change['from']} but" in message
        assert f"--set {change['key']}={change['to']})" in message


# -- the command: one error line, exit code 2, nothing written ---------------------------
def test_zoo_dataset_lists_every_count_that_does_not_fit(tmp_path, capfd):
    from lad_tf.data import load_dataset

    digits = load_dataset("digits", provider_fraction=0.25, validation_fraction=0.1)
    provider = np.bincount(digits.y_provider).min()
    test = np.bincount(digits.y_test).min()
    result = run_main(harden_main, "--dataset", "digits", "--set", "svm.per_class=500",
                      "--set", "evaluation.lad_per_class=100", "--run-dir", tmp_path / "run",
                      cwd=tmp_path, capfd=capfd)
    assert_clean_error(result, "more images per class than the digits data hold",
                       "svm.per_class=500 but the provider split's smallest class",
                       f"has {provider} images (--set svm.per_class={provider})",
                       f"(--set evaluation.lad_per_class={test})")
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def short_class_folder(data_dir, tmp_path_factory):
    """Real MNIST digits, 30 of each class but 2 of class 7."""
    images, labels = mnist_digits(data_dir, 30)
    keep = (labels != 7) | (np.cumsum(labels == 7) <= 2)
    return write_png_folder(tmp_path_factory.mktemp("data") / "short", images[keep], labels[keep])


def test_a_class_of_two_images_stops_and_leaves_every_file(short_class_folder, tmp_path, capfd):
    from lad_tf.data.own_data import data_fingerprint

    run_dir = tmp_path / "runs" / "earlier"  # an earlier run of the folder, resumed: kept
    (run_dir / "metrics").mkdir(parents=True)
    (run_dir / "recipe.json").write_text(json.dumps(load_recipe("mnist").to_dict()))
    (run_dir / "data.json").write_text(json.dumps({
        "path": str(short_class_folder), "kind": "folder",
        "fingerprint": data_fingerprint(short_class_folder), "image_shape": [28, 28, 1]}))
    serving = tmp_path / "serving" / "lenet_mnist_lad" / "1"
    serving.mkdir(parents=True)
    (serving / "saved_model.pb").write_bytes(b"an export that must stay")
    before = snapshot(tmp_path)
    for args in (["--run-dir", tmp_path / "runs" / "new"], ["--run-dir", run_dir, "--resume"]):
        result = run_main(harden_main, "--data", short_class_folder, "--dataset", "mnist",
                          "--export-base", tmp_path / "serving", *args, cwd=tmp_path, capfd=capfd)
        assert_clean_error(result, "too few images to harden: class '7' has 2 images",
                           "every class needs 3 in the provider split",
                           "at least 23 images in the folder", "20% held out as the test split")
        assert snapshot(tmp_path) == before
    assert not (tmp_path / "runs" / "new").exists()
