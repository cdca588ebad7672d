"""LAD-TF: Latent Adversarial Defence for Keras 3 / TensorFlow classifiers."""

__version__ = "0.1.0"
