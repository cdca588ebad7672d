"""What a served model accepts, TensorFlow-free (the export command's flags read these)."""

DEFAULT_MAX_BATCH = 1024
MAX_IMAGE_SIDE = 4096  # largest height or width of an encoded image, checked before decoding
OUT_OF_RANGE_POLICIES = ("clip", "reject")

# tensorflow-serving-api pins the 600 MB GPU tensorflow wheel: install it without dependencies.
INSTALL_HINT = 'pip install --no-deps "tensorflow-serving-api>=2.21,<2.22"'
