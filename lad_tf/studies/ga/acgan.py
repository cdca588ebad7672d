"""Trains the AC-GAN that GA searches: `python -m lad_tf.acgan RUN_DIR`.

Writes into RUN_DIR:
  acgan/acgan.keras        the ACGAN (generator + critic), saved atomically
  acgan/state.json         settings, steps done and training seconds (resume reads it)
  acgan/checkpoints/       a copy per chunk (`python -m lad_tf.acgan_select` chooses one)
  tensorboard/acgan/       losses per chunk of steps (`tensorboard --logdir RUN_DIR`)
  figures/acgan_samples.png  one row per class, 10 samples each

Run again with the same RUN_DIR to continue up to --steps (the weights
resume; the optimizers' moments restart). Song et al. train 100k generator
steps (batch 64, n_critic 5, 32 channels, average pooling); the MNIST
card's AC-GAN is the CPU setting `--steps 4000 --chunk 250 --channels 16
--n-critic 5 --pooling flatten` (3,077 s on 2 shared cores; see the card's GA section).
"""

from __future__ import annotations

import json
from pathlib import Path

from lad_tf.utils.errors import LadError


def train_acgan(run_dir, dataset: str = "mnist", steps: int = 100_000, batch_size: int = 64,
                latent_dim: int = 128, channels: int = 32, n_critic: int = 5,
                learning_rate: float = 2e-4, decay: bool = True, chunk: int = 500, seed: int = 0,
                data_dir: str | None = None, log=None, pooling: str = "average",
                generator_aux_weight: float = 1.0, xla: bool = True):
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
        pooling: the critic's "average" (Song et al.) or "flatten" pooling
            (see `ACGANCritic`).
        generator_aux_weight: weight of the generator's auxiliary loss (1:
            Song et al.; see `ACGAN`).
        seed: seed of the weights and the random draws.
        xla: compile the training step with XLA (faster per step on this CPU;
            its compilation outweighs that over a few steps). Not a setting
            of the model: a run may continue with the other choice.
        data_dir: the dataset's folder (default: $LAD_DATA_DIR).
        log: callable(str) for progress lines (default: stderr with a time stamp).
    Returns: the trained `ACGAN`.

    Raises:
        LadError: bad settings, unknown or missing data, or a run directory
            whose recorded settings differ from these.
    """
    _check_settings(steps=steps, batch_size=batch_size, latent_dim=latent_dim,
                    channels=channels, n_critic=n_critic, chunk=chunk)
    if pooling not in ("average", "flatten"):
        raise LadError(f"--pooling must be 'average' or 'flatten'; got {pooling!r}")
    if not generator_aux_weight >= 0:
        raise LadError(f"--generator-aux-weight must be >= 0; got {generator_aux_weight}")
    if not learning_rate > 0:
        raise LadError(f"--learning-rate must be > 0; got {learning_rate}")
    run_dir = Path(run_dir)
    (run_dir / "acgan").mkdir(parents=True, exist_ok=True)
    (run_dir / "figures").mkdir(exist_ok=True)
    settings = dict(dataset=dataset, latent_dim=latent_dim, channels=channels, n_critic=n_critic,
                    batch_size=batch_size, learning_rate=learning_rate, seed=seed, pooling=pooling,
                    generator_aux_weight=generator_aux_weight)
    done = steps_done(run_dir, settings)
    # lazy: TensorFlow loads only once the settings are checked (fast --help and errors)
    from lad_tf.studies.ga.acgan_training import fit_acgan
    from lad_tf.utils.monitoring import log as stamp_log  # lazy, as above

    return fit_acgan(run_dir, dataset, data_dir, settings, done, steps, decay, chunk,
                     log or stamp_log, xla)


def _check_settings(**values):
    for name, value in values.items():
        if int(value) != value or value < 1:
            raise LadError(f"--{name.replace('_', '-')} must be an integer >= 1; got {value}")


def steps_done(run_dir: Path, settings: dict) -> int:
    """Generator steps an earlier call trained in `run_dir` (0: none).

    Raises:
        LadError: the run directory holds an AC-GAN trained with other settings.
    """
    state_path, model_path = run_dir / "acgan" / "state.json", run_dir / "acgan" / "acgan.keras"
    if not (state_path.exists() and model_path.exists()):
        return 0
    state = json.loads(state_path.read_text())
    # runs from before --pooling / --generator-aux-weight
    recorded = {"pooling": "average", "generator_aux_weight": 1.0, **state["settings"]}
    differ = {k: (recorded.get(k), v) for k, v in settings.items() if recorded.get(k) != v}
    if differ:
        raise LadError(f"{run_dir} holds an AC-GAN trained with other settings "
                       f"{ {k: a for k, (a, _) in differ.items()} }; use another RUN_DIR or "
                       f"the same settings")
    return int(state["steps_done"])
