"""Issue 24: the zoo ships hardened SavedModels, loads them in one line, lists
and serves them, and judges your own model by the same protocol."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import keras
import numpy as np
import pytest
import tensorflow as tf
from _cli import assert_clean_error, run_main, run_module

import lad_tf.zoo
from lad_tf.cli.zoo import main as zoo_main
from lad_tf.utils.sampling import balanced_subset

SHIPPED = [(dataset, row) for dataset in lad_tf.zoo.datasets()
           for row in lad_tf.zoo.leaderboard(dataset)]


def test_the_zoo_ships_mnist_pgd_at():
    assert "pgd-at" in lad_tf.zoo.names("mnist")


def _test_split(dataset: str, row: dict, mnist):
    """(x_test, y_test) of the split the row was judged on: the MNIST fixture,
    else the dataset read with the row's data section (the run's)."""
    if dataset == "mnist":
        return mnist.x_test, mnist.y_test
    from lad_tf.data import load_recipe_data
    from lad_tf.recipe.schema import DataConfig

    key = json.dumps(row["data"], sort_keys=True)
    if key not in _SPLITS:
        data = load_recipe_data(DataConfig(**row["data"]), None)
        _SPLITS[key] = (data.x_test, data.y_test)
    return _SPLITS[key]


_SPLITS: dict = {}


def _predicted(logits: np.ndarray) -> np.ndarray:
    """Classes from logits: argmax, or logit > 0 for a one-logit (sigmoid) model."""
    return logits.argmax(-1) if logits.shape[-1] > 1 else (logits[:, 0] > 0).astype(int)


@pytest.mark.parametrize("dataset, row", SHIPPED, ids=[f"{d}-{r['name']}" for d, r in SHIPPED])
def test_every_shipped_saved_model_answers_as_its_row(dataset, row, mnist):
    """Its signatures, its card, and its clean accuracy on the card's
    class-balanced test images (1,000 for MNIST) equal to its leaderboard
    row's within 0.2 points."""
    path = lad_tf.zoo.saved_model_path(dataset, row["name"])
    assert (path / "saved_model.pb").is_file() and path.parent.parent.name == "serving"
    served = tf.saved_model.load(str(path))
    assert {"serving_default", "predict_image_bytes", "model_card"} <= set(served.signatures)
    card = json.loads((path / "assets" / "model_card.json").read_text())
    assert card["dataset"]["name"] == dataset and card["method_key"] == row["name"]
    x_test, y_test = _test_split(dataset, row, mnist)
    classes = max(2, int(y_test.max()) + 1)
    idx = balanced_subset(y_test, row["worst_case_images"] // classes, 0)
    assert len(idx) == row["worst_case_images"] == (1000 if dataset == "mnist" else len(idx))
    logits = np.concatenate([served.signatures["serving_default"](
        images=tf.constant(x_test[idx[i:i + 500]]))["logits"].numpy()
        for i in range(0, len(idx), 500)])
    clean = float(np.mean(_predicted(logits) == y_test[idx]))
    assert abs(clean - row["suite_images_clean_acc"]) <= 0.002
    assert row["worst_case_acc"] <= min(row["attacks"].values()) + 1e-9
    # The Keras file holds the same weights: the same logits (float32, same ops).
    model = lad_tf.zoo.load_model(dataset, row["name"])
    np.testing.assert_allclose(np.asarray(model(x_test[idx[:64]])), logits[:64], atol=1e-4)


def test_list_prints_the_leaderboard(capfd):
    result = run_main(zoo_main, "list", "mnist", cwd=".", capfd=capfd)
    assert result.returncode == 0
    assert "pgd-at" in result.stdout and "worst case" in result.stdout


@pytest.mark.parametrize("args, needles", [
    (["list", "imagenet"], ("no zoo models for 'imagenet'", "mnist")),
    (["serve", "mnist", "resnet"], ("no zoo model 'resnet' for mnist", "pgd-at")),
])
def test_unknown_names_are_one_error_line_listing_what_is_there(args, needles, capfd):
    assert_clean_error(run_main(zoo_main, *args, cwd=".", capfd=capfd), *needles)


def test_python_unknown_names_raise_a_clear_error():
    from lad_tf.utils.errors import LadError

    with pytest.raises(LadError, match="it ships .*pgd-at"):
        lad_tf.zoo.load_model("mnist", "nope")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_one_rest_request(mnist):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lad_tf.zoo", "serve", "mnist", "pgd-at", "--rest-port", str(port),
         "--grpc-port", str(_free_port()), "--seconds", "90"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    try:
        body = json.dumps({"signature_name": "serving_default",
                           "instances": mnist.x_test[:2].tolist()}).encode()
        deadline, reply = time.monotonic() + 80, None
        while reply is None and time.monotonic() < deadline:  # bounded: the server starts
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/models/pgd-at:predict", data=body,
                    headers={"Content-Type": "application/json"})
                reply = json.loads(urllib.request.urlopen(request, timeout=10).read())
            except OSError:
                time.sleep(1)
        assert reply is not None, server.stderr.read() if server.poll() is not None else ""
        classes = [p["classes"] for p in reply["predictions"]]
        assert classes == mnist.y_test[:2].tolist()
    finally:
        server.terminate()
        server.wait(timeout=30)


def _small_model(softmax: bool = False) -> keras.Model:
    keras.utils.set_random_seed(0)
    layers = [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    if softmax:
        layers.append(keras.layers.Softmax())
    return keras.Sequential(layers)


SHORT = ["--set", "evaluation.robust_per_class=1", "--set", "evaluation.masking_per_class=1",
         "--set", 'evaluation.attack_params={"apgd":{"max_iter":2},"apgd_t":{"max_iter":2,'
                  '"n_target_classes":2},"square":{"max_iter":5},'
                  '"pgd_restarts":{"nb_iter":2,"restarts":1},"pgd":{"nb_iter":2}}']


@pytest.mark.parametrize("softmax", [False, True])
def test_benchmark_your_model_prints_a_row_and_its_command(softmax, tmp_path, mnist_dir, capfd):
    """The command's main() in this process (conftest imports ART first, so its
    logger keeps the real stderr); test_benchmark_row_matches_the_evaluate_command
    runs `python -m lad_tf.zoo benchmark` in a fresh process."""
    model = _small_model(softmax)
    model.save(tmp_path / "mine.keras")
    result = run_main(zoo_main, "benchmark", tmp_path / "mine.keras", "--dataset", "mnist",
                      "--data-dir", mnist_dir, "--cache-dir", tmp_path / "cache", *SHORT,
                      cwd=tmp_path, capfd=capfd)  # --data-dir: $LAD_DATA_DIR may be relative
    assert result.returncode == 0, result.stderr[-2000:]
    row_line, command = result.stdout.strip().splitlines()[-2:]
    assert row_line.startswith("mine") and "worst case" in row_line and "(10 images" in row_line
    assert command.startswith("reproduce: python -m lad_tf.zoo benchmark")
    assert ("read log(p) as its logits" in result.stderr) == softmax


def test_benchmark_row_matches_the_evaluate_command(tiny_digits_run, tmp_path):
    """Issue 24, check 3: one model, one short suite, two commands, one number. The
    tiny digits run's original LeNet is judged by `python -m lad_tf.evaluate` (its
    `original` row) and by `python -m lad_tf.zoo benchmark` (the row `--out` writes):
    the same test images, attacks and seeds. Tolerance: one image of the suite's 10
    for the worst case and one of the test split for clean accuracy, in case the
    wrapper that reads a model's outputs as logits rounds a borderline image
    differently (the suites ran identically when this was written)."""
    _, run_dir, _, _ = tiny_digits_run
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)  # the shared run stays as it was
    evaluated = run_module("lad_tf.evaluate", str(run), *SHORT, cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    original = json.loads((run / "evaluation.json").read_text())["models"]["original"]
    bench = run_module("lad_tf.zoo", "benchmark", str(run / "classifier.keras"), "--dataset",
                       "digits", "--out", "row.json", "--cache-dir", "cache", *SHORT,
                       cwd=tmp_path)
    assert bench.returncode == 0, bench.stderr[-3000:]
    row = json.loads((tmp_path / "row.json").read_text())
    assert row["worst_case_images"] == original["robust_examples"] == 10
    assert row["worst_case_acc"] == pytest.approx(original["robust_accuracy"], abs=0.1 + 1e-9)
    assert row["suite_images_clean_acc"] == pytest.approx(original["robust_clean_accuracy"],
                                                          abs=0.1 + 1e-9)
    images = original["test_examples"]
    assert row["clean_images"] == images
    assert row["clean_acc"] == pytest.approx(original["clean_accuracy"], abs=1 / images + 1e-9)
    titles = json.loads((run / "evaluation.json").read_text())["robust"]["titles"]
    for attack, title in titles.items():
        if title in row["attacks"]:
            assert row["attacks"][title] == pytest.approx(
                original[f"robust_{attack}_accuracy"], abs=0.1 + 1e-9), title
    assert set(row["masking_checks"]) == set(original["masking_checks"])


def test_benchmark_refuses_a_model_of_another_input_shape(tmp_path, capfd, mnist_dir):
    keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                      keras.layers.Dense(10)]).save(tmp_path / "rgb.keras")
    result = run_main(zoo_main, "benchmark", tmp_path / "rgb.keras", "--dataset", "mnist",
                      "--data-dir", mnist_dir, cwd=tmp_path, capfd=capfd)
    assert_clean_error(result, "takes images of shape (32, 32, 3)", "(28, 28, 1)")
