"""Stage 1, classifier: the original model f = f_p(phi(x)), trained here or yours.

Artifact: classifier.keras.
"""

from __future__ import annotations

import keras
import numpy as np

from lad_tf import models
from lad_tf.defences.base import classification_loss, logits_accuracy
from lad_tf.pipeline.run import Run, steps_per_epoch
from lad_tf.recipe.schema import Recipe
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import save_keras
from lad_tf.utils.metrics import accuracy
from lad_tf.utils.monitoring import log
from lad_tf.utils.optimizers import make_optimizer
from lad_tf.utils.precision import dtype_policy


def new_classifier(recipe: Recipe, data):
    """The recipe's zoo classifier for `data`'s images and classes, untrained."""
    cfg = recipe.classifier
    outputs = 1 if data.num_classes == 2 else data.num_classes
    return models.build_classifier(cfg.model, num_classes=outputs,
                                   image_shape=data.image_shape, **cfg.model_args)


def train_classifier(run: Run) -> tuple[dict, dict]:
    """Trains the recipe's classifier on the training split (or takes yours).

    Args:
        run: the run (its recipe's `classifier` section, data and strategy).

    Returns:
        (metrics: provider-split accuracy and parameter count,
         {"classifier": the trained `LatentClassifier`, as saved in
         classifier.keras}).
    """
    if run.provided is not None:
        return use_provided(run)
    cfg, data = run.recipe.classifier, run.data
    steps = steps_per_epoch(len(data.y_train), cfg.batch_size)
    with run.strategy.scope(), dtype_policy(cfg.precision):
        model = new_classifier(run.recipe, data)
        model.compile(optimizer=make_optimizer(cfg, steps),
                      loss=classification_loss(model.num_classes),
                      metrics=[logits_accuracy(model.num_classes)])
    run.fit("classifier", model,
            data.dataset("train", cfg.batch_size, shuffle=True, seed=run.recipe.data.seed),
            cfg.epochs, validation_data=data.dataset("provider", 500))
    save_keras(model, run.artifact("classifier"))
    provider_acc = accuracy(model, data.x_provider, data.y_provider)
    return ({"provider_accuracy": float(provider_acc), "parameters": int(model.count_params())},
            {"classifier": model})


def use_provided(run: Run) -> tuple[dict, dict]:
    """Your model becomes the run's original classifier, untrained.

    It is saved as classifier.keras and read back, so that every later
    stage (and a resumed run) uses the file, checked to answer as the
    model did.

    Returns: as `train_classifier` (the classifier read back from the file).

    Raises:
        LadError: the model answers differently after saving.
    """
    info, data = run.provided_info, run.data
    log(f"classifier: using your model {info.get('source', run.provided.name)} as the "
        "original (not trained; the recipe's classifier section is unused)")
    save_keras(run.provided, run.artifact("classifier"))
    classifier = load_classifier(run)["classifier"]
    x = data.x_provider[:64]
    before = np.asarray(run.provided(x, training=False))
    saved = float(np.max(np.abs(np.asarray(classifier(x, training=False)) - before)))
    if not saved <= 1e-5 * max(1.0, float(np.max(np.abs(before)))):
        raise LadError(f"your model answers differently after saving as classifier.keras "
                       f"(max abs logit difference {saved:.3g}); make its layers serialize "
                       "(get_config) and run again")
    provider_acc = accuracy(classifier, data.x_provider, data.y_provider)
    log(f"classifier: your model's provider-split accuracy {provider_acc:.4f}")
    return ({"provided": info, "provider_accuracy": float(provider_acc),
             "parameters": int(classifier.count_params())}, {"classifier": classifier})


def load_classifier(run: Run) -> dict:
    """{"classifier": the model read from classifier.keras}."""
    return {"classifier": keras.models.load_model(run.artifact("classifier"))}
