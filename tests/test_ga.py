"""GA (Song et al. 2018) and its AC-GAN on a tiny budget (embedded digits, no files).

Six training steps check the mechanics (the train_step, save / reload, the
run directory, the search's loss terms and bounds, zero-step samples,
errors). 150 steps of a narrow AC-GAN with the flatten critic make a
conditioned generator on digits: a test then checks that the class input
decides the class a separate classifier reads. The tiny AC-GAN is too weak
for targeted GA (it reached the target on 37% of examples), so the checks
on LeNet's reading of the samples and on targeted GA use the zoo's
full-MNIST AC-GAN (`tests/test_ga_mnist.py`); the measured numbers come
from `python -m lad_tf.ga_study` and stand in the MNIST card.
"""

import json

import keras
import numpy as np
import pytest

from lad_tf.attacks import craft
from lad_tf.attacks.ga import ga_search, initial_latents
from lad_tf.cli.acgan import main as acgan_main
from lad_tf.studies.ga.acgan import train_acgan
from lad_tf.utils.errors import LadError

# XLA off for the few-step runs (its compilation is most of their time); the
# 150-step CONDITIONED run below trains with XLA, the default.
TINY = dict(dataset="digits", batch_size=32, latent_dim=16, channels=8, n_critic=2, chunk=3,
            xla=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run directory with an AC-GAN trained for 6 steps on digits."""
    run_dir = tmp_path_factory.mktemp("acgan")
    train_acgan(run_dir, steps=6, log=lambda _: None, **TINY)
    return run_dir


@pytest.fixture(scope="module")
def acgan(run):
    return keras.saving.load_model(run / "acgan" / "acgan.keras", compile=False)


@pytest.fixture(scope="module")
def classifier():
    """A small CNN trained for 5 epochs on digits (about 90% test accuracy)."""
    from lad_tf.data import load_dataset

    data = load_dataset("digits")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28, 1)),
                              keras.layers.Conv2D(8, 5, strides=2, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(data.x_train, data.y_train, epochs=5, batch_size=32, verbose=0)
    return model


SOURCE = np.arange(10)
TARGET = (SOURCE + 1) % 10

# 150 steps that condition the generator on digits (measured: the classifier
# below read the asked class on 21% of samples after 50 steps, 83% after 100,
# 99% after 150).
CONDITIONED = dict(dataset="digits", steps=150, batch_size=32, latent_dim=16, channels=8,
                   n_critic=1, chunk=150, learning_rate=1e-3, decay=False, pooling="flatten")


@pytest.fixture(scope="module")
def conditioned(tmp_path_factory):
    """An AC-GAN trained 150 steps on digits, conditioned on its class input."""
    run_dir = tmp_path_factory.mktemp("conditioned")
    return train_acgan(run_dir, log=lambda _: None, **CONDITIONED)


def test_training_writes_a_run_directory_with_finite_losses(run):
    state = json.loads((run / "acgan" / "state.json").read_text())
    assert state["steps_done"] == 6
    losses = state["last_losses"]
    assert {"critic_loss", "generator_loss", "wasserstein", "gradient_penalty",
            "aux_loss_real", "aux_loss_fake"} <= set(losses)
    assert all(np.isfinite(v) for v in losses.values()), losses
    assert (run / "figures" / "acgan_samples.png").stat().st_size > 0
    assert list((run / "tensorboard" / "acgan").iterdir())
    assert not list((run / "acgan").glob("partial-*"))  # atomic: no half-written model left


def test_training_resumes_and_refuses_other_settings(run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    train_acgan(copy, steps=7, log=lambda _: None, **TINY)
    assert json.loads((copy / "acgan" / "state.json").read_text())["steps_done"] == 7
    with pytest.raises(LadError, match="other settings"):
        train_acgan(copy, steps=8, log=lambda _: None, **{**TINY, "channels": 4})


def test_cli_reports_bad_input_on_one_line(tmp_path, capsys):
    assert acgan_main([str(tmp_path / "r"), "--dataset", "digits", "--steps", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --steps must be an integer >= 1")
    assert acgan_main([str(tmp_path / "r"), "--dataset", "nosuch"]) == 2
    assert "unknown dataset" in capsys.readouterr().err


def test_save_reload_gives_the_same_outputs(run, acgan, tmp_path):
    from lad_tf.models.acgan import ACGAN

    assert isinstance(acgan, ACGAN) and acgan.n_critic == 2 and acgan.latent_dim == 16
    z = initial_latents(10, acgan.latent_dim, seed=3)
    images = np.asarray(acgan.generate(z, SOURCE))
    acgan.save(tmp_path / "again.keras")
    again = keras.saving.load_model(tmp_path / "again.keras", compile=False)
    # Same weights and batch: equal up to float round-off.
    np.testing.assert_allclose(np.asarray(again.generate(z, SOURCE)), images, atol=1e-6)
    for a, b in zip(acgan.critic(images), again.critic(images)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    assert images.shape == (10, 28, 28, 1) and images.min() >= 0 and images.max() <= 1


def test_train_step_updates_both_networks(acgan):
    from lad_tf.data import load_dataset

    data = load_dataset("digits")
    model = keras.models.clone_model(acgan)
    model.set_weights(acgan.get_weights())
    model.compile()
    g0 = [w.copy() for w in model.generator.get_weights()]
    c0 = [w.copy() for w in model.critic.get_weights()]
    logs = model.train_on_batch(data.x_train[:16], data.y_train[:16], return_dict=True)
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    assert logs["gradient_penalty"] >= 0
    assert any(not np.allclose(a, b) for a, b in zip(g0, model.generator.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(c0, model.critic.get_weights()))


def test_generator_reads_its_class_input(acgan):
    """Wiring only: for the same z, another class gives another image. Whether
    the images *look like* their class needs the full training (see above)."""
    z = initial_latents(10, acgan.latent_dim, seed=1)
    a = np.asarray(acgan.generate(z, SOURCE))
    b = np.asarray(acgan.generate(z, TARGET))
    assert np.abs(a - b).mean(axis=(1, 2, 3)).min() > 1e-4


def test_zero_steps_return_the_acgan_samples(acgan, classifier):
    result = ga_search(classifier, acgan, SOURCE, steps=0)
    # the search's traced generator and an eager call may round differently
    np.testing.assert_allclose(result.images, np.asarray(acgan.generate(result.z0, SOURCE)),
                               rtol=0, atol=1e-6)
    np.testing.assert_array_equal(result.z, result.z0)
    # Untargeted success is then exactly the classifier's error on the samples.
    error = np.argmax(np.asarray(classifier(result.images)), -1) != SOURCE
    np.testing.assert_array_equal(result.predictions != SOURCE, error)
    np.testing.assert_array_equal(result.success, error & (result.aux_predictions == SOURCE))
    # Through craft, in batches of 4: each example keeps its z0 (float tolerance
    # only, since the generator runs on other batch shapes).
    x = np.zeros((10, 28, 28, 1), "float32")
    for name, extra in [("ga", {}), ("ga_t", {"target": TARGET})]:
        crafted = craft(name, classifier, x, SOURCE, acgan=acgan, steps=0, batch_size=4, **extra)
        np.testing.assert_allclose(crafted, result.images, atol=1e-5)


def test_search_lowers_the_loss_and_keeps_its_bounds(acgan, classifier):
    start = ga_search(classifier, acgan, SOURCE, TARGET, steps=0)
    result = ga_search(classifier, acgan, SOURCE, TARGET, steps=40)
    assert result.losses.shape == (41,)
    assert result.losses[-1] < result.losses[0], result.losses
    # The pixel noise stays within noise_eps of G(z, s).
    clean = np.asarray(acgan.generate(result.z, SOURCE))
    assert np.abs(result.images - clean).max() <= 0.1 + 1e-5
    assert np.mean(result.predictions == TARGET) > np.mean(start.predictions == TARGET)
    # lambda1 keeps z near z0: without Langevin noise and the auxiliary term,
    # z drifts further beyond z_eps when lambda1 is 0.
    drift = {}
    for lambda1 in (0.0, 100.0):
        r = ga_search(classifier, acgan, SOURCE, TARGET, steps=40, lambda1=lambda1, lambda2=0.0,
                      langevin=0.0)
        drift[lambda1] = np.maximum(np.abs(r.z - r.z0) - 0.1, 0).mean()
    assert drift[100.0] < drift[0.0], drift


def test_bad_parameters_name_the_fix(acgan, classifier, tmp_path):
    x = np.zeros((3, 28, 28, 1), "float32")
    y = np.array([0, 1, 2])
    cases = [
        (dict(name="ga", y=y), "pass acgan="),
        (dict(name="ga", y=None, acgan=acgan), "pass y="),
        (dict(name="ga", y=y, acgan=str(tmp_path / "none.keras")), "no AC-GAN file"),
        (dict(name="ga", y=y, acgan=acgan, steps=-1), "steps must be an integer >= 0"),
        (dict(name="ga", y=y, acgan=acgan, lambda1=-1.0), "lambda1 must be a finite number"),
        (dict(name="ga", y=np.array([0, 1, 12]), acgan=acgan), r"must lie in 0\.\.9"),
        (dict(name="ga_t", y=y, target=y, acgan=acgan), "must differ from their source"),
        (dict(name="ga", y=y, acgan=classifier), "must be an lad_tf ACGAN"),
    ]
    for kwargs, message in cases:
        name = kwargs.pop("name")
        with pytest.raises(LadError, match=message):
            craft(name, classifier, x, **kwargs)
    with pytest.raises(LadError, match="AC-GAN makes"):
        craft("ga", classifier, np.zeros((3, 32, 32, 1), "float32"), y, acgan=acgan)


def test_the_critic_rate_decays_with_the_generator_rate(run):
    """The critic's optimizer counts n_critic updates per generator step;
    both rates must reach 0 at the last generator step (decaying the critic's
    over `steps` updates froze it at steps / n_critic, and the generator
    collapsed to one image per class)."""
    import tensorflow as tf

    from lad_tf.studies.ga.acgan_training import compiled_acgan, training_images

    data = training_images("digits", None)
    settings = json.loads((run / "acgan" / "state.json").read_text())["settings"]
    model = compiled_acgan(run / "acgan" / "acgan.keras", 3, data, settings, steps=6,
                           decay=True, log=lambda _: None, xla=False)
    rate = settings["learning_rate"]
    generator, critic = model.generator_optimizer, model.critic_optimizer
    for expected in (rate * 3 / 6, rate * 2 / 6):  # resumed at step 3 of 6, then one step
        assert float(generator.learning_rate) == pytest.approx(expected, rel=1e-5)
        assert float(critic.learning_rate) == pytest.approx(expected, rel=1e-5)
        batches = tf.data.Dataset.from_tensor_slices((data.x_train[:32], data.y_train[:32]))
        model.fit(batches.batch(32), epochs=1, verbose=0, shuffle=False)
    assert int(critic.iterations) == 2 * int(generator.iterations) == 2 * 5  # TINY n_critic 2


def test_the_class_input_decides_the_class_a_classifier_reads(conditioned, classifier):
    """Check 1 on a tiny budget: the same z asked for each class gives images
    a separate classifier (about 90% on digits) reads as that class."""
    z = np.repeat(initial_latents(10, conditioned.latent_dim, seed=5), 10, axis=0)
    asked = np.tile(np.arange(10), 10)
    read = np.argmax(np.asarray(classifier(np.asarray(conditioned.generate(z, asked)))), -1)
    assert np.mean(read == asked) >= 0.7, np.mean(read == asked)  # chance: 10%
    # Per z, changing the class changes what the classifier reads.
    assert np.mean([len(set(read[i * 10:(i + 1) * 10])) for i in range(10)]) >= 6


def test_select_scores_every_checkpoint_and_copies_the_best(run, classifier, tmp_path, capsys):
    from lad_tf.cli.acgan_select import main as select_main
    from lad_tf.studies.ga.acgan_select import select_checkpoint

    path = tmp_path / "classifier.keras"
    classifier.save(path)
    result = select_checkpoint(run, path, per_class=2, log=lambda _: None)
    assert [r["step"] for r in result["rows"]] == [3, 6]  # TINY: chunks of 3 steps
    best = max(result["rows"], key=lambda r: r["accuracy"])
    assert result["chosen"] == best["step"]
    chosen = keras.saving.load_model(run / "acgan" / "chosen.keras", compile=False)
    assert chosen.latent_dim == 16
    assert json.loads((run / "acgan" / "selection.json").read_text())["chosen"] == best["step"]
    assert select_main([str(tmp_path), "--classifier", str(path)]) == 2
    assert "holds no acgan-<step>.keras" in capsys.readouterr().err
    assert select_main([str(run), "--classifier", str(path), "--average", "0"]) == 2
    assert "--average must be an integer >= 1" in capsys.readouterr().err


def test_select_averages_consecutive_checkpoints(run, classifier, tmp_path):
    from lad_tf.studies.ga.acgan_select import select_checkpoint, set_mean_weights

    path = tmp_path / "classifier.keras"
    classifier.save(path)
    result = select_checkpoint(run, path, per_class=2, log=lambda _: None, average=3)
    # Two checkpoints: each alone, and their mean (no window of 3 exists).
    assert [(r["step"], r["window"]) for r in result["rows"]] == [(3, 1), (6, 1), (6, 2)]
    assert result["rows"][2]["steps"] == [3, 6]
    best = max(result["rows"], key=lambda r: r["accuracy"])
    assert (result["chosen"], result["window"]) == (best["step"], best["window"])
    # The mean: every generator and critic weight, batch-norm statistics included.
    first, second = (keras.saving.load_model(run / "acgan" / "checkpoints" / f"acgan-{s}.keras",
                                             compile=False) for s in (3, 6))
    mean = keras.saving.load_model(run / "acgan" / "checkpoints" / "acgan-6.keras", compile=False)
    set_mean_weights(mean, [[np.asarray(w) for w in (*m.generator.weights, *m.critic.weights)]
                            for m in (first, second)])
    for a, b, m in zip(first.generator.weights, second.generator.weights, mean.generator.weights):
        np.testing.assert_allclose(np.asarray(m), (np.asarray(a) + np.asarray(b)) / 2,
                                   rtol=1e-6, atol=1e-7)
    moving = [w for w in mean.generator.weights if "moving_mean" in w.path]
    assert moving, "batch-norm statistics are averaged too"
    np.testing.assert_allclose(np.asarray(mean.critic.weights[0]),
                               (np.asarray(first.critic.weights[0])
                                + np.asarray(second.critic.weights[0])) / 2, rtol=1e-6, atol=1e-7)
