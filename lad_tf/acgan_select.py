"""Chooses the AC-GAN checkpoint whose samples a classifier reads best.

    python -m lad_tf.acgan_select ACGAN_RUN --classifier RUN/classifier.keras

An AC-GAN can collapse late in training (one blob per class). Training
keeps a copy per chunk (ACGAN_RUN/acgan/checkpoints/acgan-<step>.keras);
this command generates `--per-class` samples of each class from every copy
with its own z seed (`--seed`, default 1000: not the seed the GA study
reports on), lets the classifier read them, and copies the best checkpoint
to ACGAN_RUN/acgan/chosen.keras (without optimizer state), with the table
in ACGAN_RUN/acgan/selection.json and one line per checkpoint on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from lad_tf.errors import LadError, command


def select_checkpoint(run_dir, classifier_path, per_class: int = 100, seed: int = 1000,
                      log=print) -> dict:
    """Scores every checkpoint and writes acgan/chosen.keras and selection.json.

    Returns: {"chosen": step, "rows": [{"step", "accuracy", "per_class"}, ...]}.

    Raises:
        LadError: no checkpoints, or no classifier file.
    """
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
    from lad_tf.batching import predict  # lazy (see above)
    from lad_tf.files import save_keras, write_json  # lazy (see above)

    classifier = keras.models.load_model(classifier_path)
    rows, best = [], None
    for path in paths:
        acgan = keras.saving.load_model(path, compile=False)
        labels = np.repeat(np.arange(acgan.num_classes), per_class)
        z = initial_latents(len(labels), acgan.latent_dim, seed)
        read = predict(classifier, np.asarray(acgan.generate(z, labels)))
        row = {"step": int(path.stem.split("-")[1]), "accuracy": float(np.mean(read == labels)),
               "per_class": [float(np.mean(read[labels == c] == c))
                             for c in range(acgan.num_classes)]}
        rows.append(row)
        log(f"acgan_select: step {row['step']}: {row['accuracy']:.2%} read as their class")
        if best is None or row["accuracy"] > best[0]["accuracy"]:
            best = (row, acgan)
    save_keras(best[1], folder / "chosen.keras")
    result = {"chosen": best[0]["step"], "classifier": str(classifier_path), "seed": seed,
              "per_class": per_class, "rows": rows}
    write_json(folder / "selection.json", result)
    log(f"acgan_select: chose step {best[0]['step']} -> {folder / 'chosen.keras'}")
    return result


@command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lad_tf.acgan_select",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", help="the AC-GAN's run directory (python -m lad_tf.acgan)")
    parser.add_argument("--classifier", required=True, help="the classifier .keras that reads")
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1000, help="z seed of the scored samples")
    args = parser.parse_args(argv)
    if args.per_class < 1:
        raise LadError(f"--per-class must be >= 1; got {args.per_class}")
    start = time.perf_counter()
    select_checkpoint(args.run_dir, args.classifier, args.per_class, args.seed)
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
