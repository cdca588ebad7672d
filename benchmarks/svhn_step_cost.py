"""Seconds per training step of svhnNet and its generator, and what a full
SVHN run would cost at that speed.

    python -m benchmarks.svhn_step_cost [--repeats 7] [--steps 3] [--out FILE.json]

No real SVHN training set exists on the project's machines, so the full
`--dataset svhn` run cannot be measured there. The cost of one training step
does not depend on the pixels: this script times the zoo recipe's models
(Table XII svhnNet, Table XIII generator, at the recipe's batch sizes and
optimizers) on random inputs of SVHN's shape, and multiplies by the steps of
a full run on the 73,257 official training digits. Medians over repeats.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SVHN_TRAIN = 73257  # official training digits (without "extra")


def _median_step(step, repeats: int, steps: int, warmup: int = 2) -> float:
    """Median seconds per call of `step()`, timing `steps` calls per repeat."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def measure(repeats: int = 7, steps: int = 3) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from lad_tf.defences import classification_loss, logits_accuracy
    from lad_tf.models import build_classifier, build_generator
    from lad_tf.recipe.schema import load_recipe

    recipe = load_recipe("svhn")
    shape = (recipe.data.image_size, recipe.data.image_size, recipe.data.channels)
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)

    c_cfg, g_cfg = recipe.classifier, recipe.generator
    classifier = build_classifier(c_cfg.model, num_classes=10, image_shape=shape,
                                  **c_cfg.model_args)
    classifier.compile(optimizer=keras.optimizers.Adam(c_cfg.learning_rate),
                       loss=classification_loss(10), metrics=[logits_accuracy(10)])
    x = rng.random((c_cfg.batch_size, *shape), dtype=np.float32)
    y = rng.integers(0, 10, c_cfg.batch_size)
    classifier_step = _median_step(lambda: classifier.train_on_batch(x, y), repeats, steps)

    phi = tf.function(lambda b: classifier.features(b, training=False))
    batch = tf.constant(rng.random((500, *shape), dtype=np.float32))
    encode_500 = _median_step(lambda: phi(batch).numpy(), repeats, 1)

    generator = build_generator(g_cfg.model, image_shape=shape, latent_dim=classifier.latent_dim,
                                **g_cfg.model_args)
    generator.compile(optimizer=keras.optimizers.Adam(g_cfg.learning_rate),
                      loss="mean_squared_error")
    z = rng.normal(0, 1, (g_cfg.batch_size, classifier.latent_dim)).astype(np.float32)
    images = rng.random((g_cfg.batch_size, *shape), dtype=np.float32)
    generator_step = _median_step(lambda: generator.train_on_batch(z, images), repeats, steps)

    train = SVHN_TRAIN - round(SVHN_TRAIN * recipe.data.provider_fraction)
    c_steps = math.ceil(train / c_cfg.batch_size) * c_cfg.epochs
    g_steps = math.ceil(train / g_cfg.batch_size) * g_cfg.epochs
    return {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "tensorflow": tf.__version__},
        "repeats": repeats, "steps_per_repeat": steps,
        "classifier": {"model": c_cfg.model, "parameters": int(classifier.count_params()),
                       "batch_size": c_cfg.batch_size, "seconds_per_step": classifier_step,
                       "ms_per_image": 1000 * classifier_step / c_cfg.batch_size},
        "encode": {"batch_size": 500, "seconds_per_batch": encode_500},
        "generator": {"model": g_cfg.model, "parameters": int(generator.count_params()),
                      "batch_size": g_cfg.batch_size, "seconds_per_step": generator_step,
                      "ms_per_image": 1000 * generator_step / g_cfg.batch_size},
        "full_run_estimate": {
            "training_images": train,
            "classifier_steps": c_steps, "classifier_epochs": c_cfg.epochs,
            "classifier_hours": c_steps * classifier_step / 3600,
            "encode_hours": math.ceil(train / 500) * encode_500 / 3600,
            "generator_steps": g_steps, "generator_epochs": g_cfg.epochs,
            "generator_hours": g_steps * generator_step / 3600,
        },
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats (median)")
    parser.add_argument("--steps", type=int, default=3, help="training steps per repeat")
    parser.add_argument("--out", help="JSON file for the results")
    args = parser.parse_args(argv)
    result = measure(args.repeats, args.steps)
    c, g, e = result["classifier"], result["generator"], result["full_run_estimate"]
    print(f"svhnNet ({c['parameters']:,} weights), batch {c['batch_size']}: "
          f"{c['seconds_per_step']:.3f} s/step ({c['ms_per_image']:.2f} ms/image)")
    print(f"generator ({g['parameters']:,} weights), batch {g['batch_size']}: "
          f"{g['seconds_per_step']:.3f} s/step ({g['ms_per_image']:.2f} ms/image)")
    print(f"phi encoding: {result['encode']['seconds_per_batch']:.3f} s per 500 images")
    print(f"full run on {e['training_images']:,} training digits: classifier "
          f"{e['classifier_epochs']} epochs = {e['classifier_steps']:,} steps = "
          f"{e['classifier_hours']:.2f} h; generator {e['generator_epochs']} epochs = "
          f"{e['generator_steps']:,} steps = {e['generator_hours']:.2f} h; encoding "
          f"{e['encode_hours']:.3f} h")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
