"""`python -m lad_tf.study`: LAD's own knobs swept on a finished run (`lad_tf.cli.study`)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lad_tf.cli.study import main

    sys.exit(main())
