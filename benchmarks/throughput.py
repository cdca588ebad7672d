"""Throughput: adversarial-example generation (LAD vs PGD-40) against batch
size, and inference of the exported SavedModel against the Keras model."""

from __future__ import annotations

import tempfile

import numpy as np
import tensorflow as tf

from benchmarks.timing import median_seconds
from lad_tf.attacks.pgd import pgd
from lad_tf.lad.attention_svm import AttentionSVM
from lad_tf.lad.boundary import perturb_latents
from lad_tf.models import build_classifier, build_generator
from lad_tf.recipe.schema import load_recipe
from lad_tf.serving.export import export_model
from lad_tf.utils.precision import dtype_policy


def generation(x: np.ndarray, batch_sizes=(32, 128, 512), repeats: int = 5) -> list[dict]:
    """Examples per second of LAD generation and of PGD-40, per batch size.

    LAD: phi, attention, perturbation (calibrated eps 1) and decoding of one
    pair's sources. PGD-40: cleverhans, eps 0.3, step 0.01, random start,
    compiled in a tf.function like the LAD path.
    """
    classifier = build_classifier("lenet")
    with dtype_policy(load_recipe("mnist").generator.precision):  # as the recipe trains it
        generator = build_generator("mnist_generator")
    svm = AttentionSVM(1, 500, "scaled_softmax")

    @tf.function
    def lad(images):
        z = classifier.features(images)[None]
        return generator(perturb_latents(svm, z, 1.0)[0])

    @tf.function
    def pgd40(images):
        return pgd(classifier, images, eps=0.3, eps_iter=0.01, nb_iter=40)

    rows = []
    for batch in batch_sizes:
        xb = tf.constant(x[:batch])
        lad_s = median_seconds(lambda: lad(xb).numpy(), repeats)
        pgd_s = median_seconds(lambda: pgd40(xb).numpy(), max(1, repeats // 2))
        rows.append({"batch": batch, "lad_per_s": batch / lad_s, "pgd40_per_s": batch / pgd_s,
                     "lad_vs_pgd40_speedup": pgd_s / lad_s})
    return rows


def inference(x: np.ndarray, batch: int = 256, repeats: int = 20) -> dict:
    """Images per second of the exported `serving_default` (with its input
    validation), a `tf.function` call, an eager call and `model.predict`."""
    model = build_classifier("lenet")
    xb = tf.constant(x[:batch])
    with tempfile.TemporaryDirectory() as base:
        path = export_model(model, base, "bench")
        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
        compiled = tf.function(lambda images: model(images, training=False))
        seconds = {
            "saved_model": median_seconds(lambda: serve(images=xb)["logits"].numpy(), repeats, 3),
            "tf_function": median_seconds(lambda: compiled(xb).numpy(), repeats, 3),
            "eager_call": median_seconds(lambda: model(xb, training=False).numpy(), repeats, 3),
            "predict": median_seconds(lambda: model.predict(xb, batch_size=batch, verbose=0),
                                      repeats, 3),
        }
    per_s = {k: batch / v for k, v in seconds.items()}
    return {"batch": batch, "images_per_s": per_s,
            "saved_model_vs_tf_function": per_s["saved_model"] / per_s["tf_function"]}
