"""What every stage of a run reads: `Run`, the run's fixed inputs.

A stage never finds another stage's output through an attribute of `Run`:
the models one stage makes reach the next as arguments (see
`lad_tf.pipeline.runner.STAGE_TABLE`). `Run` holds only what is fixed before the
first stage: the run directory, the recipe, the data, the tf.distribute
strategy and the run's TensorBoard / figure writer.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from lad_tf.data.splits import DatasetSplits
from lad_tf.recipe.names import STAGE_ARTIFACTS
from lad_tf.recipe.schema import Recipe
from lad_tf.utils.batching import batched
from lad_tf.utils.distribute import fit_multi_worker
from lad_tf.utils.fitting import fit_epochs
from lad_tf.utils.monitoring import EpochLogger, EpochRecord, RunSummaries, log
from lad_tf.utils.traced import traced_call


@dataclasses.dataclass
class Run:
    """The fixed inputs of one run's stages.

    Attributes:
        run_dir: the run directory (a worker-<id> folder on a non-chief worker).
        recipe: the resolved `Recipe`, its per-class counts fitted to the
            data (`lad_tf.recipe.fit`; what recipe.json holds).
        data: the run's `DatasetSplits` (the recipe's dataset, or your data).
        strategy: the tf.distribute strategy of the training stages.
        multi_worker: True under MultiWorkerMirroredStrategy (Keras' fit cannot run).
        chief: False on the other workers of a multi-worker run (they export nothing).
        summaries: the run's TensorBoard images / scalars and figures/*.png.
        export_base: the TF Serving base folder.
        resume: whether finished stages (and finished methods) may be reused.
        provided: your own classifier (a `LatentClassifier`), or None.
        provided_info: what `cut_model` reported about it.
        generator_choice: (name, model_args) of the generator to train.
        allow_weak_model: go on when the original model reads the validation
            split at no better than twice chance.
    """

    run_dir: Path
    recipe: Recipe
    data: DatasetSplits
    strategy: tf.distribute.Strategy
    multi_worker: bool
    chief: bool
    summaries: RunSummaries
    export_base: str
    resume: bool = False
    provided: Any = None
    provided_info: dict = dataclasses.field(default_factory=dict)
    generator_choice: tuple = ("auto", {})
    allow_weak_model: bool = False

    def artifact(self, stage: str) -> Path:
        """The artifact file of `stage` (a name of `lad_tf.recipe.names.STAGES`)."""
        return self.run_dir / STAGE_ARTIFACTS[stage]

    @property
    def num_outputs(self) -> int:
        """Logits of the classifier: one (sigmoid) for a two-class task, else one per class."""
        return 1 if self.data.num_classes == 2 else self.data.num_classes

    def fit(self, stage: str, model, data, epochs: int, validation_data=None,
            callbacks=()) -> dict:
        """model.fit with TensorBoard, progress lines and a per-epoch backup.

        The backup (`<run>/backup/<stage>/`) holds the weights and optimizer
        state after the last finished epoch; a killed run resumed with
        --resume continues the stage from there. It is deleted when the stage
        finishes. Under multi-worker, Keras's fit cannot run, so the same
        train_step runs through `fit_multi_worker`.

        Returns: the history dict, metric name -> one value per epoch.
        """
        if self.multi_worker:
            return fit_multi_worker(model, data, epochs, self.strategy,
                                    log=lambda line: log(f"{stage} {line}"))
        backup = self.run_dir / "backup" / stage
        record = EpochRecord(backup.with_name(f"{stage}.epochs.json"), resuming=backup.is_dir())
        callbacks = [  # the backup first: a logged epoch is a saved epoch
            keras.callbacks.BackupAndRestore(str(backup)),
            *callbacks,  # e.g. RobustSelection: its validation numbers reach the logs below
            record,
            keras.callbacks.TensorBoard(log_dir=str(self.run_dir / "tensorboard" / stage)),
            EpochLogger(stage, epochs),
        ]
        history = fit_epochs(model, data, epochs, validation_data=validation_data, verbose=0,
                             shuffle=False, callbacks=callbacks)
        return record.history(history.history)


def latents(classifier, x: np.ndarray) -> np.ndarray:
    """z = phi(x): float32 [N, D] for images x float32 [N, H, W, C] in [0, 1]."""
    return batched(traced_call(classifier, "features"), x, 500)


def steps_per_epoch(examples: int, batch_size: int) -> int:
    """Batches in one pass over `examples` (the last one may be short)."""
    return -(-examples // batch_size)
