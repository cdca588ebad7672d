"""`python -m lad_tf.acgan`: trains the AC-GAN that GA searches (`lad_tf.cli.acgan`)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lad_tf.cli.acgan import main

    sys.exit(main())
