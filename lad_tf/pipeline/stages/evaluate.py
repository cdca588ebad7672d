"""Stage 6, evaluation: the original and the defended models on the test split.

Artifact: evaluation.json (written by `lad_tf.evaluate.RunEvaluation`, which
reads the models from the run directory).
"""

from __future__ import annotations

from lad_tf.evaluation.run import RunEvaluation
from lad_tf.pipeline.run import Run
from lad_tf.utils.monitoring import log


def evaluate(run: Run) -> tuple[dict, dict]:
    """Evaluates the run's saved models (classifier.keras, methods/*.keras).

    Returns: (the evaluation's numbers, as in evaluation.json, {}).
    """
    evaluation = RunEvaluation(run.run_dir, run.recipe, run.data, summaries=run.summaries,
                               log=log)
    return evaluation.run(), {}
