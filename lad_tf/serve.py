"""`python -m lad_tf.serve`: a local stand-in for TF Serving (REST, and gRPC when installed) (`lad_tf.cli.serve`)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lad_tf.cli.serve import main

    sys.exit(main())
