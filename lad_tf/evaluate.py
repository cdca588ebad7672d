"""`python -m lad_tf.evaluate`: the robustness report of a run (`lad_tf.cli.evaluate`)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lad_tf.cli.evaluate import main

    sys.exit(main())
