"""Chooses the AC-GAN checkpoint whose samples a classifier reads best.

    python -m lad_tf.acgan_select ACGAN_RUN --classifier RUN/classifier.keras

An AC-GAN can collapse late in training (one blob per class). Training
keeps a copy per chunk (ACGAN_RUN/acgan/checkpoints/acgan-<step>.keras);
this command generates `--per-class` samples of each class from every copy
with its own z seed (`--seed`, default 1000: not the seed the GA study
reports on), lets the classifier read them, and copies the best checkpoint
to ACGAN_RUN/acgan/chosen.keras (without optimizer state), with the table
in ACGAN_RUN/acgan/selection.json and one line per checkpoint on stdout.

With `--average K`, the candidates also include the mean of the weights
(generator and critic, batch-norm statistics included) of every run of 2
to K consecutive checkpoints: the checkpoint averaging of Polyak and
Juditsky, which Yazici et al. (2019) found to steady GAN samples while the
learning rate is still high. On the card's AC-GAN it changed nothing (the
best mean read 94.5%, as the best checkpoint alone; selection.json); it
helped a run whose critic had stopped learning (see the MNIST card).
"""

from __future__ import annotations

from pathlib import Path

from lad_tf.utils.errors import LadError


def select_checkpoint(run_dir, classifier_path, per_class: int = 100, seed: int = 1000,
                      log=print, average: int = 1) -> dict:
    """Scores every checkpoint (and, with `average` > 1, every mean of 2 to
    `average` consecutive ones) and writes acgan/chosen.keras and selection.json.

    Returns: {"chosen": last step of the best candidate, "window": how many
    checkpoints it averages, "averaged_steps": their steps, "rows": [{"step",
    "window", "steps", "accuracy", "per_class"}, ...]}.

    Raises:
        LadError: no checkpoints, no classifier file, or `average` < 1.
    """
    if int(average) != average or average < 1:
        raise LadError(f"--average must be an integer >= 1; got {average}")
    folder = Path(run_dir) / "acgan"
    paths = sorted((folder / "checkpoints").glob("acgan-*.keras"),
                   key=lambda p: int(p.stem.split("-")[1]))
    if not paths:
        raise LadError(f"{folder / 'checkpoints'} holds no acgan-<step>.keras; train with "
                       "`python -m lad_tf.acgan RUN_DIR` first")
    if not Path(classifier_path).is_file():
        raise LadError(f"no classifier file at {classifier_path}; pass a run's classifier.keras")
    # lazy imports: TensorFlow loads only after the checks above (fast errors)
    import keras  # lazy (see above)
    import numpy as np  # lazy (see above)

    import lad_tf.models  # noqa: F401 lazy (see above); registers the classes the files hold
    from lad_tf.attacks.ga import initial_latents  # lazy (see above)
    from lad_tf.utils.batching import predict  # lazy (see above)
    from lad_tf.utils.files import save_keras, write_json  # lazy (see above)

    classifier = keras.models.load_model(classifier_path)
    steps = [int(p.stem.split("-")[1]) for p in paths]
    weights, rows, best = [], [], None
    for i, path in enumerate(paths):
        acgan = keras.saving.load_model(path, compile=False)
        weights.append([np.asarray(w) for w in _averaged_variables(acgan)])
        labels = np.repeat(np.arange(acgan.num_classes), per_class)
        z = initial_latents(len(labels), acgan.latent_dim, seed)
        for window in range(1, min(average, i + 1) + 1):
            if window > 1:
                set_mean_weights(acgan, weights[i - window + 1:i + 1])
            read = predict(classifier, np.asarray(acgan.generate(z, labels)))
            row = {"step": steps[i], "window": window, "steps": steps[i - window + 1:i + 1],
                   "accuracy": float(np.mean(read == labels)),
                   "per_class": [float(np.mean(read[labels == c] == c))
                                 for c in range(acgan.num_classes)]}
            rows.append(row)
            log(f"acgan_select: {_describe(row)}: {row['accuracy']:.2%} read as their class")
            if best is None or row["accuracy"] > best["accuracy"]:
                best = row
                save_keras(acgan, folder / "chosen.keras")
    result = {"chosen": best["step"], "window": best["window"], "averaged_steps": best["steps"],
              "classifier": str(classifier_path), "seed": seed, "per_class": per_class,
              "average": average, "rows": rows}
    write_json(folder / "selection.json", result)
    log(f"acgan_select: chose {_describe(best)} -> {folder / 'chosen.keras'}")
    return result


def _describe(row: dict) -> str:
    if row["window"] == 1:
        return f"step {row['step']}"
    return f"mean of the {row['window']} checkpoints at steps {row['steps'][0]}-{row['steps'][-1]}"


def _averaged_variables(acgan) -> list:
    """The variables checkpoint averaging averages: the generator's and the
    critic's, batch-norm statistics included (not the random seed's state)."""
    return [*acgan.generator.weights, *acgan.critic.weights]


def set_mean_weights(acgan, checkpoints: list) -> None:
    """Sets `acgan`'s generator and critic weights to the mean over `checkpoints`
    (each a list of arrays in `_averaged_variables` order) of the same architecture."""
    for i, variable in enumerate(_averaged_variables(acgan)):
        variable.assign(sum(c[i] for c in checkpoints) / len(checkpoints))
