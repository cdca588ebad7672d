"""Threats beyond L-inf (issue 25) on real MNIST: the spatial grid, the L2
suite, the union, their caches, and bad input before TensorFlow."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from lad_tf.attacks import craft
from lad_tf.attacks.budget import quick_settings
from lad_tf.attacks.spatial import (
    SpatialGrid,
    identity_index,
    spatial_worst_case,
    transform_each,
    transform_images,
)
from lad_tf.evaluation.context import EvaluationContext
from lad_tf.evaluation.robust import evaluate_robust
from lad_tf.evaluation.threats import evaluate_threats
from lad_tf.recipe.schema import ZOO_DIR, load_recipe
from lad_tf.utils.batching import predict

ROOT = Path(__file__).resolve().parents[1]


def _labels(model):
    return lambda x: predict(model, x, 2000)


def test_the_recipe_names_the_corruptions_the_module_makes():
    from lad_tf.attacks.corruptions import corruption_names
    from lad_tf.recipe.names import CORRUPTION_NAMES

    assert corruption_names() == CORRUPTION_NAMES == load_recipe("mnist").evaluation.corruptions


def test_spatial_at_zero_angle_and_shift_is_clean_accuracy(mnist, trained_lenet):
    x, y = mnist.x_test[:500], mnist.y_test[:500]
    zero = SpatialGrid(max_angle=0.0, angles=1, max_shift=0.0, shifts=1)
    np.testing.assert_allclose(transform_images(x, zero.transforms()).numpy(), x, atol=1e-6)
    failed = spatial_worst_case(_labels(trained_lenet), x, y, zero)
    clean = predict(trained_lenet, x) == y
    # the clean result, image by image; tolerance one image: the zero transform
    # is predicted in another batch shape, which may flip an argmax tie on some CPUs
    assert np.sum((failed < 0) != clean) <= 1
    grid = SpatialGrid()
    assert len(grid.transforms()) == 775  # Engstrom et al.'s MNIST grid: 31 x 5 x 5
    assert np.all(grid.transforms()[identity_index(grid)] == 0)


def test_spatial_worst_case_equals_every_transform_tried_on_every_image(mnist, trained_lenet):
    """The early exit (largest transforms first, fooled images dropped) gives
    the exhaustive AND over the grid, per image."""
    x, y = mnist.x_test[:120], mnist.y_test[:120]
    grid = SpatialGrid(max_angle=30.0, angles=5, max_shift=3.0, shifts=3)
    transforms = grid.transforms()
    labels = predict(trained_lenet, transform_images(x, transforms).numpy(), 2000)
    every = (labels.reshape(len(transforms), len(x)) == y).all(0) & (predict(trained_lenet, x) == y)
    failed = spatial_worst_case(_labels(trained_lenet), x, y, grid, images_per_call=700)
    assert np.sum((failed < 0) != every) <= 1  # tolerance one image: other batch shapes
    # the transform named for an image the model reads clean does fool it (read
    # alone, not in the batch of the search: >= 90% of them, for argmax ties)
    clean = predict(trained_lenet, x) == y
    named = [i for i in np.flatnonzero(failed >= 0) if clean[i]]
    fooled = [predict(trained_lenet, transform_images(x[i:i + 1], transforms[failed[i]][None])
                      .numpy())[0] != y[i] for i in named]
    assert named and np.mean(fooled) >= 0.9

def test_a_model_trained_with_rotations_and_shifts_holds_more_under_spatial(mnist, trained_lenet):
    """Same LeNet and 12,000 images as `trained_lenet`, two epochs with each
    image rotated and shifted at random within the grid: its worst case over
    the 775 transforms is clearly above the original's."""
    from lad_tf.defences import classification_loss
    from lad_tf.models import build_classifier

    rng = np.random.default_rng(0)
    x_train, y_train = mnist.x_train[:12000], mnist.y_train[:12000]
    keras.utils.set_random_seed(0)
    model = build_classifier("lenet")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=classification_loss(10))
    for _ in range(2):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), 128):
            idx = order[start:start + 128]
            params = np.stack([rng.uniform(-30, 30, len(idx)), rng.uniform(-3, 3, len(idx)),
                               rng.uniform(-3, 3, len(idx))], 1)
            model.train_on_batch(transform_each(x_train[idx], params), y_train[idx])
    x, y = mnist.x_test[:200], mnist.y_test[:200]
    grid = SpatialGrid()
    original = np.mean(spatial_worst_case(_labels(trained_lenet), x, y, grid) < 0)
    rotated = np.mean(spatial_worst_case(_labels(model), x, y, grid) < 0)
    assert rotated >= original + 0.1, (original, rotated)


@pytest.mark.parametrize("name,params", [
    ("apgd", {"max_iter": 10}),
    ("apgd_t", {"max_iter": 10, "n_target_classes": 2}),
    ("square", {"max_iter": 50}),
    ("pgd", {"nb_iter": 10, "eps_iter": 0.25}),
    ("pgd_restarts", {"nb_iter": 10, "eps_iter": 0.25, "restarts": 2}),
])
def test_l2_attacks_stay_within_their_eps(mnist, trained_lenet, name, params):
    x, y = mnist.x_test[:32], mnist.y_test[:32]
    eps = 1.5
    x_adv = craft(name, trained_lenet, x, y=y, eps=eps, norm=2, **params)
    norms = np.sqrt(((x_adv - x) ** 2).reshape(len(x), -1).sum(1))
    assert norms.max() <= eps * (1 + 1e-5) + 1e-6, norms.max()  # float32 projection
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert norms.max() > 0.5 * eps  # it did move the images
    assert np.mean(predict(trained_lenet, x_adv) == y) < np.mean(predict(trained_lenet, x) == y)


def _context(tmp_path, mnist, threats, **settings):
    recipe = load_recipe("mnist")
    cfg = dataclasses.replace(quick_settings(recipe.evaluation), threats=threats,
                              robust_per_class=4, masking_per_class=1, **settings)
    return EvaluationContext(tmp_path, recipe, mnist, cfg, tmp_path, lambda *a: None)


def test_union_is_below_every_threat_and_each_threat_is_cached_on_its_own(
        tmp_path, mnist, trained_lenet, monkeypatch):
    path = tmp_path / "model.keras"
    trained_lenet.save(path)
    ctx = _context(tmp_path, mnist, ("linf", "l2", "spatial", "corruptions", "ga", "union"),
                   ga_searches=1, ga_steps=5, ga_acgan=str(ZOO_DIR / "mnist/models/acgan.keras"),
                   corruptions=("shot_noise", "translate", "fog"))
    robust = evaluate_robust(ctx, "m", trained_lenet, ctx.cache("m", path))
    linf = robust.pop("robust_per_image")
    rows = evaluate_threats(ctx, "m", trained_lenet, path, linf)
    union = rows["union"]["accuracy"]
    assert rows["union"]["threats"] == ["linf", "l2", "spatial", "corruptions"]
    assert union <= min(robust["robust_accuracy"], rows["l2"]["accuracy"],
                        rows["spatial"]["accuracy"], rows["corruptions"]["all_accuracy"])
    assert rows["corruptions"]["all_accuracy"] <= min(
        r["accuracy"] for r in rows["corruptions"]["per_corruption"].values())
    assert set(rows["l2"]["masking_checks"]) == {"high_eps", "square_vs_white_box", "more_steps"}
    assert rows["l2"]["masking_checks"]["high_eps"]["status"] == "PASS"
    assert rows["spatial"]["masking_checks"]["zero_transform_is_clean"]["status"] == "PASS"
    assert rows["spatial"]["masking_checks"]["grid_below_single"]["status"] == "PASS"
    assert rows["ga"]["status"] == "run" and rows["ga"]["n"] == 10
    assert 0.0 <= rows["ga"]["accuracy"] <= 1.0

    # A rerun reads every threat from its cache; a changed threat setting
    # reruns that threat only, and the L-inf key ignores threat settings.
    import lad_tf.attacks.corruptions as corruptions
    import lad_tf.evaluation.threats as threats

    def fail(*args, **kwargs):
        raise AssertionError("recomputed a cached threat")

    monkeypatch.setattr(threats, "run_attack", fail)
    monkeypatch.setattr(corruptions, "corrupt", fail)
    monkeypatch.setattr("lad_tf.evaluation.ga_threat.ga_search", fail)
    again = evaluate_threats(ctx, "m", trained_lenet, path, linf)
    assert json.dumps(again, sort_keys=True) == json.dumps(rows, sort_keys=True)
    wider = _context(tmp_path, mnist, ("linf", "l2", "spatial", "corruptions", "ga", "union"),
                     ga_searches=1, ga_steps=5, corruptions=("shot_noise", "translate", "fog"),
                     ga_acgan=str(ZOO_DIR / "mnist/models/acgan.keras"),
                     spatial={"angles": 3})
    assert wider.key_settings() == ctx.key_settings()
    changed = evaluate_threats(wider, "m", trained_lenet, path, linf)
    assert changed["l2"] == rows["l2"] and changed["corruptions"] == rows["corruptions"]
    assert changed["spatial"]["transforms"] == 75


def test_no_ac_gan_leaves_ga_not_run_with_the_reason(tmp_path, mnist, trained_lenet):
    path = tmp_path / "model.keras"
    trained_lenet.save(path)
    ctx = _context(tmp_path, mnist, ("ga",), ga_acgan=None)  # the MNIST recipe names the zoo's
    rows = evaluate_threats(ctx, "m", trained_lenet, path, None)
    assert rows["ga"]["status"] == "not run" and "python -m lad_tf.acgan" in rows["ga"]["reason"]


@pytest.mark.parametrize("args,needle", [
    (["--threats", "linf,rotation"], "rotation"),
    (["--set", "evaluation.l2_eps=0"], "evaluation.l2_eps must be a number > 0"),
    (["--set", 'evaluation.spatial={"angles": 0}'], "evaluation.spatial.angles"),
    (["--set", 'evaluation.threats=["linf", "snow"]'], "snow"),
    (["--set", "evaluation.corruptions_source=files"], "evaluation.corruptions_source"),
])
def test_bad_threat_settings_end_in_one_error_line_before_tensorflow(tmp_path, args, needle):
    run = tmp_path / "run"
    run.mkdir()
    (run / "recipe.json").write_text((ZOO_DIR / "mnist" / "recipe.json").read_text())
    code = ("import sys\nfrom lad_tf.cli.evaluate import main\n"
            f"rc = main({[str(run), *args]!r})\n"
            "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'\n"
            "sys.exit(rc)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in run.iterdir()) == ["recipe.json"]  # nothing written


def test_the_published_mnist_c_is_read_from_tfds_when_prepared(tmp_path, mnist, trained_lenet,
                                                                monkeypatch):
    """evaluation.corruptions_source: tfds reads TFDS `mnist_corrupted` (here
    tfds' mock of it: the real one cannot be downloaded on this machine) and
    judges a class-balanced sample of its test split, outside the union; auto
    falls back to generated images, saying why; tfds with nothing prepared is
    one clear error naming `tfds build`."""
    import tensorflow_datasets as tfds

    from lad_tf.utils.errors import LadError

    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "no-tfds"))
    path = tmp_path / "model.keras"
    trained_lenet.save(path)
    names = ("fog", "translate")
    robust = _context(tmp_path, mnist, ("linf",))
    linf = evaluate_robust(robust, "m", trained_lenet, robust.cache("m", path)).pop(
        "robust_per_image")
    ctx = _context(tmp_path, mnist, ("linf", "corruptions", "union"), corruptions=names,
                   corruptions_source="tfds")
    with tfds.testing.mock_data(num_examples=60, policy=tfds.testing.MockPolicy.USE_CODE):
        rows = evaluate_threats(ctx, "m", trained_lenet, path, linf)
    row = rows["corruptions"]
    assert "TFDS mnist_corrupted" in row["source"] and row["all_accuracy"] is None
    assert set(row["per_corruption"]) == set(names)
    for r in row["per_corruption"].values():
        assert r["tfds_images"] == 60 and 0 < r["examples"] <= 40 and 0 <= r["accuracy"] <= 1
    assert rows["union"]["threats"] == ["linf"]  # not the sample's images: left out

    auto = _context(tmp_path, mnist, ("corruptions",), corruptions=names)
    generated = evaluate_threats(auto, "m", trained_lenet, path, None)["corruptions"]
    assert generated["source"].startswith("generated in-process")
    assert "TFDS mnist_corrupted not read: tfds has no prepared" in generated["source"]
    assert generated["examples"] == 40 and generated["all_accuracy"] is not None
    with pytest.raises(LadError, match="tfds build mnist_corrupted/fog"):
        evaluate_threats(ctx, "m", trained_lenet, path, None)  # nothing prepared, no mock
