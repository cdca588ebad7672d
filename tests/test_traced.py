"""traced_call: one traced inference function per model, traced once per input shape."""

import gc
import weakref

import numpy as np

from lad_tf.models import build_classifier
from lad_tf.utils.traced import traced_call


def test_one_trace_for_every_batch_size_and_same_outputs():
    model = build_classifier("lenet")
    call = traced_call(model)
    assert traced_call(model) is call and traced_call(model, "features") is not call
    x = np.random.default_rng(0).random((7, 28, 28, 1)).astype("float32")
    for n in (7, 3, 5, 1):
        # graph and eager kernels may round differently
        np.testing.assert_allclose(np.asarray(call(x[:n])), np.asarray(model(x[:n])),
                                   rtol=1e-5, atol=1e-5)
    assert [f.experimental_get_tracing_count() for f in call.functions.values()] == [1]
    assert tuple(traced_call(model, "features")(x).shape) == (7, 500)


def test_the_cache_does_not_keep_a_model_alive():
    model = build_classifier("lenet")
    traced_call(model)(np.zeros((2, 28, 28, 1), "float32"))
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None
