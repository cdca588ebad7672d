"""LAD-TF: Latent Adversarial Defence for Keras 3 / TensorFlow classifiers."""

__version__ = "0.1.0"

from lad_tf.api import HardenResult, export_model, harden_model  # noqa: E402  (imports no TensorFlow)

__all__ = ["HardenResult", "export_model", "harden_model", "__version__"]
