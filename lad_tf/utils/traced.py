"""One traced inference function per model: `traced_call(model)`.

Building `tf.function(lambda x: model(x))` afresh at every use traces it
again each time, and TensorFlow counts those traces against the lambda's
code: after five in a row it prints a retracing warning that a user cannot
act on. Here each (model, method) gets one function, kept as long as the
model lives, that traces once per input shape, for any batch size.
"""

from __future__ import annotations

import weakref

import tensorflow as tf

_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def traced_call(model, method: str | None = None):
    """A `tf.function` of `model(x, training=False)` (or `model.<method>(x, training=False)`).

    Args:
        model: a Keras model (any object that accepts weak references).
        method: None for the model's call, else a method name such as
            "features" or "head".

    Returns:
        a callable x -> output, the same object on every call for this model
        and method. It holds the model only weakly, so the cache never keeps
        a model alive.
    """
    per_model = _FUNCTIONS.setdefault(model, {})
    if method not in per_model:
        per_model[method] = _OnceTraced(_Call(weakref.ref(model), method))
    return per_model[method]


class _Call:
    """model(x) or model.<method>(x), inference mode, through a weak reference.

    An object rather than a closure: TensorFlow counts traces per Python code
    object, so closures of one `def` would pool the traces of every model
    (one each, legitimately) and warn after five; an object is its own key.
    """

    def __init__(self, ref, method):
        self.ref, self.method = ref, method

    def __call__(self, x):
        target = self.ref()
        return (target if self.method is None else getattr(target, self.method))(
            x, training=False)


class _OnceTraced:
    """`call` traced once per input shape, for any batch size.

    The signature (None, *the input's other dimensions) is fixed at the first
    input of each shape, so later batch sizes (a last, smaller batch) reuse
    that trace.
    """

    def __init__(self, call):
        self.call, self.functions = call, {}

    def __call__(self, x):
        x = tf.convert_to_tensor(x, tf.float32)
        shape = tuple(x.shape[1:])
        if shape not in self.functions:
            spec = tf.TensorSpec((None, *shape), tf.float32)
            # A plain call: nothing for AutoGraph to convert.
            self.functions[shape] = tf.function(self.call, input_signature=[spec],
                                                autograph=False)
        return self.functions[shape](x)
