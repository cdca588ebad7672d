"""The commands: argument parsing and `main` only; the work lives in the
layers below. `python -m lad_tf.<command>` runs `lad_tf.cli.<command>.main`.
"""
