"""Cost per training example: plain, LAD (Eq. 4), Madry PGD-k training and
every adversarial-training defence of `lad_tf.defences` at the MNIST recipe's
budget (pgd-at, trades, fast-at, lad+fast, lad+pgd).

Every method trains the same LeNet on the same real MNIST batches with the
same batch size; each is timed over a fixed number of compiled steps, and the
median over repeats is divided by the examples seen. LAD's generation cost
(phi, attention, perturbation and decoding of one example) is measured too, so
its cost can be counted once (set made once, reused) or in every epoch.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from benchmarks.timing import median_seconds
from lad_tf.defences import DEFENCES, LAD, PGDAdversarialTraining, classification_loss
from lad_tf.defences.datasets import hardening_dataset
from lad_tf.lad.attention_svm import AttentionSVM, ordered_pairs
from lad_tf.lad.boundary import perturb_latents
from lad_tf.models import build_classifier, build_generator
from lad_tf.recipe.schema import load_recipe
from lad_tf.utils.precision import dtype_policy


def _fit_steps(model, dataset, steps):
    """Runs `steps` compiled train steps; fit()'s per-call set-up is left out."""
    if not hasattr(model, "_bench_step"):
        model._bench_step = tf.function(model.train_step)
        model._bench_batches = list(dataset.take(steps))
    for batch in model._bench_batches:
        model._bench_step(batch)
    float(model.metrics[0].result())  # wait for the last step to finish


def measure(x: np.ndarray, y: np.ndarray, batch_size: int = 64, steps: int = 20,
            repeats: int = 5) -> dict:
    """Seconds per training example of each method, and the headline ratios.

    Args:
        x: float32 [N, 28, 28, 1] in [0, 1] real MNIST images; y: int [N].
    """
    keras.utils.set_random_seed(0)
    n = steps * batch_size
    x, y = x[:n], y[:n].astype("int64")
    clean = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).cache().repeat()

    results = {}
    plain = build_classifier("lenet")
    plain.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.5), loss=classification_loss(10))
    results["plain"] = median_seconds(lambda: _fit_steps(plain, clean, steps), repeats) / n

    # LAD: a generated set of the same size, made once (its images come from
    # the generator; their content does not change the cost of a step).
    classifier = build_classifier("lenet")
    with dtype_policy(load_recipe("mnist").generator.precision):  # as the recipe trains it
        generator = build_generator("mnist_generator")
    pairs = ordered_pairs(10)
    svm = AttentionSVM(len(pairs), 500, "scaled_softmax")
    per_pair = max(1, n // len(pairs))

    @tf.function
    def generate(images):
        latents = tf.reshape(classifier.features(images), (len(pairs), -1, 500))
        z_adv = perturb_latents(svm, latents, 1.0)
        return generator(tf.reshape(z_adv, (-1, 500)))

    gen_input = tf.constant(x[:per_pair * len(pairs)])
    results["lad_generation"] = median_seconds(lambda: generate(gen_input).numpy(), repeats) \
        / (per_pair * len(pairs))
    x_adv = np.asarray(generate(gen_input))
    x_adv = np.resize(x_adv, x.shape)
    lad = LAD(classifier, alpha=0.5)
    lad.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.5))
    paired = hardening_dataset(x, y, x_adv, y, batch_size).cache().repeat()
    results["lad_step"] = median_seconds(lambda: _fit_steps(lad, paired, steps), repeats) / n

    for k in (7, 40):
        madry = PGDAdversarialTraining(build_classifier("lenet"), eps=0.3, step=0.01, steps=k)
        madry.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.5))
        results[f"pgd{k}"] = median_seconds(
            lambda: _fit_steps(madry, clean, steps), max(1, repeats // 2 if k == 40 else repeats)) / n

    results.update(defence_costs(clean, paired, steps, n, repeats))
    ratios = {f"{name}_vs_plain": results[name] / results["plain"]
              for name in DEFENCES if name in results}
    ratios.update({
        "lad_vs_plain": results["lad_step"] / results["plain"],
        "lad_vs_pgd40_set_reused": results["lad_step"] / results["pgd40"],
        "lad_vs_pgd40_generation_every_epoch":
            (results["lad_step"] + results["lad_generation"]) / results["pgd40"],
        "lad_generation_vs_plain": results["lad_generation"] / results["plain"],
        "pgd7_vs_plain": results["pgd7"] / results["plain"],
        "pgd40_vs_plain": results["pgd40"] / results["plain"],
    })
    return {"seconds_per_example": results, "ratios": ratios,
            "setup": {"batch_size": batch_size, "steps": steps, "repeats": repeats}}


def defence_costs(clean, paired, steps: int, n: int, repeats: int) -> dict:
    """Seconds per example of each adversarial-training defence at the MNIST
    recipe's budget (its own section), on the same batches as `plain`.
    Hybrids (data "generated") step on a clean and a generated batch, like LAD."""
    recipe = load_recipe("mnist")
    out = {}
    for name, spec in DEFENCES.items():
        if spec.section == "hardening":  # LAD and the fine-tuning baselines: lad_step
            continue
        model = spec.build(build_classifier("lenet"), getattr(recipe, spec.section), 0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        data = paired if spec.data == "generated" else clean
        out[name] = median_seconds(lambda: _fit_steps(model, data, steps),
                                   max(1, repeats // 2)) / n
    return out
