"""Issue 13, check 5: `svm.targets=nearest` fits only each class's k nearest
classes, chosen by the measure `svm.nearest_by` names, and the run goes end to
end with it (SVMs, generation, hardening, evaluation, study, report)."""

import json

import numpy as np
import pytest
from _cli import run_main

from lad_tf.lad.targets import AUTO_NEAREST_ABOVE, choose_targets, resolve_mode
from lad_tf.recipe.schema import load_recipe
from lad_tf.utils.errors import LadError


def nearest_recipe(k=3, measure="mean_distance"):
    return load_recipe("mnist", overrides=["svm.targets=nearest", f"svm.k={k}",
                                           f"svm.nearest_by={measure}"]).svm


def hand_ranked(key, k):
    """Per source s: the k other classes in order of (key[s, t], t), by plain Python."""
    K = key.shape[0]
    return [[t for _, t in sorted((key[s, t], t) for t in range(K) if t != s)[:k]]
            for s in range(K)]


def assert_choice(choice, expected, k):
    assert choice.mode == "nearest" and choice.k == k
    assert [choice.nearest[s] for s in range(10)] == expected
    assert choice.pairs == [(s, t) for s in range(10) for t in expected[s]]
    # One SVM per unordered pair that a direction needs; the other direction
    # uses it negated.
    assert choice.svm_pairs == sorted({(min(p), max(p)) for p in choice.pairs})
    assert 10 * k / 2 <= len(choice.svm_pairs) <= 10 * k
    # Not the trivial choice "the next k class indices": the measure decides.
    assert expected != [[t for t in range(10) if t != s][:k] for s in range(10)]


def test_nearest_by_class_mean_latent_distance(provider_latents):
    z, y = provider_latents  # a real LeNet's 500-d latents of 3,000 provider images
    choice = choose_targets(nearest_recipe(3, "mean_distance"), 10, z, y)
    means = [z[y == c].astype("float64").mean(axis=0) for c in range(10)]
    distance = np.array([[np.linalg.norm(means[s] - means[t]) for t in range(10)]
                         for s in range(10)])
    assert_choice(choice, hand_ranked(distance, 3), 3)
    # The chosen classes are nearer than every class left out.
    for s in range(10):
        kept = distance[s, choice.nearest[s]]
        left = [distance[s, t] for t in range(10) if t != s and t not in choice.nearest[s]]
        assert kept.max() <= min(left)


def test_nearest_by_the_models_confusions(mnist, trained_lenet, provider_latents):
    z, y = provider_latents
    logits = np.asarray(trained_lenet.head(z))
    choice = choose_targets(nearest_recipe(3, "confusion"), 10, z, y, logits)
    # By hand, from the whole model f(x) on the same provider images.
    full = np.asarray(trained_lenet(mnist.x_provider[:3000])).astype("float64")
    probs = np.exp(full - full.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    counts = np.zeros((10, 10))
    for label, predicted in zip(y, full.argmax(1)):
        counts[label, predicted] += 1
    mean_prob = np.array([probs[y == c].mean(0) for c in range(10)])
    # Most confused first; ties in the count go to the higher mean probability.
    expected = [[t for *_, t in sorted((-counts[s, t], -mean_prob[s, t], t)
                                       for t in range(10) if t != s)[:3]] for s in range(10)]
    assert_choice(choice, expected, 3)
    assert counts[np.arange(10), np.arange(10)].sum() > 0.9 * len(y)  # a real, accurate model


def test_auto_turns_nearest_on_above_20_classes():
    cfg = load_recipe("mnist").svm
    assert cfg.targets == "auto"
    assert resolve_mode(cfg, 10) == "all"
    assert resolve_mode(cfg, AUTO_NEAREST_ABOVE) == "all"
    assert resolve_mode(cfg, AUTO_NEAREST_ABOVE + 1) == "nearest"


@pytest.mark.parametrize("override, message", [
    ("svm.k=0", "svm.k must be an integer >= 1"),
    ("svm.k=2.5", "svm.k must be an integer >= 1"),
    ("svm.nearest_by=cosine", "svm.nearest_by must be one of"),
    ("svm.targets=some", "svm.targets must be one of"),
])
def test_bad_values_are_recipe_errors(override, message):
    with pytest.raises(LadError, match=message):
        load_recipe("digits", overrides=[override])


def test_k_not_below_the_class_count_is_refused():
    with pytest.raises(LadError, match=r"svm.k must be in \[1, 9\] for 10 classes.*svm.k=10"):
        resolve_mode(nearest_recipe(10), 10)
    assert resolve_mode(nearest_recipe(9), 10) == "nearest"


def test_k_too_large_stops_the_cli_before_training(tmp_path, capfd):
    """The command's main() in this process (the shared tiny run is `python -m
    lad_tf.harden` with svm.targets=nearest in a fresh process)."""
    from lad_tf.cli.harden import main

    run_dir = tmp_path / "run"
    result = run_main(main, "--dataset", "digits", "--run-dir", run_dir, "--set",
                      "svm.targets=nearest", "--set", "svm.k=10", cwd=tmp_path, capfd=capfd)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "svm.k must be in [1, 9] for 10 classes" in errors[0], result.stderr
    assert not run_dir.exists()


def test_nearest_targets_run_end_to_end(tiny_digits_run, tmp_path):
    """The shared tiny digits run (conftest.tiny_digits_run, `python -m
    lad_tf.harden`) fits its SVMs with svm.targets=nearest, k 3, by confusion."""
    import shutil

    run_dir = tmp_path / "run"  # a copy: the study below adds its files
    shutil.copytree(tiny_digits_run[1], run_dir)
    svm = json.loads((run_dir / "metrics" / "svm.json").read_text())
    targets = svm["targets"]
    # confusion: the pipeline's own path (f_p on the provider latents); the
    # choice itself is checked against a hand computation above.
    assert (targets["mode"], targets["measure"], targets["k"]) == ("nearest", "confusion", 3)
    pairs = [tuple(p) for p in targets["pairs"]]
    # Chosen from the run's own model on the provider split (not the test split).
    import keras

    import lad_tf.models  # noqa: F401 (registers the classes for loading)
    from lad_tf.data import load_recipe_data
    from lad_tf.lad.targets import nearest_by_confusion
    from lad_tf.recipe.schema import recipe_from_dict

    data = load_recipe_data(recipe_from_dict(json.loads((run_dir / "recipe.json").read_text())).data)
    logits = np.asarray(keras.models.load_model(run_dir / "classifier.keras")(data.x_provider))
    expected = nearest_by_confusion(logits, data.y_provider, 10, 3)
    assert [targets["nearest"][str(s)] for s in range(10)] == expected.tolist()
    assert len(pairs) == 30 and all(len(targets["nearest"][str(s)]) == 3 for s in range(10))
    # The SVM stage fitted only the unordered pairs that generation needs.
    assert svm["pairs"] == targets["svm_pairs"] == [list(p) for p in
                                                    sorted({(min(p), max(p)) for p in pairs})]
    assert len(svm["heldout_accuracy"]) == len(svm["pairs"]) < 45
    generated = np.load(run_dir / "generated.npz")
    assert [tuple(p) for p in generated["pairs"]] == pairs  # only pairs with an SVM
    generate = json.loads((run_dir / "metrics" / "generate.json").read_text())
    assert generate["pair_success"]["pairs"] == [list(p) for p in pairs]
    assert generate["sweep"][0]["examples"] == 30 * 2  # 30 pairs x 2 sources
    harden = json.loads((run_dir / "metrics" / "harden.json").read_text())
    assert harden["generated_examples"] == 30 * 3 * 2  # 30 pairs x 3 sources x 2 eps
    lad_test = np.load(run_dir / "evaluation" / "lad-test-set.npz")
    assert [tuple(p) for p in lad_test["pairs"]] == pairs
    assert (run_dir / "figures" / "fig5_pair_success.png").is_file()
    assert "3 nearest classes by confusion, 30 generation pairs" in (
        run_dir / "report.md").read_text()
    # The study generates along the run's pairs too (in this process:
    # test_robustness runs `python -m lad_tf.study` itself).
    from lad_tf.studies.lad_knobs import run_study

    run_study(run_dir, ["recipe"])
    row = json.loads((run_dir / "study.json").read_text())["variants"][0]
    assert row["examples"] == 30 * 3 * 2
