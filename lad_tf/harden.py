"""`python -m lad_tf.harden`: data -> classifier -> generator -> attention SVMs -> generation -> defences -> evaluation -> export (`lad_tf.cli.harden`)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lad_tf.cli.harden import main

    sys.exit(main())
