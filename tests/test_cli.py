"""`python -m lad_tf.harden` end to end (tiny recipe), resume, and bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _cli import assert_clean_error, run_main


def harden(*args, cwd, env=None):
    return subprocess.run(
        [sys.executable, "-m", "lad_tf.harden", *args], cwd=cwd, capture_output=True,
        text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}, timeout=600)


@pytest.fixture(scope="module")
def tiny_run(tiny_digits_run):
    """A tiny digits run stopped after generation, then resumed to the end
    (conftest.tiny_digits_run, which test_resume reads too)."""
    return tiny_digits_run


def test_first_run_stops_after_requested_stage(tiny_run):
    _, run_dir, first, _ = tiny_run
    assert "stopped after generate" in first.stderr
    assert "stage harden" not in first.stderr


def test_the_run_records_both_commands_that_made_it(tiny_run):
    from lad_tf.runs.run_dir import RunDir

    _, run_dir, _, _ = tiny_run
    made = RunDir(run_dir).made_by().split(" && ")
    assert len(made) == 2 and all(c.startswith("python -m lad_tf.harden ") for c in made)
    assert "--stop-after generate" in made[0] and made[1].endswith("--resume")


def test_resume_reuses_finished_stages(tiny_run):
    _, _, _, second = tiny_run
    for artifact in ("classifier.keras", "generator.keras", "svm.keras", "generated.npz"):
        assert f"reusing {artifact}" in second.stderr
    assert "stage harden: running" in second.stderr


def test_run_ends_with_every_model_and_the_exported_one(tiny_run):
    _, run_dir, _, second = tiny_run
    tail = second.stderr.strip().splitlines()[-5:]
    assert "every model of the run (test split; threat L-inf eps 0.1" in tail[0], \
        second.stderr[-2000:]
    assert " original " in tail[1] and " lad " in tail[2] and "clean" in tail[2]
    exported = json.loads((run_dir / "metrics" / "harden.json").read_text())["exported_method"]
    assert f"* exported: {exported} " in (tail[1] + tail[2])
    assert f"exported {exported}: chosen on the validation split" in tail[3]
    assert "serving:" in tail[4]


def test_run_directory_contents(tiny_run):
    cwd, run_dir, _, _ = tiny_run
    report = json.loads((run_dir / "report.json").read_text())
    evaluation = report["stages"]["evaluate"]
    for model in ("original", "hardened"):
        for key in ("clean_accuracy", "fgsm_accuracy", "pgd_accuracy"):
            assert 0.0 <= evaluation[model][key] <= 1.0
        assert evaluation[model]["attack_examples"] == 30  # 3 per class
    assert report["stages"]["svm"]["heldout_accuracy_mean"] > 0.5
    sweep = report["stages"]["generate"]["sweep"]
    assert [row["eps"] for row in sweep] == [0.0, 1.0, 3.0]
    assert report["stages"]["generator"]["test_mse"] > 0
    assert "| clean |" in (run_dir / "report.md").read_text()
    # TensorBoard events for each training stage and for the image summaries.
    for sub in ("classifier/train", "generator/train", "harden-lad/train", "lad"):
        assert list((run_dir / "tensorboard" / sub).glob("events.out.tfevents.*")), sub
    for figure in ("reconstructions.png", "boundary_crossing.png"):
        assert (run_dir / "figures" / figure).stat().st_size > 1000
    version = Path(report["stages"]["export"]["path"])
    assert version == cwd / "serving" / "lenet_digits_lad_demo" / "1"
    assert (version / "saved_model.pb").is_file()


def test_tensorboard_holds_the_images(tiny_run):
    import tensorflow as tf

    _, run_dir, _, _ = tiny_run
    tags = set()
    for path in (run_dir / "tensorboard" / "lad").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(v.tag for v in event.summary.value)
    assert {"reconstructions", "boundary_crossing", "generation/attack_success"} <= tags


def test_existing_run_without_resume_is_refused(tiny_run):
    cwd, run_dir, _, _ = tiny_run
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()}
    result = harden("--dataset", "digits", "--run-dir", str(run_dir), cwd=cwd)
    assert_clean_error(result, "already exists", "--resume")
    after = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()}
    assert after == before


def test_resume_refuses_a_changed_recipe(tiny_run):
    cwd, run_dir, _, _ = tiny_run
    result = harden("--dataset", "digits", "--run-dir", str(run_dir), "--resume",
                    "--set", "hardening.alpha=0.9", cwd=cwd)
    assert_clean_error(result, "change the recipe")


def test_unknown_dataset(tmp_path):
    result = harden("--dataset", "imagenet", cwd=tmp_path)
    assert_clean_error(result, "unknown dataset 'imagenet'", "mnist")
    assert not (tmp_path / "runs").exists()


def test_missing_data_folder_offline(tmp_path, monkeypatch, capfd):
    """main() in this process (the data path reads these variables when it
    runs): a fresh `python -m lad_tf.harden` costs seconds of TensorFlow
    import, and the shared tiny run above is the command's own process."""
    from lad_tf.cli.harden import main

    empty = tmp_path / "empty"
    empty.mkdir()
    for name in ("LAD_DATA_DIR", "HOME", "TFDS_DATA_DIR"):
        monkeypatch.setenv(name, str(empty))
    result = run_main(main, "--dataset", "mnist", cwd=tmp_path, capfd=capfd)
    assert_clean_error(result, "mnist.npz", "--data-dir")
    assert not (tmp_path / "runs").exists()


def test_corrupt_mnist_npz(tmp_path, monkeypatch, capfd):
    """main() in this process, as above."""
    from lad_tf.cli.harden import main

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mnist.npz").write_bytes(b"this is not a zip file")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    result = run_main(main, "--dataset", "mnist", "--data-dir", tmp_path / "data", cwd=tmp_path,
                      capfd=capfd)
    assert_clean_error(result, "mnist.npz")
    assert not (tmp_path / "runs").exists()


def test_bad_override(tmp_path):
    result = harden("--set", "hardening.alpha=2", cwd=tmp_path)
    assert_clean_error(result, "hardening.alpha must be in [0, 1]")
    result = harden("--set", "hardening.nonsense=1", cwd=tmp_path)
    assert_clean_error(result, "unknown key(s) ['nonsense']")


def test_help_explains_every_option(tmp_path):
    result = harden("--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--dataset", "--recipe", "--set", "--data-dir", "--run-dir", "--resume",
                   "--export-base", "--stop-after", "--method", "--export-method",
                   "--allow-weak-model"):
        assert option in result.stdout


def test_last_lines_show_every_model_and_mark_the_export():
    """The run ends with clean and worst-case accuracy of every model it
    built, the exported one marked with the rule that chose it, the threat and
    the suite named, and where TF Serving finds it (PGD-40 without a suite)."""
    from lad_tf.pipeline.runner import bought_lines

    models = {"original": {"clean_accuracy": 0.9924, "robust_accuracy": 0.0},
              "lad": {"clean_accuracy": 0.9930, "robust_accuracy": 0.0},
              "pgd-at": {"clean_accuracy": 0.9838, "robust_accuracy": 0.837}}
    suite = {"attacks": ["apgd", "square"], "examples": 1000,
             "titles": {"pgd": "PGD-40", "apgd": "APGD-CE (100 steps)",
                        "square": "Square (5000 queries)"}}
    choice = {"forced": False, "examples": 200, "rule": "highest validation worst case ...",
              "warning": None, "candidates": {"pgd-at": {"clean": 0.99, "worst_case": 0.9}}}
    metrics = {"evaluate": {"models": models, "robust": suite},
               "harden": {"export_choice": choice}, "export": {"path": "export/models/m/3"}}
    lines = bought_lines(metrics, "pgd-at", 0.3)
    assert lines[0] == ("every model of the run (test split; threat L-inf eps 0.3; worst case per "
                        "image over APGD-CE (100 steps), Square (5000 queries), 1000 images):")
    assert "original" in lines[1] and "99.24%" in lines[1] and "exported" not in lines[1]
    assert "lad" in lines[2] and "99.30%" in lines[2] and "exported" not in lines[2]
    assert "* exported: pgd-at" in lines[3] and "98.38%" in lines[3] and "83.70%" in lines[3]
    assert "chosen on the validation split" in lines[4] and "90.00%" in lines[4]
    assert "export/models/m/3" in lines[5] and "--method NAME" in lines[5]
    forced = {**metrics, "harden": {"export_choice": {**choice, "forced": True,
                                                      "warning": "7.00 points below"}}}
    assert "as asked (--export-method); warning: 7.00 points below" in \
        bought_lines(forced, "lad", 0.3)[4]
    no_suite = {"original": {"clean_accuracy": 0.99, "pgd_accuracy": 0.0},
                "lad": {"clean_accuracy": 0.98, "pgd_accuracy": 0.5}}
    lines = bought_lines({"evaluate": {"models": no_suite}}, "lad", 0.3)
    assert "threat L-inf eps 0.3; PGD-40)" in lines[0] and "PGD-40  50.00%" in lines[2]
    with_lad = {name: {**row, "lad_accuracy": {"1": 0.9, "2": lad}}
                for (name, row), lad in zip(models.items(), (0.6089, 0.87, 0.5))}
    lines = bought_lines({"evaluate": {"models": with_lad}}, "lad+pgd", 0.3)
    assert lines[1].endswith("LAD examples (eps 2)  60.89%")
    assert lines[2].endswith("LAD examples (eps 2)  87.00%")
    lines = bought_lines({"evaluate": {"models": with_lad}}, "lad+pgd", 0.3, lad_eps=1.0)
    assert lines[1].endswith("LAD examples (eps 1)  90.00%")
    assert bought_lines({}, "lad", 0.3) == []
