"""Issue 3 end to end on the embedded digits data: every defence of
`harden --method`, every attack, the black-box transfer, the Fig. 7 models,
the diversity measure, the figures, and `python -m lad_tf.evaluate`."""

import json

import numpy as np
import pytest
from _cli import assert_clean_error, run_main, run_module, snapshot
from _tiny import SHORT_EXPORT_CHOICE

from lad_tf.defences import DEFENCES as METHODS
from lad_tf.recipe.schema import ATTACK_NAMES

ALL_METHODS = ",".join(METHODS)
# Every method is built, hardened and scored (clean, FGSM, PGD, transfer, LAD
# examples, the robust suite); the whole white-box list (JSMA, C&W, APGD, ...)
# runs on the original and two methods, each attack's code path the same for
# every model. The others are in evaluation.reduced_methods.
FULLY_ATTACKED = ("lad", "pgd-at")
REDUCED = [m for m in METHODS if m not in FULLY_ATTACKED]
SMALL = [
    *SHORT_EXPORT_CHOICE,
    "--set", "classifier.epochs=3", "--set", "generator.epochs=2", "--set", "svm.epochs=3",
    "--set", "svm.per_class=9", "--set", "generation.per_class=2",
    "--set", "generation.eps_sweep=[1.0,3.0]", "--set", "hardening.per_class=3",
    "--set", "hardening.epochs=1", "--set", "hardening.sweep_eps=[1.0,3.0]",
    "--set", "hardening.sweep_per_class=2",
    "--set", "baselines.per_class=5", "--set", "baselines.targeted_per_class=1",
    "--set", 'baselines.attack_params={"cw": {"max_iter": 3, "binary_search_steps": 1}}',
    *[arg for section in ("pgd_at", "trades", "fast_at", "lad_fast", "lad_pgd")
      for arg in ("--set", f"{section}.epochs=1", "--set", f"{section}.steps_per_epoch=3",
                  "--set", f"{section}.steps=3")],
    "--set", "selection.per_class=2", "--set", "selection.pgd_steps=3",
    "--set", "evaluation.per_class=3", "--set", "evaluation.pgd_iterations=5",
    "--set", "evaluation.targeted_per_class=1", "--set", "evaluation.cw_per_class=1",
    "--set", "evaluation.attacks=" + json.dumps(list(ATTACK_NAMES)),
    "--set", 'evaluation.transfer_attacks=["fgsm","pgd","jsma","cw"]',
    "--set", "evaluation.reduced_methods=" + json.dumps(REDUCED),
    # JSMA changes at most 1% of the pixels (ART's gamma), about 4 saliency
    # steps: at the default 10% it took 24 of the 35 s that each fully attacked
    # model's evaluation took, and 26 of jsma-ft's 31 s (the baselines inherit it).
    "--set", 'evaluation.attack_params={"cw": {"max_iter": 3, "binary_search_steps": 1}, '
             '"jsma": {"gamma": 0.01}, '
             '"apgd": {"max_iter": 5}, "square": {"max_iter": 10}, '
             '"apgd_t": {"max_iter": 3, "n_target_classes": 2}, '
             '"pgd_restarts": {"nb_iter": 5, "restarts": 2}}',
    "--set", "evaluation.robust_per_class=1", "--set", "evaluation.masking_per_class=1",
    "--set", "evaluation.blackbox_epochs=2", "--set", "evaluation.lad_per_class=1",
    "--set", "evaluation.diversity_per_class=1",
]
# The quick evaluations below attack with FGSM and PGD and transfer FGSM only:
# what they check is the quick sizes, the separate files, the cache and
# --method; methods_run has run every attack's code path on every model.
QUICK_ATTACKS = ("--set", 'evaluation.attacks=["fgsm","pgd"]',
                 "--set", 'evaluation.transfer_attacks=["fgsm"]')


@pytest.fixture(scope="module")
def methods_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("methods")
    run_dir = cwd / "run"
    result = run_module("lad_tf.harden", "--dataset", "digits", "--run-dir", str(run_dir),
                        "--export-base", str(cwd / "serving"), "--method", ALL_METHODS, *SMALL,
                        cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, run_dir, json.loads((run_dir / "evaluation.json").read_text())


def test_every_method_is_built_and_timed(methods_run):
    _, run_dir, _ = methods_run
    harden = json.loads((run_dir / "metrics" / "harden.json").read_text())
    assert list(harden["methods"]) == list(METHODS)
    for name, info in harden["methods"].items():
        assert (run_dir / "methods" / f"{name}.keras").is_file()
        assert info["seconds"] > 0 and info["examples"] > 0, name
    assert set(harden["sweep"]) == {"1", "3"}
    choice = harden["export_choice"]  # every model judged on validation; the rule's pick
    assert set(choice["candidates"]) == {"original", *METHODS}
    assert harden["exported_method"] == choice["chosen"] == choice["best"]


def test_every_attack_scores_every_full_model(methods_run):
    _, _, evaluation = methods_run
    models = evaluation["models"]
    assert list(models) == ["original", *METHODS]
    assert [m for m in models if "jsma_accuracy" in models[m]] == ["original", *FULLY_ATTACKED]
    for name, row in models.items():
        attacks = ("fgsm", "pgd") if name in REDUCED else ATTACK_NAMES
        for attack in attacks:
            assert 0.0 <= row[f"{attack}_accuracy"] <= 1.0, (name, attack)
        for attack in ("fgsm", "pgd", "jsma", "cw"):
            assert 0.0 <= row[f"transfer_{attack}_accuracy"] <= 1.0, (name, attack)
        assert set(row["lad_accuracy"]) == {"1", "3"}
    original = models["original"]
    assert original["details"]["pgd"]["examples"] == 30  # 3 per class
    assert original["details"]["jsma"]["examples"] == 90  # 1 per class x 9 targets
    assert 0.0 <= original["jsma_target_success"] <= 1.0
    assert evaluation["hardened"] == models[evaluation["exported_method"]]


def test_robust_suite_scores_every_model_per_image(methods_run):
    _, run_dir, evaluation = methods_run
    suite = evaluation["robust"]
    assert suite["examples"] == 10 and suite["attacks"] == ["apgd", "apgd_t", "square",
                                                             "pgd_restarts"]
    for name, row in evaluation["models"].items():
        accs = [row[f"robust_{a}_accuracy"] for a in suite["attacks"]]
        assert 0.0 <= row["robust_accuracy"] <= min([*accs, row["robust_clean_accuracy"]]), name
        assert set(row["masking_checks"]) == {"high_eps", "square_vs_white_box", "more_steps"}
        per_image = np.load(run_dir / "evaluation" / f"{name}-per-image.npz")
        assert per_image["robust_apgd"].shape == (10,), name


def test_blackbox_cnn_is_trained_and_attacked(methods_run):
    _, run_dir, evaluation = methods_run
    bb = evaluation["blackbox"]
    assert bb["model"] == "blackbox_cnn" and bb["clean_accuracy"] > 0.3
    for attack in ("fgsm", "pgd", "jsma", "cw"):
        assert (run_dir / "evaluation" / f"transfer-{attack}.npz").is_file()


def test_report_has_one_table_for_every_method(methods_run):
    _, run_dir, _ = methods_run
    report = (run_dir / "report.md").read_text()
    header = next(line for line in report.splitlines() if line.startswith("| | original"))
    for method in METHODS.values():
        assert method.title in header
    for row in ("| clean |", "| hardening wall time |", "transfer FGSM", "JSMA (targeted)",
                "| cw target reached |", "Square", "APGD", "BIM-5", "MIM-5",
                "### Diversity", "### Fine-tuned at one eps", "GA (Song et al. 2018)",
                "LAD and LAD+PGD also need the generator",
                "**worst case (robust accuracy)**", "masking check (a)", "no FAB"):
        assert row in report, row


def test_diversity_counts_examples_per_source(methods_run):
    _, _, evaluation = methods_run
    div = evaluation["diversity"]
    assert div["sources"] == 10
    assert div["LAD"]["examples_per_source"] == 9 * 2  # 9 targets x 2 eps
    assert div["FGSM"]["examples_per_source"] == 6
    assert div["JSMA"]["examples_per_source"] == 9
    for method in ("LAD", "FGSM", "JSMA"):
        assert div[method]["mean_pairwise_l2"] > 0
        assert 1 <= div[method]["distinct_labels_per_source"] <= 10


def test_figures_are_written(methods_run):
    import tensorflow as tf

    _, run_dir, _ = methods_run
    tags = ("fig3_reconstructions", "fig4_examples", "fig5_pair_success", "fig6_transitions",
            "fig7_accuracy_vs_eps", "frontier")
    for tag in tags:
        assert (run_dir / "figures" / f"{tag}.png").stat().st_size > 5000, tag
    found = set()
    for path in (run_dir / "tensorboard" / "lad").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            found.update(v.tag for v in event.summary.value)
    assert set(tags) <= found


def test_evaluate_command_quick_keeps_the_full_results(methods_run, capfd):
    from lad_tf.cli.evaluate import main

    cwd, run_dir, _ = methods_run
    before = (run_dir / "evaluation.json").read_bytes()
    # two of the ten methods keep the test short; --method is tested below
    quick_args = ("--quick", "--method", "lad,pgd-at", *QUICK_ATTACKS)
    # main() in this process: test_zoo's test_benchmark_row_matches_the_evaluate_command
    # runs `python -m lad_tf.evaluate` on a run in a fresh process, and
    # test_evaluate_rejects_a_folder_that_is_not_a_run its error in one.
    result = run_main(main, run_dir, *quick_args, cwd=cwd, capfd=capfd)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training the black-box" in result.stderr  # this first run computes what it needs
    quick = json.loads((run_dir / "evaluation-quick.json").read_text())
    assert quick["quick"] and quick["models"]["original"]["details"]["pgd"]["examples"] == 30
    assert "| hardening wall time |" in (run_dir / "robustness-quick.md").read_text()
    assert (run_dir / "evaluation.json").read_bytes() == before
    # A second run (its main() in this process) reuses every cached result.
    again = run_main(main, run_dir, *quick_args, cwd=cwd, capfd=capfd)
    assert again.returncode == 0
    assert "training the black-box" not in again.stderr
    assert "evaluate: LAD examples from" not in again.stderr
    assert json.loads((run_dir / "evaluation-quick.json").read_text())["models"] == quick["models"]


def test_evaluate_method_limits_the_report_to_the_named_models(methods_run, capfd):
    """The command's main() in this process: the test above runs it as
    `python -m lad_tf.evaluate --quick --method`."""
    from lad_tf.cli.evaluate import main

    cwd, run_dir, _ = methods_run
    result = run_main(main, run_dir, "--quick", "--method", "pgd-at", *QUICK_ATTACKS, cwd=cwd,
                      capfd=capfd)
    assert result.returncode == 0, result.stderr[-3000:]
    quick = json.loads((run_dir / "evaluation-quick.json").read_text())
    assert list(quick["models"]) == ["original", "pgd-at"]
    result = run_main(main, run_dir, "--quick", "--method", "pgd-at,mart", cwd=cwd, capfd=capfd)
    assert result.returncode == 2 and "--method names ['mart']" in result.stderr
    assert "Traceback" not in result.stderr


def test_study_command_runs_a_variant_on_the_validation_split(methods_run):
    """`python -m lad_tf.study` in a fresh process (it must register the
    model classes itself) scores one variant and draws its figure."""
    cwd, run_dir, _ = methods_run
    result = run_module("lad_tf.study", str(run_dir), "--variant", "recipe", "--variant",
                        "epochs-10", cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    study = json.loads((run_dir / "study.json").read_text())
    assert study["split"] == "validation"
    assert [r["variant"] for r in study["variants"]] == ["recipe", "epochs-10"]
    assert 0 <= study["variants"][0]["validation"]["pgd20"] <= 1
    # A longer variant trains all its epochs: no early stop on a flat validation score.
    assert study["variants"][1]["epochs"] == 10
    assert (run_dir / "figures" / "lad_study.png").stat().st_size > 5000


def test_hardening_examples_never_come_from_the_test_split(methods_run):
    """The LAD set's sources index the provider split; none of those images is
    one the evaluation attacks."""
    from lad_tf.data import load_dataset
    from lad_tf.lad.boundary import GeneratedSet
    from lad_tf.utils.sampling import balanced_subset

    _, run_dir, _ = methods_run
    recipe = json.loads((run_dir / "recipe.json").read_text())
    data = load_dataset("digits", provider_fraction=recipe["data"]["provider_fraction"],
                        seed=recipe["data"]["seed"])
    made = GeneratedSet.load(run_dir / "generated.npz")
    sources = data.x_provider[np.unique(made.source_index)].reshape(-1, 28 * 28)
    attacked = data.x_test[balanced_subset(data.y_test, 3, 0)].reshape(-1, 28 * 28)
    assert not (sources[:, None, :] == attacked[None, :, :]).all(axis=2).any()


@pytest.mark.parametrize("args, needle", [
    (["/nonexistent/run"], "not a run directory"),
])
def test_evaluate_rejects_a_folder_that_is_not_a_run(tmp_path, args, needle):
    result = run_module("lad_tf.evaluate", *args, cwd=tmp_path)
    assert result.returncode == 2 and needle in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluate_only_accepts_evaluation_overrides(methods_run, capfd):
    """main() in this process (test_evaluate_rejects_a_folder_that_is_not_a_run
    checks an error of `python -m lad_tf.evaluate` itself)."""
    from lad_tf.cli.evaluate import main

    cwd, run_dir, _ = methods_run
    result = run_main(main, run_dir, "--quick", "--set", "hardening.alpha=0.1", cwd=cwd,
                      capfd=capfd)
    assert result.returncode == 2 and "only change evaluation settings" in result.stderr
    result = run_main(main, run_dir, "--quick", "--set", 'evaluation.attacks=["deepfool"]',
                      cwd=cwd, capfd=capfd)
    assert result.returncode == 2 and "unknown attacks ['deepfool']" in result.stderr


def test_harden_rejects_an_unknown_method(tmp_path):
    result = run_module("lad_tf.harden", "--method", "lad,mart", cwd=tmp_path)
    assert result.returncode == 2 and "hardening.methods" in result.stderr
    assert "mart" in result.stderr and not (tmp_path / "runs").exists()


def test_compare_puts_models_of_several_runs_in_one_table_and_frontier(methods_run, tmp_path,
                                                                       capfd):
    """`python -m lad_tf.compare`: two models of one run and one of a second
    run (a copy) in one table; a run evaluated differently is refused."""
    import shutil

    from lad_tf.cli.compare import main

    cwd, run_dir, evaluation = methods_run
    other = tmp_path / "other"
    other.mkdir()
    for name in ("evaluation.json", "recipe.json"):
        shutil.copy(run_dir / name, other / name)
    shutil.copytree(run_dir / "metrics", other / "metrics")
    out = tmp_path / "cmp"
    result = run_module("lad_tf.compare", f"{run_dir}:original=orig", f"{run_dir}:lad",
                        f"{other}:pgd-at=PGD-AT there", "--out", out,
                        "--leaderboard", tmp_path / "leaderboard.json", cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r["name"]: r for r in json.loads((tmp_path / "leaderboard.json").read_text())["models"]}
    made = rows["orig"]["command"]  # what `harden` recorded in the run's commands.json
    assert made.startswith("python -m lad_tf.harden --dataset digits --run-dir"), made
    assert str(run_dir) in made and rows["LAD (run)"]["command"] == made
    assert rows["PGD-AT there"]["command"] is None  # the copy holds no commands.json
    table = (out / "comparison.md").read_text()
    header = table.splitlines()[0]
    assert header.startswith("| | orig | LAD (run) | PGD-AT there |"), header
    worst = next(line for line in table.splitlines() if "worst case" in line)
    expected = [evaluation["models"][m]["robust_accuracy"] for m in ("original", "lad", "pgd-at")]
    assert worst.count("%") == 3
    for value in expected:
        assert f"{100 * value:.2f}%" in worst
    assert (out / "frontier.png").stat().st_size > 10_000

    changed = json.loads((other / "evaluation.json").read_text())
    changed["robust"]["eps"] = 0.5
    (other / "evaluation.json").write_text(json.dumps(changed))
    before = snapshot(out)
    result = run_main(main, f"{run_dir}:lad", f"{other}:pgd-at", "--out", out, cwd=cwd,
                      capfd=capfd)
    assert_clean_error(result, "evaluated differently", "robust suite")
    assert snapshot(out) == before
    no_recipe = tmp_path / "no-recipe"
    no_recipe.mkdir()
    shutil.copy(run_dir / "evaluation.json", no_recipe / "evaluation.json")
    for args, needle in ([[f"{run_dir}:mart"], "no robust-suite result for 'mart'"],
                         [[f"{run_dir}:lad=x", f"{run_dir}:pgd-at=x"], "same label"],
                         [["lad"], "RUN_DIR:METHOD"], [[f"{tmp_path}:lad"], "no evaluation.json"],
                         [[f"{no_recipe}:lad"], "no recipe.json"]):
        assert_clean_error(run_main(main, *args, "--out", out, cwd=cwd, capfd=capfd), needle)
