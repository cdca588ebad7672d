"""`python -m lad_tf.compare RUN_DIR:METHOD[=LABEL] ... --out OUT`: defences of several
evaluated runs in one table and one frontier picture (`lad_tf.evaluation.compare`)."""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lad_tf.evaluation.compare import main  # after the log level: it imports TensorFlow

    sys.exit(main())
