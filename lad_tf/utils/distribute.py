"""tf.distribute strategies for `harden --strategy`.

    default       one device (TensorFlow's default strategy)
    mirrored      MirroredStrategy: every local GPU (or CPU) as one replica
    multi-worker  MultiWorkerMirroredStrategy across processes or machines,
                  configured by the TF_CONFIG environment variable

Models, optimizers and metrics are created inside `strategy.scope()`; Keras's
`fit` then splits each global batch across replicas, and the losses of the
custom train steps are divided by the replica count (Keras does this for its
losses) so that the summed replica gradients are the global-batch mean.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from lad_tf.utils.errors import LadError

STRATEGIES = ("default", "mirrored", "multi-worker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """Returns the strategy called `name` (see module docstring)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise LadError("--strategy multi-worker needs TF_CONFIG (cluster and task of this "
                           "worker); set it as described in the README's scale-out section")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as exc:
            raise LadError(f"TF_CONFIG is not valid JSON ({exc}); fix the variable") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise LadError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True for the worker that writes the artifacts (always true on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (task_type == "worker" and task_id == 0
                                    and "chief" not in resolver.cluster_spec().as_dict())


def fit_multi_worker(model, dataset: tf.data.Dataset, epochs: int, strategy, log=None) -> dict:
    """A minimal `fit` for MultiWorkerMirroredStrategy.

    Keras 3's `fit` fails under MultiWorkerMirroredStrategy (its symbolic
    build reduces the first batch with `strategy.reduce`, which the collective
    strategy rejects for nested batches; keras-team/keras#20585). This loop
    runs the model's own `train_step` on every replica with `strategy.run`,
    exactly as `fit` does on one machine, without that build step.

    Args:
        model: a compiled model created under `strategy.scope()`.
        dataset: the global-batch dataset; it is sharded across workers.
    Returns: the history, {metric name: [value per epoch]}.
    """
    with strategy.scope():
        model.optimizer.build(model.trainable_variables)
    distributed = strategy.experimental_distribute_dataset(dataset)

    @tf.function
    def step(batch):
        strategy.run(model.train_step, args=(batch,))

    history: dict[str, list] = {}
    for epoch in range(epochs):
        for metric in model.metrics:
            metric.reset_state()
        for batch in distributed:
            step(batch)
        for metric in model.metrics:
            result = metric.result()  # compile_metrics gives a dict of its metrics
            values = result if isinstance(result, dict) else {metric.name: result}
            for name, value in values.items():
                history.setdefault(name, []).append(float(value))
        if log:
            log(f"epoch {epoch + 1}/{epochs}: " + " ".join(
                f"{k} {v[-1]:.4f}" for k, v in history.items()))
    return history
