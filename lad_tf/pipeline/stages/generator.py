"""Stage 2, generator (Eq. 2): G with G(phi(x)) ~ x, trained on the frozen phi.

Artifact: generator.keras. Its figures (reconstructions, Fig. 3) are drawn
from it afterwards by `lad_tf.pipeline.stages.figures.generator_figures`.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from lad_tf import models
from lad_tf.pipeline.run import Run, latents, steps_per_epoch
from lad_tf.recipe.schema import Recipe
from lad_tf.utils.batching import batched
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import save_keras
from lad_tf.utils.monitoring import log
from lad_tf.utils.optimizers import make_optimizer
from lad_tf.utils.precision import dtype_policy, native_bfloat16, resolve_precision
from lad_tf.utils.traced import traced_call


def build_generator(recipe: Recipe, data, name: str, model_args: dict, latent_dim: int):
    """The generator `name` for `data`'s images from `latent_dim` latents, untrained."""
    with dtype_policy(recipe.generator.precision):
        return models.build_generator(name, image_shape=data.image_shape,
                                      latent_dim=latent_dim, **model_args)


def choose_generator(recipe: Recipe, data, latent_dim: int, own: bool) -> tuple[str, dict]:
    """(name, model_args) of the generator: the recipe's, or, for your model or
    data (`own`) when the recipe's table generator cannot make these images,
    the `auto` generator sized from the latent width and the image shape."""
    cfg = recipe.generator
    try:
        build_generator(recipe, data, cfg.model, cfg.model_args, latent_dim)
    except LadError:
        if not own or cfg.model == "auto":
            raise
        log(f"generator: the recipe's {cfg.model!r} cannot make "
            f"{'x'.join(map(str, data.image_shape))} images from {latent_dim} latents; "
            "using the 'auto' generator sized for them (set generator.model to choose)")
        return "auto", {}
    return cfg.model, dict(cfg.model_args)


def _training_pairs(run: Run, classifier, batch_size: int):
    """(phi(x), x) batches of the training split; z_train [N, D] too, or None when streamed."""
    data, seed = run.data, run.recipe.data.seed
    if data.streamed:  # phi encodes each batch as it is read from disk
        log(f"generator: streaming {len(data.y_train)} training images from disk, "
            "encoded by the frozen phi batch by batch")
        phi = classifier.features
        return data.dataset("train", batch_size, shuffle=True, seed=seed).map(
            lambda x, y: (phi(x, training=False), x)), None
    log(f"generator: encoding {len(data.y_train)} training images with the frozen phi")
    z_train = latents(classifier, data.x_train)
    return (tf.data.Dataset.from_tensor_slices((z_train, data.x_train))
            .shuffle(len(z_train), seed=seed).batch(batch_size)
            .prefetch(tf.data.AUTOTUNE)), z_train


def _train_mse(run: Run, classifier, decode, z_train) -> tuple[float, int]:
    """(reconstruction MSE, images) on the first 10,000 training images."""
    if run.data.streamed:  # the first 10,000 training images, read again in batches
        squares, count = 0.0, 0
        for x, _ in run.data.dataset("train", 500).take(20):
            x = x.numpy()
            squares += float(np.sum((batched(decode, latents(classifier, x), 500) - x) ** 2,
                                    dtype=np.float64))
            count += len(x)
        return squares / (count * int(np.prod(run.data.image_shape))), count
    recon_train = batched(decode, z_train[:10000], 500)
    return (float(np.mean((recon_train - run.data.x_train[:10000]) ** 2)),
            min(10000, len(z_train)))


def train_generator(run: Run, classifier) -> tuple[dict, dict]:
    """Trains G on (phi(x), x) of the training split with the recipe's L1 / L2 loss.

    Args:
        run: the run (its recipe's `generator` section, data and strategy).
        classifier: the original classifier; its phi is frozen.

    Returns:
        (metrics: reconstruction MSE on train and test, precision, model name,
         {"generator": the trained generator, as saved in generator.keras}).
    """
    cfg, data = run.recipe.generator, run.data
    loss = "mean_squared_error" if cfg.loss == "l2" else "mean_absolute_error"
    with run.strategy.scope():
        generator = build_generator(run.recipe, data, *run.generator_choice,
                                    classifier.latent_dim)
        generator.compile(optimizer=make_optimizer(cfg, steps_per_epoch(len(data.y_train),
                                                                         cfg.batch_size)),
                          loss=loss)
    precision = resolve_precision(cfg.precision)
    log(f"generator: computing in {precision} (recipe: {cfg.precision}"
        + (f"; {native_bfloat16()[1]})" if cfg.precision == "auto" else ")"))
    train, z_train = _training_pairs(run, classifier, cfg.batch_size)
    run.fit("generator", generator, train, cfg.epochs,
            validation_data=(latents(classifier, data.x_provider), data.x_provider))
    save_keras(generator, run.artifact("generator"))
    decode = traced_call(generator)
    recon_test = batched(decode, latents(classifier, data.x_test), 500)
    train_mse, count = _train_mse(run, classifier, decode, z_train)
    result = {"train_mse": float(train_mse),
              "test_mse": float(np.mean((recon_test - data.x_test) ** 2)),
              "train_mse_examples": int(count), "precision": precision,
              "model": run.generator_choice[0]}
    log(f"generator: reconstruction MSE train {result['train_mse']:.5f}, "
        f"test {result['test_mse']:.5f}")
    return result, {"generator": generator}


def load_generator(run: Run) -> dict:
    """{"generator": the model read from generator.keras}."""
    return {"generator": keras.models.load_model(run.artifact("generator"))}
