"""The logits an attack library sees: a binary model's one logit as two."""

import tensorflow as tf

# One wrapper per model, kept on the model itself: cleverhans' gradient is a
# tf.function that takes the model function as an argument, so a new wrapper
# for every batch would trace it again every batch (and TensorFlow warns
# about the retracing).
_CACHED = "_lad_softmax_logits"


def softmax_logits(model):
    """Wraps `model` so that its logits suit a softmax cross-entropy attack.

    cleverhans' FGSM and PGD take softmax cross-entropy on the logits. For a
    binary model with one sigmoid logit l that is degenerate (a softmax over
    one logit is 1: zero loss, zero gradient, no attack). The wrapper returns
    the two logits [0, l]: softmax([0, l]) = [1 - sigmoid(l), sigmoid(l)], so
    the attack sees the model's own probabilities for labels 0 and 1.

    Args:
        model: callable images float32 [B, H, W, C] -> logits [B, K].

    Returns:
        callable images -> logits [B, K] for K > 1, [B, 2] for K = 1; the
        same callable for every call with the same `model`.
    """
    cached = getattr(model, _CACHED, None)
    if cached is not None:
        return cached

    def logits(x):
        out = model(x)
        if out.shape[-1] == 1:
            return tf.concat([tf.zeros_like(out), out], axis=-1)
        return out

    try:  # past Keras' attribute tracking; a bound method takes no attributes
        object.__setattr__(model, _CACHED, logits)
    except (AttributeError, TypeError):
        pass
    return logits


def attack_classes(model) -> int:
    """Classes an attack sees for `model`: its logits, or 2 for one sigmoid logit."""
    return 2 if model.num_classes == 1 else model.num_classes
