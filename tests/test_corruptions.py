"""The MNIST-C corruptions (`lad_tf.attacks.corruptions`) on real MNIST test images.

Model-free: no classifier is trained or loaded (the `trained_lenet` fixture is
not used). Every corruption changes the images, keeps shape, dtype and range,
is reproducible from its seed and reports its severity; sanity checks without
a model show the digit survives (the corrupted image is closer to its own clean
image than to a digit of another class; translations are exact shifts; warps
keep the ink) and the registry holds MNIST-C's published severities.
"""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from lad_tf.attacks.corruptions import CORRUPTIONS, corrupt, corruption_names
from lad_tf.utils.errors import LadError
from lad_tf.utils.sampling import balanced_subset

ROOT = pathlib.Path(__file__).resolve().parents[1]
NAMES = ("shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate",
         "brightness", "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag",
         "canny_edges")
DETERMINISTIC = {"scale", "brightness", "stripe", "canny_edges"}  # no random draws in MNIST-C
# Smallest mean absolute change accepted (on 1,000 images the least is dotted_line's 0.024).
MIN_CHANGE = 0.01
# MNIST-C's severity and parameters per corruption (google-research/mnist-c corruptions.py,
# each function's default severity).
PUBLISHED = {
    "shot_noise": {"severity": 5, "lam": 3},
    "impulse_noise": {"severity": 4, "amount": 0.17},
    "glass_blur": {"severity": 1, "sigma": 0.7, "max_delta": 1, "iterations": 2},
    "motion_blur": {"severity": 1, "radius": 10, "sigma": 3, "max_angle": 45},
    "shear": {"severity": 2, "shear": 0.4},
    "scale": {"severity": 3, "factor": 0.7},
    "rotate": {"severity": 2, "radians": 0.4},
    "brightness": {"severity": 5, "delta_v": 0.5},
    "translate": {"severity": 3, "pixels": 3},
    "stripe": {"columns": 7},
    "fog": {"severity": 5, "strength": 3.0, "wibble_decay": 1.4},
    "spatter": {"severity": 4, "loc": 0.65, "scale": 0.3, "sigma": 1, "threshold": 0.65,
                "mask_sigma": 1.5, "mud_gray": 63},
    "dotted_line": {"dash": 2},
    "zigzag": {"length": 2.0, "width": 2.0},
    "canny_edges": {"sigma": 1.0, "low_threshold": 0.1, "high_threshold": 0.2},
}


@pytest.fixture(scope="module")
def sample(mnist):
    idx = balanced_subset(mnist.y_test, 4, seed=3)  # 40 test images, 4 per class
    return mnist.x_test[idx], mnist.y_test[idx]


def test_registry_lists_the_15_corruptions_in_order():
    assert corruption_names() == NAMES
    assert tuple(CORRUPTIONS) == NAMES
    for name, spec in CORRUPTIONS.items():
        assert spec.name == name and spec.title == name.replace("_", " ")
        assert spec.params == PUBLISHED[name], name
    approximated = {n for n, s in CORRUPTIONS.items() if s.approximation}
    assert approximated == {"motion_blur", "canny_edges"}


@pytest.mark.parametrize("name", NAMES)
def test_corruption_changes_images_and_keeps_format(sample, name):
    x, _ = sample
    y, info = corrupt(name, x, seed=0)
    assert y.shape == x.shape and y.dtype == np.float32
    assert y.min() >= 0.0 and y.max() <= 1.0
    assert float(np.mean(np.abs(y - x))) > MIN_CHANGE
    assert info == {"name": name, "title": CORRUPTIONS[name].title,
                    "params": PUBLISHED[name], "approximation": CORRUPTIONS[name].approximation,
                    "seed": 0}
    if "severity" in PUBLISHED[name]:
        assert info["params"]["severity"] == PUBLISHED[name]["severity"]
    np.testing.assert_array_equal(x, sample[0])  # the input is left alone


@pytest.mark.parametrize("name", NAMES)
def test_seed_fixes_the_output(sample, name):
    x = sample[0][:20]
    first, second = corrupt(name, x, seed=1)[0], corrupt(name, x, seed=1)[0]
    np.testing.assert_array_equal(first, second)
    other = corrupt(name, x, seed=2)[0]
    if name in DETERMINISTIC:
        np.testing.assert_array_equal(first, other)
    else:
        assert not np.array_equal(first, other)


@pytest.mark.parametrize("name", ["shot_noise", "impulse_noise", "glass_blur", "motion_blur",
                                  "brightness", "stripe", "fog", "spatter", "dotted_line",
                                  "zigzag"])
def test_digit_survives_without_a_model(sample, name):
    """Each corrupted image correlates more with its own clean image than with a
    clean image of another class (a classifier-free check of the label)."""
    x, y = sample
    order = np.argsort(y, kind="stable")
    partner = np.empty(len(y), int)
    partner[order] = np.roll(order, np.bincount(y).max())
    assert (y[partner] != y).all()
    z = corrupt(name, x, seed=0)[0]
    assert np.mean(_correlation(z, x) > _correlation(z, x[partner])) >= 0.95


def test_translate_is_an_exact_three_pixel_shift(sample):
    x = sample[0]
    z = corrupt("translate", x, seed=0)[0]
    shifts = {(dr, dc): _shift(x, dr, dc) for dr in (-3, 3) for dc in (-3, 3)}
    for i in range(len(x)):
        assert any(np.allclose(z[i], s[i], atol=1e-6) for s in shifts.values()), i
    used = {k for k, s in shifts.items() for i in range(len(x)) if np.allclose(z[i], s[i])}
    assert len(used) >= 3  # the signs are drawn per image


def test_warps_keep_the_ink_and_scale_shrinks_it(sample):
    x = sample[0]
    ink = x.sum(axis=(1, 2, 3))
    for name in ("rotate", "shear"):
        ratio = corrupt(name, x, seed=0)[0].sum(axis=(1, 2, 3)) / ink
        assert 0.85 < ratio.min() and ratio.max() < 1.15, (name, ratio.min(), ratio.max())
    ratio = corrupt("scale", x)[0].sum(axis=(1, 2, 3)) / ink
    np.testing.assert_allclose(ratio, 0.7 ** 2, atol=0.06)


def test_stripe_brightness_and_canny_follow_mnist_c(sample):
    x = sample[0]
    stripe = corrupt("stripe", x)[0]
    np.testing.assert_allclose(stripe[:, :, :7], 1 - x[:, :, :7])
    np.testing.assert_array_equal(stripe[:, :, 7:21], x[:, :, 7:21])
    np.testing.assert_allclose(stripe[:, :, 21:], 1 - x[:, :, 21:])
    np.testing.assert_allclose(corrupt("brightness", x)[0], np.minimum(x + 0.5, 1), atol=1e-6)
    edges = corrupt("canny_edges", x)[0]
    assert set(np.unique(edges)) == {0.0, 1.0}
    near_ink = _dilate(x > 0.1, 2)
    assert near_ink[edges > 0].all()  # edges trace the strokes


def test_rgb_and_larger_images(sample):
    x = sample[0][:4]
    rgb = np.repeat(x, 3, axis=-1) * np.array([1.0, 0.6, 0.3], np.float32)
    big = np.kron(x, np.ones((1, 2, 2, 1), np.float32))  # 56 x 56
    for name in NAMES:
        for images in (rgb, big):
            z = corrupt(name, images, seed=0)[0]
            assert z.shape == images.shape and z.dtype == np.float32, name
            assert 0.0 <= z.min() and z.max() <= 1.0 and np.abs(z - images).mean() > 0.005, name


def test_unknown_name_and_bad_shape_raise_lad_error(sample):
    with pytest.raises(LadError, match="unknown corruption 'gaussian_blur'") as info:
        corrupt("gaussian_blur", sample[0])
    assert all(name in str(info.value) for name in NAMES)
    with pytest.raises(LadError, match="C = 1 or 3"):
        corrupt("fog", sample[0][..., 0])


def test_module_imports_no_tensorflow():
    """`import lad_tf.attacks.corruptions` runs lad_tf/attacks/__init__.py, which
    imports TensorFlow (cleverhans), so the module is loaded by its file path."""
    path = str(ROOT / "lad_tf" / "attacks" / "corruptions.py")
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('corruptions', {path!r})\n"
        "m = importlib.util.module_from_spec(spec)\n"
        "sys.modules[spec.name] = m\n"
        "spec.loader.exec_module(m)\n"
        "import numpy as np\n"
        "for name in m.corruption_names():\n"
        "    m.corrupt(name, np.zeros((2, 28, 28, 1), 'float32'))\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def _correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(axis=1, keepdims=True)
    b = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(axis=1, keepdims=True)
    return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1) + 1e-12)


def _shift(x: np.ndarray, dr: int, dc: int) -> np.ndarray:
    """x moved by (dr, dc) pixels, zeros shifted in."""
    out = np.zeros_like(x)
    h, w = x.shape[1:3]
    out[:, max(dr, 0):h + min(dr, 0), max(dc, 0):w + min(dc, 0)] = \
        x[:, max(-dr, 0):h + min(-dr, 0), max(-dc, 0):w + min(-dc, 0)]
    return out


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    out = mask.copy()
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            out |= _shift(mask, dr, dc)
    return out
