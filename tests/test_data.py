"""Tests of lad_tf.data: real MNIST, the tfds path (mocked), digits, errors.

Tests on real MNIST read $LAD_DATA_DIR (CI sets it to the shared data folder,
which holds mnist/mnist.npz); they are skipped only when it is unset.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket

import numpy as np
import pytest

from lad_tf.data import (
    DatasetSplits,
    available_datasets,
    load_dataset,
    stratified_split,
)
from lad_tf.utils.errors import LadError

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
FIX_HINT = "--data-dir"


def row_hashes(x: np.ndarray) -> list[bytes]:
    """One short digest per image."""
    return [hashlib.blake2b(row.tobytes(), digest_size=8).digest() for row in x]


def write_npz(path, n_train: int = 120, n_test: int = 30, drop: tuple = (), **override) -> str:
    """Writes a small valid Keras-layout mnist.npz (random pixels), with overrides."""
    rng = np.random.default_rng(1)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }
    arrays.update(override)
    for key in drop:
        del arrays[key]
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    np.savez_compressed(str(path), **arrays)
    return str(path)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $LAD_DATA_DIR, empty $HOME (no ~/.keras) and empty $TFDS_DATA_DIR."""
    for name in ("home", "tfds"):
        (tmp_path / name).mkdir()
    monkeypatch.delenv("LAD_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    return tmp_path


@pytest.fixture
def no_network(monkeypatch):
    """Records (and refuses) every attempt to open a connection or resolve a name."""
    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


# ----------------------------------------------------------------- real MNIST

def test_real_mnist_shapes_and_range(mnist, mnist_dir):
    assert mnist.source == "file:" + os.path.abspath(os.path.join(mnist_dir, "mnist", "mnist.npz"))
    assert (mnist.name, mnist.image_shape, mnist.num_classes) == ("mnist", (28, 28, 1), 10)
    for x, y, n in ((mnist.x_train, mnist.y_train, 50000),
                    (mnist.x_provider, mnist.y_provider, 10000),
                    (mnist.x_test, mnist.y_test, 10000)):
        assert x.shape == (n, 28, 28, 1) and x.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64
        assert x.min() == 0.0 and x.max() == 1.0


def test_real_mnist_counts_and_stratification(mnist):
    train = np.bincount(mnist.y_train, minlength=10)
    provider = np.bincount(mnist.y_provider, minlength=10)
    assert (train + provider).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.y_test, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert provider.sum() == 10000 and train.sum() == 50000
    assert np.all(np.abs(provider - np.array(MNIST_TRAIN_COUNTS) / 6) <= 1)
    summary = json.loads(json.dumps(mnist.summary()))
    assert summary["splits"]["provider"]["per_class"] == provider.tolist()
    assert summary["splits"]["test"]["count"] == 10000
    assert summary["image_shape"] == [28, 28, 1]


def test_real_mnist_pixel_statistics(mnist):
    # The well-known MNIST normalisation constants (mean 0.1307, std 0.3081) over
    # all 60,000 training images, computed from both parts' moments.
    n = mnist.x_train.size + mnist.x_provider.size
    s1 = float(mnist.x_train.sum(dtype=np.float64) + mnist.x_provider.sum(dtype=np.float64))
    s2 = float(np.square(mnist.x_train, dtype=np.float64).sum()
               + np.square(mnist.x_provider, dtype=np.float64).sum())
    mean = s1 / n
    assert mean == pytest.approx(0.1307, abs=1e-3)
    assert math.sqrt(s2 / n - mean ** 2) == pytest.approx(0.3081, abs=1e-3)
    assert float(mnist.x_train.std()) == pytest.approx(0.3081, abs=1e-3)


def test_real_mnist_train_and_provider_disjoint(mnist):
    train = set(row_hashes(mnist.x_train))
    provider = row_hashes(mnist.x_provider)
    assert len(train) == 50000  # MNIST's 60,000 training images are all distinct
    assert not train.intersection(provider)


def test_real_mnist_split_deterministic(mnist):
    same = load_dataset("mnist", use_tfds=False, seed=0)
    assert np.array_equal(same.y_provider, mnist.y_provider)
    assert row_hashes(same.x_provider[:300]) == row_hashes(mnist.x_provider[:300])
    del same
    other = load_dataset("mnist", use_tfds=False, seed=1)
    assert np.bincount(other.y_provider).tolist() == np.bincount(mnist.y_provider).tolist()
    overlap = set(row_hashes(other.x_provider)) & set(row_hashes(mnist.x_provider))
    assert len(overlap) < 2500  # ~1/6 of 10,000 by chance; identical would be 10,000
    assert np.array_equal(other.y_test, mnist.y_test)  # the test set is never split


def test_real_mnist_dataset_batches(mnist):
    ds = mnist.dataset("test", batch_size=256)
    sizes = []
    for i, (x, y) in enumerate(ds):
        assert x.dtype.name == "float32" and y.dtype.name == "int64"
        assert tuple(x.shape[1:]) == (28, 28, 1) and x.shape[0] == y.shape[0]
        if i == 0:
            np.testing.assert_array_equal(x.numpy(), mnist.x_test[:256])
            np.testing.assert_array_equal(y.numpy(), mnist.y_test[:256])
        sizes.append(int(y.shape[0]))
    assert sizes == [256] * 39 + [16]


# ------------------------------------------------------------------- tfds path

def test_tfds_mock_data(isolated, no_network):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=30):
        splits = load_dataset("mnist", use_tfds=True)
    assert splits.source == "tfds:mnist"
    assert (len(splits.y_train), len(splits.y_provider), len(splits.y_test)) == (25, 5, 30)
    for split in ("train", "provider", "test"):
        x, y = splits.arrays(split)
        assert x.shape[1:] == (28, 28, 1) and x.dtype == np.float32 and y.dtype == np.int64
        assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.9  # random uint8 / 255
        assert y.min() >= 0 and y.max() <= 9
    assert no_network == []


def test_tfds_forced_but_not_prepared(isolated, no_network):
    with pytest.raises(LadError, match="tfds build mnist") as err:
        load_dataset("mnist", use_tfds=True)
    assert str(isolated / "tfds") in str(err.value) and "\n" not in str(err.value)
    assert list((isolated / "tfds").iterdir()) == []  # nothing written, nothing fetched
    assert no_network == []


def test_auto_falls_back_to_npz_without_network(isolated, no_network, monkeypatch):
    # Empty TFDS_DATA_DIR, file found through LAD_DATA_DIR.
    path = write_npz(isolated / "data" / "mnist" / "mnist.npz")
    monkeypatch.setenv("LAD_DATA_DIR", str(isolated / "data"))
    splits = load_dataset("mnist")
    assert splits.source == f"file:{path}"
    assert (len(splits.y_train), len(splits.y_provider), len(splits.y_test)) == (100, 20, 30)
    assert list((isolated / "tfds").iterdir()) == []
    # A broken "prepared" tfds copy in data_dir: tfds.load(download=False) is really
    # called there, raises, and the npz in the same folder is used.
    info = isolated / "data" / "mnist" / "3.0.1" / "dataset_info.json"
    info.parent.mkdir()
    info.write_text("{}")
    assert load_dataset("mnist", data_dir=str(isolated / "data")).source == f"file:{path}"
    assert sorted(p.name for p in info.parent.iterdir()) == ["dataset_info.json"]
    assert no_network == []


def test_npz_search_order(isolated, monkeypatch):
    direct = write_npz(isolated / "a" / "mnist.npz", n_train=60)
    nested = write_npz(isolated / "b" / "mnist" / "mnist.npz", n_train=90)
    keras = write_npz(isolated / "home" / ".keras" / "datasets" / "mnist.npz", n_train=30)
    assert load_dataset("mnist").source == f"file:{keras}"
    monkeypatch.setenv("LAD_DATA_DIR", str(isolated / "b"))
    assert load_dataset("mnist").source == f"file:{nested}"
    assert load_dataset("mnist", data_dir=str(isolated / "a")).source == f"file:{direct}"


# ---------------------------------------------------------------------- digits

@pytest.fixture(scope="module")
def digits() -> DatasetSplits:
    return load_dataset("digits")


def test_digits(digits):
    assert digits.image_shape == (28, 28, 1) and digits.num_classes == 10
    counts = [len(digits.y_train), len(digits.y_provider), len(digits.y_test)]
    assert counts == [1198, 240, 359] and sum(counts) == 1797
    for split in ("train", "provider", "test"):
        x, y = digits.arrays(split)
        assert x.dtype == np.float32 and x.shape[1:] == (28, 28, 1) and y.dtype == np.int64
        assert x.min() >= 0.0 and x.max() <= 1.0
        assert set(np.unique(y).tolist()) == set(range(10))
    assert digits.x_train.max() == pytest.approx(1.0, abs=0.05)
    assert "scikit-learn digits" in digits.source


def test_digits_deterministic(digits):
    again = load_dataset("digits")
    for split in ("train", "provider", "test"):
        np.testing.assert_array_equal(again.arrays(split)[0], digits.arrays(split)[0])
        np.testing.assert_array_equal(again.arrays(split)[1], digits.arrays(split)[1])
    other = load_dataset("digits", seed=3)
    np.testing.assert_array_equal(other.x_test, digits.x_test)  # fixed test split
    assert not np.array_equal(other.x_provider, digits.x_provider)


def test_dataset_batches_and_shuffle(digits):
    ds = digits.dataset("provider", batch_size=64, shuffle=True, seed=7)
    assert ds.element_spec[0].shape.as_list() == [None, 28, 28, 1]
    assert ds.element_spec[1].dtype.name == "int64"
    first = [y.numpy() for _, y in ds]
    assert [len(y) for y in first] == [64, 64, 64, 48]
    labels = np.concatenate(first)
    assert sorted(labels.tolist()) == sorted(digits.y_provider.tolist())
    assert not np.array_equal(labels, digits.y_provider)  # shuffled
    again = np.concatenate([y.numpy() for _, y in digits.dataset("provider", 64, True, 7)])
    np.testing.assert_array_equal(again, labels)  # same seed, same order
    with pytest.raises(ValueError, match="provider"):
        digits.dataset("holdout", batch_size=8)


# ---------------------------------------------------------------------- errors

def test_registry_and_unknown_name():
    assert available_datasets() == ["celeba", "digits", "mnist", "svhn"]
    with pytest.raises(LadError,
                       match=r"unknown dataset 'cifar'.*\['celeba', 'digits', 'mnist', 'svhn'\]"):
        load_dataset("cifar")


def test_missing_data(isolated, no_network, monkeypatch):
    empty = isolated / "empty"
    empty.mkdir()
    monkeypatch.setenv("LAD_DATA_DIR", str(empty))
    with pytest.raises(LadError) as err:
        load_dataset("mnist", data_dir=str(isolated / "nowhere"))
    message = str(err.value)
    assert "no mnist.npz found" in message and FIX_HINT in message and "LAD_DATA_DIR" in message
    for searched in (isolated / "nowhere" / "mnist.npz", empty / "mnist" / "mnist.npz",
                     isolated / "home" / ".keras" / "datasets" / "mnist.npz"):
        assert str(searched) in message
    assert no_network == []


@pytest.mark.parametrize("case, expected", [
    ("garbage", "not a readable .npz"),
    ("truncated", "not a readable .npz"),
    ("missing_keys", r"missing arrays \['x_test', 'y_test'\]"),
    ("float_images", "want uint8"),
    ("wrong_shape", "want uint8"),
    ("count_mismatch", "120 images but 119 labels"),
    ("bad_labels", "labels span 0..12"),
])
def test_corrupt_npz(isolated, case, expected):
    path = isolated / "bad" / "mnist.npz"
    if case == "garbage":
        path.parent.mkdir()
        path.write_bytes(bytes(range(7, 250)) * 8)  # fixed bytes: no zip header, same on every run
    elif case == "truncated":
        data = open(write_npz(path), "rb").read()
        path.write_bytes(data[: len(data) // 2])
    elif case == "missing_keys":
        write_npz(path, drop=("x_test", "y_test"))
    elif case == "float_images":
        write_npz(path, x_train=np.zeros((120, 28, 28), np.float32))
    elif case == "wrong_shape":
        write_npz(path, x_train=np.zeros((120, 32, 32), np.uint8))
    elif case == "count_mismatch":
        write_npz(path, y_train=np.zeros(119, np.uint8))
    elif case == "bad_labels":
        write_npz(path, y_train=(np.arange(120) % 13).astype(np.uint8))
    with pytest.raises(LadError, match=expected) as err:
        load_dataset("mnist", data_dir=str(path.parent))
    message = str(err.value)
    assert str(path) in message and "re-download it" in message and FIX_HINT in message
    assert "\n" not in message


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, float("nan"), "0.2", True])
def test_bad_provider_fraction(fraction):
    with pytest.raises(LadError, match=r"provider_fraction must be a number in \(0, 1\)"
                                       r".*--provider-fraction"):
        load_dataset("digits", provider_fraction=fraction)


def test_stratified_split_properties():
    labels = np.repeat(np.arange(4), [7, 11, 13, 1])
    kept, held = stratified_split(labels, 0.25, seed=5)
    assert np.array_equal(np.sort(np.concatenate([kept, held])), np.arange(32))
    assert len(held) == 8
    quota = np.bincount(labels) * 0.25
    assert np.all(np.abs(np.bincount(labels[held], minlength=4) - quota) <= 1)
    again_kept, again_held = stratified_split(labels, 0.25, seed=5)
    assert np.array_equal(held, again_held) and np.array_equal(kept, again_kept)
