"""`python -m lad_tf.ga_study`: GA, the paper's latent-space baseline, measured on a run (`lad_tf.cli.ga_study`)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lad_tf.cli.ga_study import main

    sys.exit(main())
