"""Deprecated: the defences moved to `lad_tf.defences` (registry `DEFENCES`)."""

from lad_tf.defences import DEFENCES as METHODS  # noqa: F401
