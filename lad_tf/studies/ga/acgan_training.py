"""The AC-GAN's training loop behind `python -m lad_tf.acgan` (`fit_acgan`).

`lad_tf.studies.ga.acgan.train_acgan` checks the settings and the run directory first,
without TensorFlow; this module holds what needs it: the data, the model,
the chunked fit and the atomic checkpoints.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from lad_tf.data import load_dataset
from lad_tf.models.acgan import ACGAN
from lad_tf.models.acgan.critic import ACGANCritic
from lad_tf.models.acgan.generator import ACGANGenerator
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import save_keras, write_json
from lad_tf.utils.monitoring import image_grid, save_png


def training_images(dataset: str, data_dir: str | None):
    """The dataset's splits, checked to suit the AC-GAN (in memory, sides divisible by 4)."""
    data = load_dataset(dataset, data_dir=data_dir)
    if data.streamed:
        raise LadError("the AC-GAN trains on in-memory images; this dataset streams from files")
    h, w, c = data.image_shape
    if h % 4 or w % 4:
        raise LadError(f"the AC-GAN needs images whose sides divide by 4; {dataset} has {h}x{w}")
    return data


def compiled_acgan(model_path: Path, done: int, data, settings: dict, steps: int, decay: bool,
                   log, xla: bool = True) -> ACGAN:
    """The AC-GAN read from `model_path` (after `done` steps) or a new one, compiled
    with Adam (beta_1 0, beta_2 0.9), both rates decayed linearly to 0 over `steps`
    generator steps,
    and with XLA: Keras leaves XLA off on CPU-only machines, where it cuts the
    step time here (`python -m benchmarks.acgan_step`: XLA / plain 0.50 at
    n_critic 2, 0.69 at n_critic 5, 16 channels). `xla=False` skips XLA's
    compilation, which costs more than it saves over a few steps."""
    keras.utils.set_random_seed(settings["seed"])
    if done:
        model = keras.saving.load_model(model_path, compile=False)
        log(f"acgan: continuing {model_path} from step {done}")
    else:
        generator = ACGANGenerator(settings["latent_dim"], data.num_classes, data.image_shape,
                                   settings["channels"])
        critic = ACGANCritic(data.num_classes, data.image_shape, settings["channels"],
                              settings.get("pooling", "average"))
        model = ACGAN(generator, critic, n_critic=settings["n_critic"], seed=settings["seed"],
                      generator_aux_weight=settings.get("generator_aux_weight", 1.0))
    # The critic's optimizer counts n_critic updates per generator step: its
    # decay runs over steps * n_critic updates, so that both rates reach 0
    # together. (Decaying it over `steps` froze the critic at step
    # steps / n_critic, and the generator then collapsed to one image per class.)
    rate, n_critic = settings["learning_rate"], model.n_critic
    rates = {"generator": rate, "critic": rate}
    if decay:
        rates = {"generator": keras.optimizers.schedules.PolynomialDecay(rate, steps, 0.0),
                 "critic": keras.optimizers.schedules.PolynomialDecay(rate, steps * n_critic, 0.0)}
    model.compile(keras.optimizers.Adam(rates["generator"], 0.0, 0.9),
                  keras.optimizers.Adam(rates["critic"], 0.0, 0.9), jit_compile=bool(xla))
    model.generator_optimizer.iterations.assign(done)  # the decay resumes where it stopped
    model.critic_optimizer.iterations.assign(done * n_critic)
    return model


def fit_acgan(run_dir: Path, dataset: str, data_dir, settings: dict, done: int, steps: int,
              decay: bool, chunk: int, log, xla: bool = True) -> ACGAN:
    """Trains from step `done` to `steps` in chunks; after each chunk, writes
    TensorBoard scalars, the sample grid, acgan/acgan.keras and acgan/state.json
    (with the training seconds so far, over every resumed call), and a copy
    of the model per chunk in acgan/checkpoints/acgan-<step>.keras (an AC-GAN
    can collapse late; `python -m lad_tf.acgan_select` chooses among them).

    Args: as `lad_tf.studies.ga.acgan.train_acgan`; `settings` as recorded in state.json.

    Returns: the trained `ACGAN`.
    """
    data = training_images(dataset, data_dir)
    folder = run_dir / "acgan"
    model = compiled_acgan(folder / "acgan.keras", done, data, settings, steps, decay, log, xla)
    seed, batch_size = settings["seed"], settings["batch_size"]
    batches = (tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
               .shuffle(len(data.x_train), seed=seed).repeat().batch(batch_size, drop_remainder=True))
    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard" / "acgan"))
    z = np.random.default_rng(seed).standard_normal((10 * data.num_classes, settings["latent_dim"]))
    labels = np.repeat(np.arange(data.num_classes), 10)
    state_path = folder / "state.json"
    seconds = json.loads(state_path.read_text()).get("seconds", 0.0) if done else 0.0
    while done < steps:
        start = time.perf_counter()
        now = min(chunk, steps - done)
        history = model.fit(batches, steps_per_epoch=now, epochs=1, verbose=0, shuffle=False).history
        done += now
        logs = {k: float(v[-1]) for k, v in history.items()}
        with writer.as_default():
            for name, value in logs.items():
                tf.summary.scalar(f"acgan/{name}", value, step=done)
        writer.flush()
        grid = image_grid(np.asarray(model.generate(z.astype("float32"), labels)),
                          data.num_classes, 10)
        save_png(grid, run_dir / "figures" / "acgan_samples.png")
        save_keras(model, folder / "acgan.keras")
        (folder / "checkpoints").mkdir(exist_ok=True)
        save_keras(model, folder / "checkpoints" / f"acgan-{done}.keras")  # to choose from
        seconds += time.perf_counter() - start
        write_json(state_path, {"settings": settings, "steps_done": done, "steps": steps,
                                "seconds": seconds, "last_losses": logs})
        log(f"acgan step {done}/{steps}: " + " ".join(f"{k} {v:.4f}" for k, v in logs.items()))
    return model
