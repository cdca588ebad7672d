"""`python -m lad_tf.client`: real REST or gRPC requests to a running TF Serving server (`lad_tf.cli.client`)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lad_tf.cli.client import main

    sys.exit(main())
