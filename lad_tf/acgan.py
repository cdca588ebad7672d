"""Trains the AC-GAN that GA searches: `python -m lad_tf.acgan RUN_DIR`.

Writes into RUN_DIR:
  acgan/acgan.keras        the ACGAN (generator + critic), saved atomically
  acgan/state.json         settings and steps done (resume reads it)
  tensorboard/acgan/       losses per chunk of steps (`tensorboard --logdir RUN_DIR`)
  figures/acgan_samples.png  one row per class, 10 samples each

Run again with the same RUN_DIR to continue up to --steps (the weights
resume; the optimizers' moments restart). Built, not yet measured on full
MNIST: Song et al. train 100k generator steps (batch 64, n_critic 5).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from lad_tf.errors import LadError



def train_acgan(run_dir, dataset: str = "mnist", steps: int = 100_000, batch_size: int = 64,
                latent_dim: int = 128, channels: int = 32, n_critic: int = 5,
                learning_rate: float = 2e-4, decay: bool = True, chunk: int = 500, seed: int = 0,
                data_dir: str | None = None, log=None):
    """Trains (or continues) an ACGAN on a dataset's training split.

    Args:
        run_dir: folder for the artefacts (created if missing).
        dataset: a registered dataset (`lad_tf.data.available_datasets()`).
        steps: generator steps in all (each with n_critic critic steps).
        batch_size, latent_dim, channels, n_critic: see `ACGAN`; Song et al.
            for MNIST: 64, 128, 32, 5.
        learning_rate: Adam's rate (beta_1 0, beta_2 0.9), decayed linearly
            to 0 over `steps` when `decay`.
        chunk: steps between checkpoints, TensorBoard points and sample grids.
        seed: seed of the weights and the random draws.
        data_dir: the dataset's folder (default: $LAD_DATA_DIR).
        log: callable(str) for progress lines (default: stderr with a time stamp).
    Returns: the trained `ACGAN`.

    Raises:
        LadError: bad settings, unknown or missing data, or a run directory
            whose recorded settings differ from these.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from lad_tf.data import load_dataset
    from lad_tf.models.acgan import ACGAN
    from lad_tf.models.acgan_critic import ACGANCritic
    from lad_tf.models.acgan_generator import ACGANGenerator
    from lad_tf.monitoring import image_grid, log as stamp_log, save_png

    log = log or stamp_log
    for name, value in (("steps", steps), ("batch_size", batch_size), ("latent_dim", latent_dim),
                        ("channels", channels), ("n_critic", n_critic), ("chunk", chunk)):
        if int(value) != value or value < 1:
            raise LadError(f"--{name.replace('_', '-')} must be an integer >= 1; got {value}")
    if not learning_rate > 0:
        raise LadError(f"--learning-rate must be > 0; got {learning_rate}")
    run_dir = Path(run_dir)
    folder = run_dir / "acgan"
    folder.mkdir(parents=True, exist_ok=True)
    (run_dir / "figures").mkdir(exist_ok=True)
    settings = dict(dataset=dataset, latent_dim=latent_dim, channels=channels, n_critic=n_critic,
                    batch_size=batch_size, learning_rate=learning_rate, seed=seed)
    state_path, model_path = folder / "state.json", folder / "acgan.keras"
    done = 0
    if state_path.exists() and model_path.exists():
        state = json.loads(state_path.read_text())
        differ = {k: (state["settings"].get(k), v) for k, v in settings.items()
                  if state["settings"].get(k) != v}
        if differ:
            raise LadError(f"{run_dir} holds an AC-GAN trained with other settings "
                           f"{ {k: a for k, (a, _) in differ.items()} }; use another RUN_DIR or "
                           f"the same settings")
        done = int(state["steps_done"])
    data = load_dataset(dataset, data_dir=data_dir)
    if data.streamed:
        raise LadError("the AC-GAN trains on in-memory images; this dataset streams from files")
    h, w, c = data.image_shape
    if h % 4 or w % 4:
        raise LadError(f"the AC-GAN needs images whose sides divide by 4; {dataset} has {h}x{w}")
    keras.utils.set_random_seed(seed)
    if done:
        model = keras.saving.load_model(model_path, compile=False)
        log(f"acgan: continuing {model_path} from step {done}")
    else:
        generator = ACGANGenerator(latent_dim, data.num_classes, data.image_shape, channels)
        critic = ACGANCritic(data.num_classes, data.image_shape, channels)
        model = ACGAN(generator, critic, n_critic=n_critic, seed=seed)
    rate = learning_rate
    if decay:
        rate = keras.optimizers.schedules.PolynomialDecay(learning_rate, steps, 0.0)
    model.compile(keras.optimizers.Adam(rate, 0.0, 0.9), keras.optimizers.Adam(rate, 0.0, 0.9))
    for optimizer in (model.generator_optimizer, model.critic_optimizer):
        optimizer.iterations.assign(done)  # the decay resumes where it stopped
    batches = (tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
               .shuffle(len(data.x_train), seed=seed).repeat().batch(batch_size, drop_remainder=True))
    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard" / "acgan"))
    z = np.random.default_rng(seed).standard_normal((10 * data.num_classes, latent_dim))
    labels = np.repeat(np.arange(data.num_classes), 10)
    while done < steps:
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
        tmp = folder / "partial-acgan.keras"  # Keras needs the .keras suffix
        model.save(tmp)
        tmp.replace(model_path)
        tmp_state = folder / "state.json.tmp"
        tmp_state.write_text(json.dumps({"settings": settings, "steps_done": done,
                                         "steps": steps, "last_losses": logs}, indent=2))
        tmp_state.replace(state_path)
        log(f"acgan step {done}/{steps}: " + " ".join(f"{k} {v:.4f}" for k, v in logs.items()))
    return model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lad_tf.acgan", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", help="folder for the AC-GAN's artefacts (continued if present)")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", default=None, help="dataset folder (default $LAD_DATA_DIR)")
    parser.add_argument("--steps", type=int, default=100_000, help="generator steps in all")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=128)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--n-critic", type=int, default=5)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--no-decay", action="store_true", help="constant learning rate")
    parser.add_argument("--chunk", type=int, default=500, help="steps between checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        train_acgan(args.run_dir, args.dataset, args.steps, args.batch_size, args.latent_dim,
                    args.channels, args.n_critic, args.learning_rate, not args.no_decay,
                    args.chunk, args.seed, args.data_dir)
        return 0
    except LadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
