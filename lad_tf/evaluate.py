"""`python -m lad_tf.evaluate RUN_DIR`: the robustness evaluation of a run.

The evaluation itself lives in the `lad_tf.evaluation` package (one module
per kind of result; see its docstring). This module is the command and
keeps the names earlier code imported from here.
"""

from __future__ import annotations

import os
import sys

from lad_tf.batching import predict
from lad_tf.evaluation.budget import QUICK, attack_params, attack_title
from lad_tf.evaluation.cache import ResultCache
from lad_tf.evaluation.cli import evaluate_run_dir, main, parse_args
from lad_tf.evaluation.costs import method_seconds, seconds_from_metrics
from lad_tf.evaluation.run import RunEvaluation
from lad_tf.evaluation.tables import method_title, render_tables
from lad_tf.metrics import accuracy, attack_accuracy
from lad_tf.sampling import balanced_subset

__all__ = ["QUICK", "ResultCache", "RunEvaluation", "accuracy", "attack_accuracy",
           "attack_params", "attack_title", "balanced_subset", "evaluate_run_dir", "main",
           "method_seconds", "method_title", "parse_args", "predict", "render_tables",
           "seconds_from_metrics"]

if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
