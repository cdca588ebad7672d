"""Generator convergence: epochs and wall time until the Table XI generator's
test reconstruction MSE reaches the paper's 0.00765 (after 1000 epochs there)."""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from lad_tf.defences import classification_loss
from lad_tf.models import build_classifier, build_generator
from lad_tf.utils.batching import batched

PAPER_TEST_MSE = 0.00765


def measure(data, target: float = PAPER_TEST_MSE, max_seconds: float = 600,
            classifier_epochs: int = 2, train_limit: int | None = None) -> dict:
    """Trains LeNet briefly, then the generator with the MNIST recipe's
    settings (batch, learning rate, schedule, precision, epochs) epoch by epoch
    until the test MSE reaches `target` or `max_seconds` pass.

    Args:
        data: a `DatasetSplits` (MNIST).
        train_limit: use only the first N training images (quick mode).
    """
    from lad_tf.recipe.schema import load_recipe
    from lad_tf.utils.optimizers import make_optimizer
    from lad_tf.utils.precision import dtype_policy

    cfg = load_recipe("mnist").generator
    keras.utils.set_random_seed(0)
    x_train = data.x_train[:train_limit] if train_limit else data.x_train
    y_train = data.y_train[:train_limit] if train_limit else data.y_train
    classifier = build_classifier("lenet")
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3), loss=classification_loss(10))
    classifier.fit(x_train, y_train, batch_size=128, epochs=classifier_epochs, verbose=0)
    phi = tf.function(lambda b: classifier.features(b, training=False))
    z_train, z_test = batched(phi, x_train, 500), batched(phi, data.x_test, 500)
    with dtype_policy(cfg.precision):
        generator = build_generator(cfg.model, **cfg.model_args)
    generator.compile(optimizer=make_optimizer(cfg, -(-len(z_train) // cfg.batch_size)),
                      loss="mean_squared_error")
    train = (tf.data.Dataset.from_tensor_slices((z_train, x_train)).shuffle(len(z_train), seed=0)
             .batch(cfg.batch_size).prefetch(tf.data.AUTOTUNE))
    decode = tf.function(lambda z: generator(z, training=False))
    history, start = [], time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        generator.fit(train, epochs=1, verbose=0, shuffle=False)
        mse = float(np.mean((batched(decode, z_test, 500) - data.x_test) ** 2))
        elapsed = time.perf_counter() - start
        history.append({"epoch": epoch, "test_mse": mse, "seconds": elapsed})
        print(f"  generator epoch {epoch}: test MSE {mse:.5f} after {elapsed:.0f} s", flush=True)
        if mse <= target or elapsed >= max_seconds:
            break
    reached = history[-1]["test_mse"] <= target
    return {"target_mse": target, "reached": reached, "epochs": history[-1]["epoch"],
            "seconds": history[-1]["seconds"], "history": history,
            "setup": {"batch_size": cfg.batch_size, "learning_rate": cfg.learning_rate,
                      "schedule": cfg.schedule, "precision": cfg.precision,
                      "schedule_epochs": cfg.epochs, "train_images": int(len(x_train))}}
