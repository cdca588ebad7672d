"""Issue 13, "Your data": harden with your own images (`--data PATH`).

Real digit images (scikit-learn's 8x8 digits, 60 per class) are written as
PNG files into class sub-folders, plus a few as RGB JPEGs of another size,
and the whole pipeline runs from that folder through export; the same from
an .npz through the Python API. The folder's training split streams from
the files. Bad input stops with one `error:` line, exit code 2, and leaves
every file as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from _cli import assert_clean_error, run_main, run_module, snapshot
from _tiny import LAD_ONLY_FAST_EVALUATION

import lad_tf
import lad_tf.models  # noqa: F401  registers the zoo's classes, so load_model reads LeNet
from lad_tf.cli.harden import main as harden_main
from lad_tf.data.own_data import load_own_data, load_run_data
from lad_tf.recipe.schema import load_recipe
from lad_tf.utils.errors import LadError

PER_CLASS = 60
# The smallest budgets the digits recipe allows, as `--set` pairs; the folder's
# 8x8 digits are resized to the 28x28 that the recipe's LeNet / generator take.
TINY = [
    "data.image_size=28", "classifier.epochs=2", "generator.epochs=1", "svm.epochs=3",
    "svm.per_class=9", "generation.per_class=2", "generation.eps_sweep=[1.0,3.0]",
    "hardening.per_class=3", "hardening.epochs=1", "selection.per_class=2",
    "selection.pgd_steps=3", "evaluation.per_class=3", "evaluation.pgd_iterations=5",
    *LAD_ONLY_FAST_EVALUATION[1::2],
]
TINY_ARGS = [arg for pair in TINY for arg in ("--set", pair)]


def digits(per_class: int = PER_CLASS) -> tuple[np.ndarray, np.ndarray]:
    """The first `per_class` scikit-learn digits of each class: uint8 [N, 8, 8], labels [N]."""
    from sklearn.datasets import load_digits

    data = load_digits()
    keep = np.concatenate([np.flatnonzero(data.target == k)[:per_class] for k in range(10)])
    images = np.clip(data.images[keep] * 16, 0, 255).astype(np.uint8)
    return images, data.target[keep].astype(np.int64)


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """PNG files root/<digit>/<i>.png; every 10th image an RGB 12x12 JPEG instead."""
    for i, (image, label) in enumerate(zip(images, labels)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        if i % 10 == 9:
            rgb = tf.image.resize(np.repeat(image[..., None], 3, -1), (12, 12)).numpy()
            data = tf.io.encode_jpeg(np.clip(rgb, 0, 255).astype(np.uint8), quality=95)
            tf.io.write_file(str(root / str(label) / f"{i:04d}.jpg"), data)
        else:
            tf.io.write_file(str(root / str(label) / f"{i:04d}.png"),
                             tf.io.encode_png(image[..., None]))
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_folder(tmp_path_factory.mktemp("data") / "digits_png", *digits())


def recipe_data(*overrides):
    return load_recipe("digits", None, ["data.image_size=28", *overrides]).data


def check_export(run_dir: Path, x: np.ndarray):
    """The run reached export, and the SavedModel answers as hardened.keras."""
    report = json.loads((run_dir / "report.json").read_text())
    for name in ("original", "hardened"):
        assert 0.0 <= report["stages"]["evaluate"][name]["pgd_accuracy"] <= 1.0
    version = Path(report["stages"]["export"]["path"])
    assert (version / "saved_model.pb").is_file()
    hardened = keras.models.load_model(run_dir / "hardened.keras")
    served = tf.saved_model.load(str(version)).signatures["serving_default"]
    logits = served(images=tf.constant(x))["logits"].numpy()
    assert np.max(np.abs(logits - np.asarray(hardened(x)))) <= 1e-5
    return report


# -- end to end --------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_hardens_from_an_image_folder(folder, tmp_path, capfd):
    run_dir = tmp_path / "run"
    result = run_module("lad_tf.harden", "--data", str(folder), "--dataset", "digits",
                        "--run-dir", str(run_dir), "--export-base", str(tmp_path / "serving"),
                        *TINY_ARGS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resizing 8x8, 12x12 images to 28x28" in result.stderr
    assert "converting images with 1/3 channel(s) to 1 (grayscale)" in result.stderr
    assert "streaming the 324 training images from disk" in result.stderr
    assert "generator: streaming 324 training images" in result.stderr
    record = json.loads((run_dir / "data.json").read_text())
    assert record["path"] == str(folder.resolve()) and record["kind"] == "folder"
    assert record["files"] == record["images"] == 10 * PER_CLASS
    assert record["class_names"] == [str(k) for k in range(10)]
    assert len(record["fingerprint"]) == 64 and record["image_shape"] == [28, 28, 1]
    # Commands that read a run (python -m lad_tf.evaluate, the study) get its folder back.
    splits = load_run_data(run_dir, recipe_data())
    assert splits.source == f"folder:{folder.resolve()}" and splits.streamed
    report = check_export(run_dir, splits.x_test[:32])
    dataset = report["dataset"]
    assert dataset["streamed"] == ["train"] and dataset["class_names"] == record["class_names"]
    # 20% test, then 1/4 provider and 10% of the rest validation: 324 / 36 / 120 / 120.
    assert [dataset["splits"][s]["count"] for s in ("train", "validation", "provider", "test")] \
        == [324, 36, 120, 120]
    assert "training split streamed from disk" in (run_dir / "report.md").read_text()
    # Resumed without --data, the run reads its recorded folder again (main() in
    # this process: one TensorFlow start-up fewer).
    again = run_main(harden_main, "--resume", "--run-dir", run_dir, "--export-base",
                     tmp_path / "serving", "--stop-after", "classifier", cwd=tmp_path, capfd=capfd)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resuming with the run's data {folder.resolve()}" in again.stderr
    assert "reusing classifier.keras" in again.stderr


@pytest.mark.slow
def test_python_api_hardens_from_an_npz_and_keeps_its_test_split(tmp_path, monkeypatch):
    images, labels = digits()
    test = np.arange(len(labels)) % 5 == 0  # 120 images as the npz's own test split
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=images[~test], y_train=labels[~test], x_test=images[test],
             y_test=labels[test])
    monkeypatch.chdir(tmp_path)
    hardened, report, run_dir = lad_tf.harden_model(
        dataset="digits", data=str(path), method="lad", run_dir=tmp_path / "run",
        overrides=TINY, export_base=str(tmp_path / "serving"))
    assert hardened is not None
    counts = {s: v["count"] for s, v in report["dataset"]["splits"].items()}
    assert counts["test"] == 120 and sum(counts.values()) == len(labels)
    assert "streamed" not in report["dataset"]
    record = json.loads((run_dir / "data.json").read_text())
    assert record["kind"] == "npz" and record["files"] == 1 and record["images"] == len(labels)
    x_test = tf.image.resize(images[test][..., None] / np.float32(255), (28, 28)).numpy()
    check_export(run_dir, x_test[:32])
    # The test split is the npz's own, in its order: the original answers on it as recorded.
    original = keras.models.load_model(run_dir / "classifier.keras")
    accuracy = np.mean(np.argmax(original.predict(x_test, verbose=0), -1) == labels[test])
    assert report["stages"]["evaluate"]["original"]["clean_accuracy"] == \
        pytest.approx(accuracy, abs=1e-6)


@pytest.mark.slow
def test_cli_hardens_your_rgb_model_on_your_folder_with_a_generator_sized_for_it(folder, tmp_path,
                                                                               capfd):
    """--model + --data together: a 20x20 RGB Functional CNN (no zoo generator makes
    20x20x3 images) trained briefly on the folder's digits, hardened from the folder
    by the command's main() in this process (test_cli_hardens_from_an_image_folder
    runs `python -m lad_tf.harden --data` in a fresh one)."""
    splits, _ = load_own_data(folder, recipe_data("data.image_size=20", "data.channels=3"))
    keras.utils.set_random_seed(0)
    images = keras.Input((20, 20, 3))
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(images)
    h = keras.layers.MaxPooling2D(2, name="pool1")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dense(24, activation="relu", name="fc1")(h)
    model = keras.Model(images, keras.layers.Dense(10, name="logits")(h))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    train = splits.dataset("train", 32, shuffle=True, seed=0)
    model.fit(train, epochs=6, verbose=0, shuffle=False)  # the dataset shuffles
    assert model.evaluate(splits.x_test, splits.y_test, verbose=0)[1] > 0.5  # really trained
    path = tmp_path / "rgb20.keras"
    model.save(path)

    run_dir = tmp_path / "run"
    tiny = [arg for pair in TINY[1:] for arg in ("--set", pair)]  # the model sets the size
    result = run_main(harden_main, "--model", path, "--latent-layer", "fc1", "--data", folder,
                      "--dataset", "digits", "--run-dir", run_dir, "--export-base",
                      tmp_path / "serving", *tiny, cwd=tmp_path, capfd=capfd)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resizing 8x8, 12x12 images to 20x20" in result.stderr
    assert "using the 'auto' generator sized for them" in result.stderr
    generator = json.loads((run_dir / "metrics" / "generator.json").read_text())
    assert generator["model"] == "auto"
    assert keras.models.load_model(run_dir / "generator.keras").image_shape == (20, 20, 3)
    check_export(run_dir, splits.x_test[:32])


# -- streaming -----------------------------------------------------------------------------
def test_folder_training_split_streams_from_the_files(folder, tmp_path):
    """The training split is never in memory: a file changed after loading is read anew."""
    import shutil

    copy = Path(shutil.copytree(folder, tmp_path / "copy"))
    splits, _ = load_own_data(copy, recipe_data())
    assert splits.streamed and splits.x_train is None
    with pytest.raises(ValueError, match="streams from its files"):
        splits.arrays("train")
    files = splits.train_files
    assert len(files) == len(splits.y_train) == 324 and files.image_shape == (28, 28, 1)
    i = next(i for i, p in enumerate(files.paths) if p.endswith(b".png"))
    path = files.paths[i].decode()
    png = tf.io.decode_png(tf.io.read_file(path))
    expected = tf.image.resize(tf.cast(png, tf.float32) / 255.0, (28, 28)).numpy()
    x, y = next(iter(splits.dataset("train", 64)))
    assert np.max(np.abs(x.numpy()[i] - expected)) <= 1e-6 and int(y[i]) == splits.y_train[i]
    tf.io.write_file(path, tf.io.encode_png(np.full((8, 8, 1), 255, np.uint8)))
    x, _ = next(iter(splits.dataset("train", 64)))
    assert np.all(x.numpy()[i] == 1.0)  # the new pixels: read from disk, not a cached copy
    # Shuffling reorders the files every epoch, the same way for the same seed.
    shuffled = splits.dataset("train", 64, shuffle=True, seed=3)
    epochs = [np.concatenate([b.numpy() for _, b in shuffled]) for _ in range(2)]
    assert np.array_equal(np.sort(epochs[0]), np.sort(splits.y_train))
    assert not np.array_equal(*epochs)
    again = splits.dataset("train", 64, shuffle=True, seed=3)
    assert np.array_equal(np.concatenate([b.numpy() for _, b in again]), epochs[0])


def test_class_names_are_the_sorted_folder_names(tmp_path):
    images, labels = digits(per_class=20)
    keep = labels < 2
    root = write_folder(tmp_path / "pets", images[keep], labels[keep])
    (root / "0").rename(root / "dog")
    (root / "1").rename(root / "cat")
    splits, record = load_own_data(root, recipe_data("data.validation_fraction=0"))
    assert record["class_names"] == ["cat", "dog"] and splits.num_classes == 2
    # cat (the former 1s) is class 0: its images have the 1s' mean brightness.
    x, y = splits.x_test, splits.y_test
    ones = images[labels == 1].mean() / 255
    assert abs(x[y == 0].mean() - ones) < abs(x[y == 1].mean() - ones)


# -- bad input: one error line, exit code 2, nothing written ------------------------------
def one_class(tmp: Path) -> Path:
    images, labels = digits(per_class=5)
    return write_folder(tmp / "one", images[labels == 3], labels[labels == 3])


def flat_folder(tmp: Path) -> Path:
    root = tmp / "flat"
    root.mkdir()
    for i, image in enumerate(digits(per_class=2)[0]):
        tf.io.write_file(str(root / f"{i}.png"), tf.io.encode_png(image[..., None]))
    return root


def corrupt_image(tmp: Path) -> Path:
    root = write_folder(tmp / "corrupt", *digits(per_class=5))
    (root / "7" / "scan.png").write_bytes(b"this is not a PNG file")
    return root


def npz_without_arrays(tmp: Path) -> Path:
    images, labels = digits(per_class=5)
    np.savez(tmp / "named.npz", images=images, labels=labels)
    return tmp / "named.npz"


def npz_mismatched(tmp: Path) -> Path:
    images, labels = digits(per_class=5)
    np.savez(tmp / "short.npz", x=images, y=labels[:-3])
    return tmp / "short.npz"


def npz_two_channels(tmp: Path) -> Path:
    images, labels = digits(per_class=5)
    np.savez(tmp / "two.npz", x=np.stack([images, images], -1), y=labels)
    return tmp / "two.npz"


def gray_model(tmp: Path) -> Path:
    """An untrained 28x28x1 classifier (the error comes before any training)."""
    images = keras.Input((28, 28, 1))
    h = keras.layers.Dense(16, name="fc1")(keras.layers.Flatten()(images))
    keras.Model(images, keras.layers.Dense(10, name="logits")(h)).save(tmp / "gray.keras")
    return tmp / "gray.keras"


def four_channel_model(tmp: Path) -> Path:
    images = keras.Input((28, 28, 4))
    h = keras.layers.Dense(16, name="fc1")(keras.layers.Flatten()(images))
    keras.Model(images, keras.layers.Dense(10, name="logits")(h)).save(tmp / "rgba.keras")
    return tmp / "rgba.keras"


BAD = {
    "missing_path": (lambda tmp: tmp / "nowhere", None, ["does not exist", "sub-folder"]),
    "one_class": (one_class, None, ["one class ('3')", "at least two classes",
                                    "sub-folder named after it"]),
    "no_class_folders": (flat_folder, None, ["no class sub-folders", "lie directly in it",
                                             "sub-folder named after it"]),
    "corrupt_image": (corrupt_image, None, ["1 of 51 image files", "7/scan.png",
                                            "delete or re-save it"]),
    "npz_without_arrays": (npz_without_arrays, None, ["['images', 'labels']", "needs x and y",
                                                      "np.savez"]),
    "npz_mismatched_lengths": (npz_mismatched, None, ["50 images but 47 labels"]),
    "npz_two_channels": (npz_two_channels, gray_model, ["2 channel(s)", "takes 1-channel",
                                                        "between 1 (grayscale) and 3 (RGB)"]),
    "folder_for_four_channels": (corrupt_image, four_channel_model,
                                 ["takes 4-channel", "pass 4-channel images"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_data_stops_before_anything_is_written(case, tmp_path, capfd):
    """The command's main() in this process (test_cli_hardens_from_an_image_folder
    runs `python -m lad_tf.harden --data` itself)."""

    make_data, make_model, needles = BAD[case]
    if case == "folder_for_four_channels":  # a readable folder: the model is the problem
        data = write_folder(tmp_path / "ok", *digits(per_class=5))
    else:
        data = make_data(tmp_path)
    model = ["--model", str(make_model(tmp_path)), "--latent-layer", "fc1"] if make_model else []
    earlier = tmp_path / "runs" / "earlier"  # an earlier run that must stay as it was
    earlier.mkdir(parents=True)
    (earlier / "report.json").write_text("{}")
    before = snapshot(tmp_path)
    result = run_main(harden_main, "--data", data, *model, "--dataset", "digits",
                      "--set", "data.image_size=28", "--run-dir", tmp_path / "runs" / "new",
                      "--export-base", tmp_path / "serving", cwd=tmp_path, capfd=capfd)
    assert_clean_error(result, *needles)
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "runs" / "new").exists() and not (tmp_path / "serving").exists()


def test_resume_refuses_other_data(folder, tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "metrics").mkdir(parents=True)
    recorded = {"path": "/elsewhere/photos", "kind": "folder", "files": 600, "images": 600,
                "fingerprint": "0" * 64}
    (run_dir / "data.json").write_text(json.dumps(recorded))
    with pytest.raises(LadError, match=r"made from the data /elsewhere/photos \(600 images, "
                                       r"fingerprint 000000000000\), but --data .* holds other"):
        lad_tf.harden_model(dataset="digits", data=str(folder), run_dir=run_dir, resume=True,
                            overrides=["data.image_size=28"])
    assert sorted(p.name for p in run_dir.iterdir()) == ["data.json", "metrics"]


def test_a_run_whose_data_changed_is_not_read(folder, tmp_path):
    (tmp_path / "data.json").write_text(json.dumps(
        {"path": str(folder), "images": 600, "fingerprint": "f" * 64, "image_shape": [28, 28, 1]}))
    with pytest.raises(LadError, match="holds other data"):
        load_run_data(tmp_path, recipe_data())


def test_resume_refuses_data_for_a_run_of_the_recipes_dataset(folder, tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "metrics").mkdir(parents=True)
    with pytest.raises(LadError, match="made from the recipe's dataset 'digits'; resume it "
                                       "without --data"):
        lad_tf.harden_model(dataset="digits", data=str(folder), run_dir=run_dir, resume=True)
