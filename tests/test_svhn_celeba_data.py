"""SVHN and CelebA loaders: the official files (real ones from $LAD_DATA_DIR),
the tfds path under `tfds.testing.mock_data`, and bad files."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import tensorflow as tf

from lad_tf.data import celeba, load_dataset, svhn
from lad_tf.utils.errors import LadError

SVHN_LABELS = [5, 1, 8, 9, 4, 2, 9]
# Mean pixel (0..255) of each of the 7 real SVHN test digits, and the RGB of
# the top-left pixel of the first, as stored in test_32x32.mat.
SVHN_MEANS = [64.7841796875, 77.15462239583333, 144.80533854166666, 60.272786458333336,
              90.89908854166667, 73.54296875, 160.716796875]
CELEBA_SMILING = 4822
CELEBA_COUNT = 10000


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $LAD_DATA_DIR, an empty $HOME and $TFDS_DATA_DIR, no network."""
    for name in ("home", "tfds"):
        (tmp_path / name).mkdir()
    monkeypatch.delenv("LAD_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return tmp_path


def write_mat(path, n: int = 30, labels=None, **override) -> str:
    """A small official-layout SVHN .mat: X uint8 [32, 32, 3, n], y [n, 1] in 1..10."""
    import scipy.io

    rng = np.random.default_rng(2)
    labels = np.arange(n) % 10 + 1 if labels is None else np.asarray(labels)
    arrays = {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8),
              "y": labels.reshape(-1, 1).astype(np.uint8)}
    arrays.update(override)
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    scipy.io.savemat(str(path), {k: v for k, v in arrays.items() if v is not None})
    return str(path)


# ------------------------------------------------------------------------ SVHN

def test_real_svhn_mat_labels_and_pixels(data_dir):
    x, y = svhn.read_mat(os.path.join(data_dir, "svhn", "test_32x32.mat"))
    assert x.shape == (7, 32, 32, 3) and x.dtype == np.uint8
    assert y.tolist() == SVHN_LABELS and y.dtype == np.int64
    assert x[0, 0, 0].tolist() == [38, 103, 60]
    np.testing.assert_allclose(x.reshape(7, -1).mean(axis=1), SVHN_MEANS, rtol=0, atol=1e-9)
    assert x.min() == 1 and x.max() == 255


def test_svhn_needs_the_training_file(data_dir, isolated, monkeypatch):
    # The shared folder only has the test file: the error names the missing one.
    monkeypatch.setenv("LAD_DATA_DIR", data_dir)
    with pytest.raises(LadError, match="no train_32x32.mat found.*--data-dir"):
        load_dataset("svhn")


def test_svhn_files_ten_means_zero(isolated):
    folder = isolated / "data" / "svhn"
    write_mat(folder / "train_32x32.mat", n=60)
    write_mat(folder / "test_32x32.mat", n=20, labels=[10] * 10 + [3] * 10)
    splits = load_dataset("svhn", data_dir=str(isolated / "data"))
    assert splits.source.startswith("file:") and "train_32x32.mat" in splits.source
    assert splits.image_shape == (32, 32, 3) and splits.num_classes == 10
    assert (len(splits.y_train), len(splits.y_provider)) == (50, 10)
    assert splits.y_test.tolist() == [0] * 10 + [3] * 10
    assert sorted(set(splits.y_train.tolist())) == list(range(10))


@pytest.mark.parametrize("case, expected", [
    ("no_X", r"missing variables \['X'\]"),
    ("no_y", r"missing variables \['y'\]"),
    ("garbage", "not a readable MATLAB .mat file"),
    ("grey", r"want uint8 \[32, 32, 3, N\]"),
    ("labels", "labels span 0..9, want 1..10"),
    ("count", "has 30 images but 29 labels"),
])
def test_bad_svhn_mat(isolated, case, expected):
    path = isolated / "bad" / "test_32x32.mat"
    if case == "garbage":
        path.parent.mkdir()
        # Fixed bytes: random ones sometimes carry the version field of a
        # MATLAB v7.3 header, which has its own (tested) message.
        path.write_bytes(b"this is not a MATLAB file " * 120)
    elif case == "no_X":
        write_mat(path, X=None)
    elif case == "no_y":
        write_mat(path, y=None)
    elif case == "grey":
        write_mat(path, X=np.zeros((32, 32, 1, 30), np.uint8))
    elif case == "labels":
        write_mat(path, labels=np.arange(30) % 10)
    elif case == "count":
        write_mat(path, y=np.ones((29, 1), np.uint8))
    with pytest.raises(LadError, match=expected) as err:
        svhn.read_mat(str(path))
    assert str(path) in str(err.value) and "--data-dir" in str(err.value)
    assert "\n" not in str(err.value)


def test_svhn_tfds_mock(isolated):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=24):
        splits = load_dataset("svhn", use_tfds=True, image_size=32, channels=3)
    assert splits.source == "tfds:svhn_cropped"
    assert (len(splits.y_train), len(splits.y_provider), len(splits.y_test)) == (20, 4, 24)
    assert splits.x_train.shape[1:] == (32, 32, 3) and splits.x_train.dtype == np.float32
    assert 0 <= splits.y_test.min() and splits.y_test.max() <= 9


def test_recipe_size_and_channels_are_checked(isolated):
    folder = isolated / "data" / "svhn"
    write_mat(folder / "train_32x32.mat", n=60)
    write_mat(folder / "test_32x32.mat", n=20)
    with pytest.raises(LadError, match="svhn images are 32x32x3, but the recipe is made for "
                                       "64x64x3 images"):
        load_dataset("svhn", data_dir=str(isolated / "data"), image_size=64)
    with pytest.raises(LadError, match="digits images are 28x28x1, but the recipe is made for "
                                       "32x32x3 images"):
        load_dataset("digits", image_size=32, channels=3)
    with pytest.raises(LadError, match="remove data.max_images"):
        load_dataset("digits", max_images=100)


# ---------------------------------------------------------------------- CelebA

@pytest.fixture(scope="module")
def celeba32(data_dir):
    """The 10,000 real faces at 32x32 (about 5 s to decode)."""
    return load_dataset("celeba", data_dir=data_dir, image_size=32)


def test_real_celeba_attribute_file(data_dir):
    names, files, values = celeba.read_attributes(
        os.path.join(data_dir, "celeba", "list_attr_celeba.txt"))
    assert len(names) == 40 and names[0] == "5_o_Clock_Shadow" and "Smiling" in names
    assert len(files) == CELEBA_COUNT and files[0] == "000001.jpg" and files[-1] == "010000.jpg"
    smiling = values[:, names.index("Smiling")]
    assert int((smiling == 1).sum()) == CELEBA_SMILING
    assert int((smiling == -1).sum()) == CELEBA_COUNT - CELEBA_SMILING == 5178
    assert set(np.unique(values).tolist()) == {-1, 1}


def test_real_celeba_splits(celeba32, data_dir):
    d = celeba32
    assert d.source == "file:" + os.path.join(os.path.abspath(data_dir), "celeba",
                                              "list_attr_celeba.txt")
    assert d.image_shape == (32, 32, 3) and d.num_classes == 2
    counts = {s: np.bincount(d.arrays(s)[1], minlength=2).tolist()
              for s in ("train", "provider", "test")}
    # 20% stratified test split (2,000), then 1/6 of the rest as the provider part.
    assert sum(counts["test"]) == 2000 and sum(counts["provider"]) == 1333
    totals = np.sum(list(counts.values()), axis=0)
    assert totals.tolist() == [5178, 4822]  # label 1 = Smiling
    assert abs(counts["test"][1] - 0.2 * 4822) <= 1
    for split in ("train", "provider", "test"):
        x = d.arrays(split)[0]
        assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert 0.3 < float(d.x_test.mean()) < 0.6  # natural photos, not blank or noise


def test_celeba_centre_crop_geometry(data_dir):
    folder = os.path.join(data_dir, "celeba", "img_align_celeba")
    raw = tf.io.decode_jpeg(tf.io.read_file(os.path.join(folder, "000001.jpg"))).numpy()
    h, w, _ = raw.shape
    assert (h, w) == (109, 89)  # the shared copy is at half resolution
    top = (h - w) // 2
    same_size = celeba.read_images(folder, ["000001.jpg"], w)[0]
    np.testing.assert_array_equal(same_size, raw[top:top + w])  # crop only, no resampling
    small = celeba.read_images(folder, ["000001.jpg"], 32)[0].astype(float)
    assert abs(small.mean() - raw[top:top + w].mean()) < 1.5  # antialiased: same brightness


def test_celeba_split_is_seeded(celeba32, data_dir):
    again = load_dataset("celeba", data_dir=data_dir, image_size=32, max_images=2000)
    other = load_dataset("celeba", data_dir=data_dir, image_size=32, max_images=2000, seed=1)
    assert len(again.y_test) == 400
    np.testing.assert_array_equal(again.x_test, other.x_test)  # the test split is fixed
    assert not np.array_equal(again.x_provider, other.x_provider)  # another provider draw
    same = load_dataset("celeba", data_dir=data_dir, image_size=32, max_images=2000)
    np.testing.assert_array_equal(same.x_provider, again.x_provider)


def test_celeba_tfds_mock(isolated):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=40):
        splits = load_dataset("celeba", use_tfds=True, image_size=32, max_images=30)
    assert splits.source == "tfds:celeb_a"
    assert len(splits.y_train) + len(splits.y_provider) + len(splits.y_test) == 30
    assert splits.x_train.shape[1:] == (32, 32, 3) and splits.num_classes == 2
    assert set(np.unique(np.concatenate([splits.y_train, splits.y_test])).tolist()) == {0, 1}


def small_celeba(root, data_dir, rows: int = 6, count: int | None = None, edit=None):
    """A CelebA folder with `rows` real faces (symlinked) and their attribute rows."""
    src = os.path.join(data_dir, "celeba")
    with open(os.path.join(src, "list_attr_celeba.txt")) as f:
        lines = f.read().splitlines()
    body = lines[2:2 + rows]
    if edit:
        body = edit(body)
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    for row in lines[2:2 + rows]:
        name = row.split()[0]
        os.symlink(os.path.join(src, "img_align_celeba", name),
                   folder / "img_align_celeba" / name)
    text = "\n".join([str(rows if count is None else count), lines[1], *body]) + "\n"
    (folder / "list_attr_celeba.txt").write_text(text)
    return folder


@pytest.mark.parametrize("case, expected", [
    ("count", "line 1 says 7 images but the file has 6 rows"),
    ("value", "line 4 is not a file name followed by 40 values of 1 or -1"),
    ("short", "line 3 is not a file name followed by 40 values"),
    ("header", "line 1 must be the number of images"),
])
def test_bad_attribute_file(data_dir, isolated, case, expected):
    edits = {"value": lambda b: [b[0], b[1].replace(" 1 ", " 0 ", 1), *b[2:]],
             "short": lambda b: [b[0].rsplit(" ", 1)[0], *b[1:]]}
    folder = small_celeba(isolated, data_dir, count=7 if case == "count" else None,
                          edit=edits.get(case))
    path = folder / "list_attr_celeba.txt"
    if case == "header":
        path.write_text(path.read_text().split("\n", 1)[1])
    with pytest.raises(LadError, match=expected) as err:
        load_dataset("celeba", data_dir=str(isolated), image_size=32)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_celeba_missing_and_corrupt_images(data_dir, isolated):
    folder = small_celeba(isolated, data_dir)
    assert len(load_dataset("celeba", data_dir=str(isolated), image_size=32,
                            provider_fraction=0.25).y_test) >= 1
    os.remove(folder / "img_align_celeba" / "000003.jpg")
    with pytest.raises(LadError, match="1 of the 6 images .* not in .*000003.jpg"):
        load_dataset("celeba", data_dir=str(isolated), image_size=32)
    (folder / "img_align_celeba" / "000003.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(LadError, match="000003.jpg: is not a readable JPEG"):
        load_dataset("celeba", data_dir=str(isolated), image_size=32)
