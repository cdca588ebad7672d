"""`python -m lad_tf.harden --dataset svhn / celeba` end to end through the tfds
path (under `tfds.testing.mock_data`, tiny recipe overrides), and bad input."""

import json
import os
import subprocess
import sys

import keras
import pytest
from _cli import assert_clean_error, run_main
from _tiny import LAD_ONLY_FAST_EVALUATION
from test_svhn_celeba_data import small_celeba, write_mat

import lad_tf.models  # noqa: F401  (registers the classes for load_model)

pytestmark = pytest.mark.slow

# The CLI's own main(), run in a fresh process inside tfds' mock: the online
# user's path (tfds.load) without a download.
UNDER_MOCK = """
import sys
import tensorflow_datasets as tfds
from lad_tf.cli.harden import main
with tfds.testing.mock_data(num_examples=int(sys.argv[1])):
    code = main(sys.argv[2:])
sys.exit(code)
"""

TINY_MODELS = [
    "--set", 'classifier.model_args={"width": 0.0625, "latent_dim": 64}',
    "--set", 'generator.model_args={"width": 0.0625}',
    "--set", "classifier.epochs=1", "--set", "generator.epochs=1",
    "--set", "svm.epochs=2", "--set", "hardening.epochs=1",
    "--set", "evaluation.pgd_iterations=3", "--set", "data.use_tfds=true",
    *LAD_ONLY_FAST_EVALUATION,
]


def run(args, cwd, mock_examples=None, env=None):
    command = ([sys.executable, "-c", UNDER_MOCK, str(mock_examples)] if mock_examples
               else [sys.executable, "-m", "lad_tf.harden"])
    return subprocess.run(
        command + list(args), cwd=cwd, capture_output=True, text=True, timeout=900,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})})


@pytest.fixture(scope="module")
def svhn_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("svhn")
    result = run(["--dataset", "svhn", "--run-dir", str(cwd / "run"), "--export-base",
                  str(cwd / "serving"), *TINY_MODELS, "--set", "data.provider_fraction=0.5",
                  "--set", "svm.per_class=3", "--set", "svm.attention_rank=4",
                  "--set", "generation.per_class=1", "--set", "hardening.per_class=2",
                  "--set", "evaluation.per_class=2"], cwd, mock_examples=200,
                 env={"TFDS_DATA_DIR": str(cwd / "no-tfds")})
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, json.loads((cwd / "run" / "report.json").read_text())


@pytest.fixture(scope="module")
def celeba_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("celeba")
    result = run(["--dataset", "celeba", "--run-dir", str(cwd / "run"), "--export-base",
                  str(cwd / "serving"), *TINY_MODELS, "--set", "data.image_size=32",
                  "--set", "svm.per_class=5", "--set", "generation.per_class=2",
                  "--set", "hardening.per_class=3", "--set", "evaluation.per_class=3",
                  # the binary (one-logit) path through ART and the black-box CNN
                  "--set", 'evaluation.attacks=["fgsm","pgd","jsma","cw","square"]',
                  "--set", "evaluation.targeted_per_class=2", "--set", "evaluation.blackbox_epochs=1",
                  "--set", 'evaluation.transfer_attacks=["fgsm","jsma"]',
                  # JSMA may change 1% of the 3,072 inputs (ART's default 10%: up to
                  # ~150 saliency steps per image)
                  "--set", 'evaluation.attack_params={"cw": {"max_iter": 3, "binary_search_steps": 1}, '
                           '"square": {"max_iter": 5}, "jsma": {"gamma": 0.01}}'],
                 cwd, mock_examples=80, env={"TFDS_DATA_DIR": str(cwd / "no-tfds")})
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, json.loads((cwd / "run" / "report.json").read_text())


def check_common(cwd, report, export_name):
    evaluation = report["stages"]["evaluate"]
    for model in ("original", "hardened"):
        for key in ("clean_accuracy", "fgsm_accuracy", "pgd_accuracy"):
            assert 0.0 <= evaluation[model][key] <= 1.0
    assert report["stages"]["generator"]["test_mse"] > 0
    version = cwd / "serving" / export_name / "1"
    assert (version / "saved_model.pb").is_file()
    assert (cwd / "run" / "figures" / "boundary_crossing.png").stat().st_size > 500


def test_svhn_end_to_end_through_tfds(svhn_run):
    cwd, report = svhn_run
    assert report["dataset"]["source"] == "tfds:svhn_cropped"
    assert report["dataset"]["image_shape"] == [32, 32, 3]
    svm = report["stages"]["svm"]
    assert len(svm["pairs"]) == 90 and svm["attention_rank"] == 4
    assert [row["eps"] for row in report["stages"]["generate"]["sweep"]] == pytest.approx(
        [0.0, 0.05, 0.15, 0.5, 2.0])  # the paper's SVHN sweep
    assert report["stages"]["generate"]["hardening_set"]["eps"] == [0.5]
    classifier = keras.models.load_model(cwd / "run" / "classifier.keras")
    assert type(classifier).__name__ == "SvhnNet" and classifier.num_classes == 10
    check_common(cwd, report, "svhn_net_lad")


def test_celeba_end_to_end_through_tfds(celeba_run):
    cwd, report = celeba_run
    assert report["dataset"]["source"] == "tfds:celeb_a"
    assert report["dataset"]["image_shape"] == [32, 32, 3]
    assert report["dataset"]["num_classes"] == 2
    # One SVM (non-smile -> smile), used in both directions for generation.
    assert report["stages"]["svm"]["pairs"] == [[0, 1]]
    generate = report["stages"]["generate"]
    assert generate["pair_success"]["pairs"] == [[0, 1], [1, 0]]
    assert [row["eps"] for row in generate["sweep"]] == pytest.approx([0.0, 0.1, 1.0, 2.0, 3.0])
    assert generate["sweep"][0]["examples"] == 4  # 2 sources a class, 2 directions
    assert generate["hardening_set"]["examples"] == 6
    classifier = keras.models.load_model(cwd / "run" / "hardened.keras")
    assert type(classifier).__name__ == "CelebANet" and classifier.num_classes == 1
    assert classifier.image_shape == (32, 32, 3)
    original = report["stages"]["evaluate"]["original"]
    assert original["attack_examples"] == 6
    # Targeted attacks on a one-logit model: each image pushed to the other class.
    assert original["details"]["jsma"]["examples"] == 4
    for key in ("jsma_accuracy", "cw_accuracy", "square_accuracy", "transfer_fgsm_accuracy",
                "transfer_jsma_accuracy"):
        assert 0.0 <= original[key] <= 1.0, key
    check_common(cwd, report, "celeba_net_lad")


# ------------------------------------------------------------------- bad input
# The command's main() in this process: the runs above are `python -m
# lad_tf.harden` in fresh processes; a fresh process per error only adds the
# seconds of importing TensorFlow. TFDS_DATA_DIR is read when the data is
# looked up, so monkeypatch sets it for the call.

def harden_here(args, cwd, capfd):
    from lad_tf.cli.harden import main

    return run_main(main, *args, cwd=cwd, capfd=capfd)


def test_svhn_mat_without_x(tmp_path, monkeypatch, capfd):
    write_mat(tmp_path / "data" / "train_32x32.mat")
    write_mat(tmp_path / "data" / "test_32x32.mat", X=None)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    result = harden_here(["--dataset", "svhn", "--data-dir", str(tmp_path / "data")], tmp_path,
                         capfd)
    assert_clean_error(result, "test_32x32.mat", "missing variables ['X']")
    assert not (tmp_path / "runs").exists()


def test_svhn_recipe_on_images_of_another_size(tmp_path, capfd):
    result = harden_here(["--dataset", "svhn", "--set", "data.dataset=digits"], tmp_path, capfd)
    assert_clean_error(result, "digits images are 28x28x1", "made for 32x32x3 images")
    assert not (tmp_path / "runs").exists()


@pytest.fixture
def celeba_dir(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    return tmp_path, data_dir


def test_celeba_attribute_count_disagrees(celeba_dir, capfd):
    tmp_path, data_dir = celeba_dir
    small_celeba(tmp_path / "data", data_dir, count=7)
    result = harden_here(["--dataset", "celeba", "--data-dir", str(tmp_path / "data")], tmp_path,
                         capfd)
    assert_clean_error(result, "list_attr_celeba.txt", "line 1 says 7 images but the file has "
                                                       "6 rows")


@pytest.mark.parametrize("override, needles", [
    ("data.image_size=100", ("celeba_net", "multiples of 32", "data.image_size")),
    ("data.channels=1", ("celeba images are 128x128x3", "made for 128x128x1 images")),
])
def test_celeba_wrong_size_or_channels(celeba_dir, override, needles, capfd):
    tmp_path, data_dir = celeba_dir
    small_celeba(tmp_path / "data", data_dir)
    result = harden_here(["--dataset", "celeba", "--data-dir", str(tmp_path / "data"), "--set",
                          override, "--set", "data.provider_fraction=0.25"], tmp_path, capfd)
    assert_clean_error(result, *needles)
    assert not (tmp_path / "runs").exists()
