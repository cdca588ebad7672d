"""Issue 23, "a model that cannot read the data stops early": your model must
read the validation split better than twice chance, else the run stops with
one `error:` line, before anything is written, saying what the images went
through; `--allow-weak-model` goes on."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from _cli import assert_clean_error, run_main, snapshot
from _folders import mnist_digits, write_png_folder

from lad_tf.cli.harden import main as harden_main
from lad_tf.data.splits import DatasetSplits
from lad_tf.models.own_model import cut_model
from lad_tf.pipeline.stages.data import check_reads_data
from lad_tf.utils.errors import LadError


def constant_model(shape, outputs: int, bias: float = 0.0):
    """A classifier whose logits never depend on the image: it reads nothing."""
    images = keras.Input(shape)
    h = keras.layers.Dense(8, name="fc1")(keras.layers.Flatten()(images))
    logits = keras.layers.Dense(outputs, kernel_initializer="zeros", name="logits",
                                bias_initializer=keras.initializers.Constant(bias))(h)
    return keras.Model(images, logits)


@pytest.fixture(scope="module")
def gray_folder(data_dir, tmp_path_factory):
    """30 real 28x28 grayscale MNIST digits per class, as PNG files."""
    return write_png_folder(tmp_path_factory.mktemp("data") / "digits",
                            *mnist_digits(data_dir, 30))


def test_rgb_model_on_gray_digits_stops_before_anything_is_written(gray_folder, tmp_path,
                                                                     capfd):
    path = tmp_path / "rgb32.keras"
    constant_model((32, 32, 3), 10).save(path)
    before = snapshot(tmp_path)
    args = ["--model", path, "--latent-layer", "fc1", "--data", gray_folder, "--dataset",
            "digits", "--run-dir", tmp_path / "run", "--export-base", tmp_path / "serving"]
    result = run_main(harden_main, *args, cwd=tmp_path, capfd=capfd)
    assert_clean_error(result, "your model reads the validation split (18 images) at 11.11% "
                       "accuracy, chance is 10.00% for 10 classes (the run stops below 20.00%)",
                       "the images were resized from 28x28 to 32x32 and channels converted "
                       "from 1 to 3", "classes in this order (0, 1, 2, 3, 4, 5, ...)",
                       "pass --allow-weak-model to go on")
    assert snapshot(tmp_path) == before and not (tmp_path / "run").exists()
    # With --allow-weak-model the run goes on past that point.
    result = run_main(harden_main, *args, "--allow-weak-model", "--stop-after", "classifier",
                      cwd=tmp_path, capfd=capfd)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "error:" not in result.stderr and "using your model" in result.stderr
    assert (tmp_path / "run" / "metrics" / "classifier.json").is_file()


def splits_of(labels: np.ndarray, shape=(4, 4, 1)) -> DatasetSplits:
    """Random images of `labels` in every split."""
    x = np.random.default_rng(0).random((len(labels), *shape)).astype(np.float32)
    y = labels.astype(np.int64)
    return DatasetSplits("toy", "toy", shape, int(y.max()) + 1, x, y, x, y, x, y,
                         x_validation=x, y_validation=y)


def test_two_classes_need_75_percent_not_twice_chance():
    """For two classes twice chance would be 100%: the bar is halfway, 75%."""
    splits = splits_of(np.array([0, 1] * 20))
    always_one, _ = cut_model(constant_model((4, 4, 1), 1, bias=1.0), "fc1")  # one sigmoid logit
    with pytest.raises(LadError, match=r"at 50.00% accuracy, chance is 50.00% for 2 classes "
                                       r"\(the run stops below 75.00%\): the images were used "
                                       r"as they are \(4x4x1\)"):
        check_reads_data(always_one, splits, None)
    # 32 of 40 right (80%) is enough.
    labels = np.array([1] * 32 + [0] * 8)
    assert check_reads_data(always_one, splits_of(labels), None) == pytest.approx(0.8)
