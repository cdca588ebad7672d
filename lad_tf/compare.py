"""`python -m lad_tf.compare`: defences of several evaluated runs in one table and one frontier picture (`lad_tf.cli.compare`)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lad_tf.cli.compare import main

    sys.exit(main())
