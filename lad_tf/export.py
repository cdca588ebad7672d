"""`python -m lad_tf.export`: a model of a finished run as the next TF Serving version (`lad_tf.cli.export`)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lad_tf.cli.export import main

    sys.exit(main())
