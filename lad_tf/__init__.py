"""LAD-TF: Latent Adversarial Defence for Keras 3 / TensorFlow classifiers.

`import lad_tf` imports no TensorFlow (the commands answer `--help` and
argument errors at once). Every `.keras` file a run writes (classifier.keras,
generator.keras, svm.keras, methods/<method>.keras, hardened.keras) loads
with `keras.models.load_model` after `import lad_tf`, in either order:

    import lad_tf, keras
    keras.models.load_model("runs/x/methods/pgd-at.keras")

The classes those files name register themselves with Keras when their
modules (`lad_tf.models`, `lad_tf.lad.attention_svm`) are imported: at once when
Keras is already imported, otherwise as soon as `import keras` (or
`import tensorflow`, which imports keras) finishes (`lad_tf.utils.registration`).
"""

from lad_tf._version import __version__  # noqa: E402
from lad_tf.api import HardenResult, export_model, harden_model  # noqa: E402  (imports no TensorFlow)
from lad_tf.utils.registration import install as _install_registration  # noqa: E402  (no TensorFlow)

_install_registration()

__all__ = ["HardenResult", "export_model", "harden_model", "__version__"]
