"""`python -m lad_tf.acgan_select`: the AC-GAN checkpoint a classifier reads best (`lad_tf.cli.acgan_select`)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lad_tf.cli.acgan_select import main

    sys.exit(main())
