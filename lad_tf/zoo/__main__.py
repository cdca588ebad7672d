"""`python -m lad_tf.zoo list | serve | benchmark`: the zoo's models (`lad_tf.cli.zoo`)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lad_tf.cli.zoo import main

    sys.exit(main())
