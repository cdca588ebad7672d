"""Compares the three attention variants of the SVM on one run's latents.

    python -m benchmarks.attention_variants RUN_DIR [--out FILE.json]

Fits the run's 90 (or 2) attention SVMs once per variant (softmax,
scaled_softmax, exp_softmax) on the same provider latents with the recipe's
SVM settings, and prints held-out accuracy, fit time and the range of beta,
measured side by side in one process.
"""

import argparse
import json
import time
from pathlib import Path

import keras
import tensorflow as tf

from lad_tf import models  # noqa: F401  (registers the classes)
from lad_tf.data import load_dataset
from lad_tf.lad.attention_svm import (
    ATTENTIONS,
    AttentionSVM,
    fit_attention_svms,
    pair_datasets,
    svm_accuracy,
    svm_pairs,
)
from lad_tf.recipe.schema import recipe_from_dict
from lad_tf.utils.batching import batched


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--data-dir")
    parser.add_argument("--out", help="JSON file for the results")
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)
    recipe = recipe_from_dict(json.loads((run_dir / "recipe.json").read_text()))
    data = load_dataset(recipe.data.dataset, data_dir=args.data_dir,
                        provider_fraction=recipe.data.provider_fraction, seed=recipe.data.seed)
    classifier = keras.models.load_model(run_dir / "classifier.keras")
    phi = tf.function(lambda x: classifier.features(x, training=False))
    z = batched(phi, data.x_provider, 500)
    pairs = svm_pairs(data.num_classes)
    cfg = recipe.svm
    z_fit, y_fit, z_hold, y_hold = pair_datasets(z, data.y_provider, pairs, cfg.per_class,
                                                 cfg.holdout_fraction, seed=recipe.data.seed)
    rows = []
    for attention in ATTENTIONS:
        keras.utils.set_random_seed(recipe.data.seed)
        svm = AttentionSVM(len(pairs), z.shape[1], attention, cfg.c, cfg.attention_rank)
        t0 = time.perf_counter()
        fit_attention_svms(svm, z_fit, y_fit, epochs=cfg.epochs, batch_size=cfg.batch_size,
                           learning_rate=cfg.learning_rate, seed=recipe.data.seed)
        seconds = time.perf_counter() - t0
        held = svm_accuracy(svm, z_hold, y_hold)
        beta = svm.attention(tf.convert_to_tensor(z_hold)).numpy()
        rows.append({"attention": attention, "heldout_mean": float(held.mean()),
                     "heldout_min": float(held.min()), "fit_seconds": seconds,
                     "beta_min": float(beta.min()), "beta_max": float(beta.max())})
        print(f"{attention:15s} held-out mean {held.mean():.4f} worst {held.min():.4f} "
              f"fit {seconds:5.1f} s  beta in [{beta.min():.4g}, {beta.max():.4g}]", flush=True)
    result = {"run_dir": str(run_dir), "pairs": len(pairs), "latents_per_class": cfg.per_class,
              "svm": recipe.to_dict()["svm"], "rows": rows}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
