"""Every `.keras` file a run writes loads after `import lad_tf`, without slowing it down.

Keras 3 finds the custom classes a saved model names (`CutClassifier`,
`LeNet`, `AttentionSVM`, the generators...) only in its registry, which
`keras.saving.register_keras_serializable` fills when the module defining
the class runs; it imports modules by name only for its own packages. The
modules of `REGISTERING_MODULES` define every class a run saves, but they
import Keras and TensorFlow (~7 s), and `import lad_tf` must stay fast (the
commands answer `--help` and argument errors before TensorFlow loads). So
`install()`, called by `lad_tf/__init__.py`:

- imports them at once when `keras` is already imported;
- otherwise puts `_KerasFinder` at the front of `sys.meta_path`. It lets the
  normal finders find the top-level `keras` and `tensorflow` modules and wraps
  their loaders; once no wrapped module is still executing and `keras` is
  loaded, it imports the registering modules and removes itself. TF 2.21's
  `import tensorflow` imports keras near its end (and `import keras` imports
  tensorflow), so registration waits for the outer of the two to finish,
  when both are complete. A failure there is a warning, never a failed
  `import keras`.
"""

from __future__ import annotations

import importlib
import sys
import warnings

REGISTERING_MODULES = ("lad_tf.models", "lad_tf.lad.attention_svm")
_WATCHED = ("keras", "tensorflow")


def register_keras_classes() -> None:
    """Imports the modules whose classes saved models name (each class registers
    itself with `keras.saving.register_keras_serializable(package="lad_tf")`)."""
    for name in REGISTERING_MODULES:
        importlib.import_module(name)


class _Loader:
    """A watched module's own loader, counting the modules still executing."""

    def __init__(self, loader, finder: _KerasFinder):
        self.loader, self.finder = loader, finder

    def __getattr__(self, name):  # get_source, get_resource_reader...: the real loader's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = module.__spec__.loader = self.loader  # the module sees its own loader
        self.finder.running += 1
        try:
            self.loader.exec_module(module)
        finally:
            self.finder.running -= 1
        self.finder.fire()


class _KerasFinder:
    """A `sys.meta_path` finder that registers lad_tf's classes once Keras is imported."""

    def __init__(self):
        self.running = 0

    def find_spec(self, fullname, path=None, target=None):
        """The normal finders' spec of `keras` / `tensorflow`, its loader wrapped;
        None for every other module. (TensorFlow also calls `find_spec("keras")`
        without importing it: a spec that is never executed does nothing.)"""
        if fullname not in _WATCHED or path is not None:
            return None
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, self)
        return spec

    def fire(self) -> None:
        """Registers (and removes this finder) when keras is loaded and no
        watched module is still executing."""
        if self.running or "keras" not in sys.modules:
            return
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        try:
            register_keras_classes()
        except Exception as exc:  # noqa: BLE001  (never break the user's `import keras`)
            warnings.warn(f"lad_tf could not register its Keras classes ({type(exc).__name__}: "
                          f"{exc}); import lad_tf.models before loading a .keras file",
                          stacklevel=2)


def install() -> None:
    """Registers the classes now (Keras imported) or as soon as Keras is imported."""
    if "keras" in sys.modules:
        register_keras_classes()
    elif not any(isinstance(finder, _KerasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KerasFinder())
