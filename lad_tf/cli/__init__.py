"""The commands: argument parsing and `main` only; the work lives in the
layers below. `python -m lad_tf.<command>` runs `lad_tf.cli.<command>.main`.
"""

import os

# TensorFlow's C++ start-up lines are noise on a command's output (the lad-<name>
# scripts come here without the python -m entry modules, which set the same).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
