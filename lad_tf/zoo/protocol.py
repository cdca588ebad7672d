"""The zoo's evaluation protocol, for the zoo's models and for yours.

The numbers of a leaderboard row: clean accuracy on the whole test split
and the worst case per image over the dataset card's robust suite
(`evaluation.robust_attacks` at `evaluation.pgd_eps`: for MNIST APGD-CE,
APGD-T, Square and PGD-100 x 5 restarts at eps 0.3) on the card's
class-balanced test images (`evaluation.robust_per_class` per class, seed
`evaluation.seed`), with the three masking checks. The same function
measures a zoo model (`benchmarks.fast_robust`) and your own
(`python -m lad_tf.zoo benchmark MODEL.keras --dataset mnist`), so their
rows compare.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np

from lad_tf.evaluation.context import EvaluationContext
from lad_tf.evaluation.robust import evaluate_robust, suite_summary
from lad_tf.evaluation.threats import evaluate_threats, threats_summary
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import fingerprint
from lad_tf.utils.metrics import accuracy


class Logits(keras.Model):
    """Your classifier as the attacks need it: logits and `num_classes`.

    A model whose outputs are probabilities (rows in [0, 1] summing to 1) is
    read through log(p), which has the same argmax and softmax as the logits
    it came from (clipped at 1e-12, so a saturated softmax still gives finite
    gradients; a fully saturated one can hide gradients, which the masking
    checks then flag).
    """

    def __init__(self, inner, num_classes: int, from_probabilities: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.inner, self.num_classes = inner, int(num_classes)
        self.from_probabilities = bool(from_probabilities)

    def call(self, x):
        y = self.inner(x)
        if self.from_probabilities:
            return keras.ops.log(keras.ops.clip(y, 1e-12, 1.0))
        return y


def input_shape(model) -> tuple | None:
    """(H, W, C) a model declares: a Functional or Sequential model's input, a
    zoo classifier's `image_shape`; None for a subclassed model without one."""
    try:
        shape = model.input_shape  # raises for a subclassed model that has no Input
    except (AttributeError, ValueError):
        shape = None
    if shape is not None:
        return tuple(shape[1:])
    declared = getattr(model, "image_shape", None)
    return tuple(declared) if declared is not None else None


def wrap(model, image_shape, num_classes: int, log=print) -> Logits:
    """`model` checked against the dataset (input shape, one output per class)
    and read as logits.

    Raises:
        LadError: another input shape or number of outputs.
    """
    shape = input_shape(model)
    if shape is not None and shape != tuple(image_shape):
        raise LadError(f"the model takes images of shape {shape}, the dataset's are "
                       f"{tuple(image_shape)}; benchmark a model of the dataset's input "
                       "(put any resizing inside the model)")
    try:  # a subclassed model declares no input: its first call says whether it fits
        probe = np.asarray(model(np.random.default_rng(0).random((8, *image_shape), "float32")))
    except Exception as exc:  # noqa: BLE001  (Keras and TensorFlow raise many types)
        raise LadError(f"the model cannot take the dataset's images of shape "
                       f"{tuple(image_shape)} ({type(exc).__name__}); benchmark a model of "
                       "the dataset's input (put any resizing inside the model)") from None
    if probe.ndim != 2 or probe.shape[1] != num_classes:
        raise LadError(f"the model returns {probe.shape[1:]} per image; the dataset has "
                       f"{num_classes} classes: it must return one logit per class")
    probabilities = bool(np.all(probe >= 0) and np.allclose(probe.sum(-1), 1.0, atol=1e-4))
    if probabilities:
        log("benchmark: the model returns probabilities (rows sum to 1); the attacks read "
            "log(p) as its logits")
    return Logits(model, num_classes, probabilities)


def measure(model, name: str, model_file: Path, recipe, data, folder: Path,
            log=print) -> tuple[dict, dict]:
    """The protocol's numbers for one model (attack results cached in `folder`).

    Args:
        model: a logits model with `num_classes` (a zoo classifier or `wrap`'s).
        name: the cache name; model_file: its file (the cache key's fingerprint).
        recipe: the dataset's recipe (its `evaluation` section is the card's).
        data: the dataset's `DatasetSplits`.

    Returns: (the leaderboard numbers, the evaluation row as a run's
        evaluation.json keeps it).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ctx = EvaluationContext(folder, recipe, data, recipe.evaluation, folder, log)
    robust = evaluate_robust(ctx, name, model, ctx.cache(name, model_file))
    threats = evaluate_threats(ctx, name, model, model_file, robust.pop("robust_per_image"))
    suite = suite_summary(recipe.evaluation, data.y_test, data.num_classes)
    clean = accuracy(model, data.x_test, data.y_test)
    row = {"test_examples": int(len(data.y_test)), "clean_accuracy": clean,
           **{k: v for k, v in robust.items() if k != "robust_details"}}
    if threats:  # the threats beyond L-inf that evaluation.threats names
        row["threats"] = threats
    numbers = {"clean_accuracy": clean, "test_images": int(len(data.y_test)),
               "worst_case_accuracy": robust["robust_accuracy"],
               "worst_case_images": robust["robust_examples"],
               "suite_images_clean_accuracy": robust["robust_clean_accuracy"],
               "attacks": {suite["titles"][a]: robust[f"robust_{a}_accuracy"]
                           for a in suite["attacks"]},  # the worst case's ensemble
               "reference": {suite["titles"]["pgd"]: robust["robust_pgd_accuracy"]},
               "masking_checks": {k: v["status"] for k, v in robust["masking_checks"].items()},
               "eps": suite["eps"], "model_fingerprint": fingerprint(model_file)}
    return numbers, row


def evaluation_record(recipe, data, name: str, row: dict) -> dict:
    """evaluation.json of a one-model folder, as `python -m lad_tf.export` and
    `python -m lad_tf.compare` read a run's."""
    record = {"settings": dataclasses.asdict(recipe.evaluation),
              "robust": suite_summary(recipe.evaluation, data.y_test, data.num_classes),
              "models": {name: row}, "exported_method": name, "hardened": row}
    if set(recipe.evaluation.threats) - {"linf"}:
        record["threats"] = threats_summary(recipe.evaluation, data)
    return record
