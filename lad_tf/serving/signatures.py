"""The graph functions behind an exported model's three serving signatures.

Every check a request needs runs inside the graph, so TensorFlow Serving (or
any other runtime) applies it without help from a client:

`serving_default`
    images  float32 [B, H, W, C] in [0, 1]  ->  logits float32 [B, K],
    probabilities float32 [B, K], classes int64 [B]
`predict_image_bytes`
    image_bytes  string [B], each an encoded PNG or JPEG file  ->  the same
    three outputs. Decoded with the recipe's channel count (colour is turned
    into grey for a one-channel model), resized to H x W (bilinear,
    antialiased; an image already H x W is unchanged) and scaled to [0, 1]
    as uint8 / 255.
`model_card`
    fields  string [N], names of model-card fields, or "*" for the whole card
    ->  json string [N], each field's value as JSON text.

The inputs are declared with an unknown rank on purpose. TensorFlow Serving
does not check a request against the shape a signature declares: it feeds the
tensor as it is. A declared rank only lets TensorFlow fold the rank check into
a constant at export time; a wrong-rank request then meets ops built for
another rank and fails with messages such as "Incompatible shapes: [3] vs.
[2]" (measured), or, in a plain Keras export without checks, aborts the whole
process (measured with TF 2.21; `tests/test_serving.py` sends such requests). The contract ([B, H, W, C], B in 1..max_batch) is
enforced by the checks below, rank first, and stated in the model card
(`serving.input_shape`).

Failed checks raise InvalidArgument (gRPC INVALID_ARGUMENT, HTTP 400) with a
message that names the problem and what was expected.
"""

from __future__ import annotations

import json

import tensorflow as tf

DEFAULT_SIGNATURE = "serving_default"
BYTES_SIGNATURE = "predict_image_bytes"
CARD_SIGNATURE = "model_card"
IMAGES_INPUT = "images"
BYTES_INPUT = "image_bytes"
CARD_INPUT = "fields"
CARD_OUTPUT = "json"

from lad_tf.serving.limits import (  # noqa: E402,F401
    DEFAULT_MAX_BATCH,
    MAX_IMAGE_SIDE,
    OUT_OF_RANGE_POLICIES,
)

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_HEADER_BYTES = 33  # signature (8) + IHDR chunk (25): width and height live in bytes 16..23


def _checked_batch(x, name: str, rank: int, shape_hint: str, max_batch: int):
    """`x` with its rank and a batch of 1..max_batch asserted, the rank first.

    Returns `x` with static rank `rank`; every op that uses the result runs
    after the checks. (A reshape, not `tf.ensure_shape`: measured here, an
    EnsureShape of the input ran before the asserts despite the control
    dependency, and its terse message replaced this one.)
    """
    rank_check = tf.debugging.assert_equal(
        tf.rank(x), rank,
        message=f"{name} must have rank {rank}, shape {shape_hint}; received rank")
    with tf.control_dependencies([rank_check]):
        batch = tf.shape(x)[0]
        batch_check = tf.debugging.Assert(
            tf.logical_and(batch >= 1, batch <= max_batch),
            [f"{name} must hold between 1 and {max_batch} items; received", batch])
    with tf.control_dependencies([batch_check]):
        shape = tf.shape(x)
        return tf.reshape(x, [shape[i] for i in range(rank)])


def _outputs(model, images) -> dict:
    """The three named outputs of `model` on images float32 [B, H, W, C] in [0, 1]."""
    logits = model(images, training=False)
    if model.num_classes == 1:
        p1 = tf.sigmoid(logits)
        probabilities = tf.concat([1.0 - p1, p1], axis=-1)
        classes = tf.cast(logits[:, 0] > 0, tf.int64)
    else:
        probabilities = tf.nn.softmax(logits, axis=-1)
        classes = tf.argmax(logits, axis=-1)
    return {"logits": logits, "probabilities": probabilities, "classes": classes}


def images_signature(model, max_batch: int = DEFAULT_MAX_BATCH, out_of_range: str = "clip"):
    """`serving_default`: validated float images -> logits, probabilities, classes.

    Args:
        model: a built `LatentClassifier` with `image_shape` (H, W, C) and
            `num_classes`, returning logits.
        max_batch: the largest batch a request may hold.
        out_of_range: "clip" clips values outside [0, 1] into it; "reject"
            fails the request instead.

    Returns:
        A `tf.function` taking `images` float32 [B, H, W, C] (declared with
        unknown rank, see the module docstring).
    """
    if out_of_range not in OUT_OF_RANGE_POLICIES:
        raise ValueError(f"out_of_range must be one of {OUT_OF_RANGE_POLICIES}. "
                         f"Received: out_of_range={out_of_range!r}")
    height, width, channels = (int(d) for d in model.image_shape)
    hint = f"[batch, {height}, {width}, {channels}]"

    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32, name=IMAGES_INPUT)])
    def serve(images):
        images = _checked_batch(images, IMAGES_INPUT, 4, hint, max_batch)
        size_check = tf.debugging.assert_equal(
            tf.shape(images)[1:], tf.constant([height, width, channels]),
            message=f"{IMAGES_INPUT} must have shape {hint} (height, width, channels)")
        with tf.control_dependencies([size_check]):
            images = tf.debugging.assert_all_finite(
                images, f"{IMAGES_INPUT} contain NaN or infinite values")
        if out_of_range == "reject":
            low, high = tf.reduce_min(images), tf.reduce_max(images)
            range_check = tf.debugging.Assert(
                tf.logical_and(low >= 0.0, high <= 1.0),
                [f"{IMAGES_INPUT} must lie in [0, 1]; received min and max", low, high])
            with tf.control_dependencies([range_check]):
                images = tf.identity(images)
        x = tf.reshape(tf.clip_by_value(images, 0.0, 1.0), [-1, height, width, channels])
        return _outputs(model, x)

    return serve


def _encoded_size(data):
    """(height, width) int64 [2] read from a PNG or JPEG header, without decoding."""
    def png_size():
        b = tf.cast(tf.io.decode_raw(tf.strings.substr(data, 16, 8), tf.uint8), tf.int64)
        width = b[0] * 2 ** 24 + b[1] * 2 ** 16 + b[2] * 2 ** 8 + b[3]
        height = b[4] * 2 ** 24 + b[5] * 2 ** 16 + b[6] * 2 ** 8 + b[7]
        return tf.stack([height, width])

    def jpeg_size():
        return tf.cast(tf.io.extract_jpeg_shape(data)[:2], tf.int64)

    return tf.cond(tf.strings.substr(data, 0, 8) == _PNG_MAGIC, png_size, jpeg_size)


def image_bytes_signature(model, max_batch: int = DEFAULT_MAX_BATCH):
    """`predict_image_bytes`: encoded PNG / JPEG files -> the three outputs.

    Args:
        model: as for `images_signature`.
        max_batch: the largest batch a request may hold.

    Returns:
        A `tf.function` taking `image_bytes` string [B] (unknown rank
        declared). Each file is checked to be PNG or JPEG by its first bytes
        and to be at most MAX_IMAGE_SIDE pixels high and wide (read from its
        header before decoding); corrupt data fails in the decoder with
        InvalidArgument.
    """
    height, width, channels = (int(d) for d in model.image_shape)

    def decode(data):
        size = _encoded_size(data)
        size_check = tf.debugging.Assert(
            tf.reduce_max(size) <= MAX_IMAGE_SIDE,
            [f"{BYTES_INPUT}: images may be at most {MAX_IMAGE_SIDE} pixels high and wide; "
             "received (height, width)", size])
        with tf.control_dependencies([size_check]):
            image = tf.io.decode_image(data, channels=channels, expand_animations=False,
                                       dtype=tf.uint8)
        image = tf.cast(image, tf.float32) / 255.0
        # Exact for images that are already H x W (measured: max abs change 0).
        image = tf.image.resize(image, [height, width], antialias=True)
        return tf.clip_by_value(image, 0.0, 1.0)

    @tf.function(input_signature=[tf.TensorSpec(None, tf.string, name=BYTES_INPUT)])
    def serve_bytes(image_bytes):
        image_bytes = _checked_batch(image_bytes, BYTES_INPUT, 1,
                                     "[batch] of encoded PNG or JPEG files", max_batch)
        png = tf.logical_and(tf.strings.substr(image_bytes, 0, 8) == _PNG_MAGIC,
                             tf.strings.length(image_bytes) >= _PNG_HEADER_BYTES)
        jpeg = tf.strings.substr(image_bytes, 0, 3) == _JPEG_MAGIC
        known = tf.logical_or(png, jpeg)
        format_check = tf.debugging.Assert(
            tf.reduce_all(known),
            [f"{BYTES_INPUT} must hold PNG or JPEG files; these batch positions hold "
             "something else:", tf.where(tf.logical_not(known))[:, 0]])
        with tf.control_dependencies([format_check]):
            images = tf.map_fn(
                decode, image_bytes,
                fn_output_signature=tf.TensorSpec([height, width, channels], tf.float32))
        return _outputs(model, images)

    return serve_bytes


def model_card_signature(card: dict):
    """`model_card`: the card's fields as JSON text, looked up by name.

    Args:
        card: the JSON-serialisable model card.

    Returns:
        A `tf.function` taking `fields` string [N] (top-level card keys, or
        "*" for the whole card) and returning {"json": string [N]}. An
        unknown field fails with a message that lists the known ones.
    """
    keys = ["*", *card]
    values = [json.dumps(card, sort_keys=True),
              *(json.dumps(card[k], sort_keys=True) for k in card)]
    known = ", ".join(keys)

    @tf.function(input_signature=[tf.TensorSpec(None, tf.string, name=CARD_INPUT)])
    def card_fields(fields):
        fields = _checked_batch(fields, CARD_INPUT, 1, '[n] of field names such as "*"',
                                DEFAULT_MAX_BATCH)
        match = tf.equal(fields[:, None], tf.constant(keys)[None, :])
        found = tf.reduce_any(match, axis=1)
        found_check = tf.debugging.Assert(
            tf.reduce_all(found),
            [f"{CARD_INPUT}: unknown model card field; known fields: {known}; received",
             tf.boolean_mask(fields, tf.logical_not(found))])
        with tf.control_dependencies([found_check]):
            index = tf.argmax(tf.cast(match, tf.int32), axis=1)
        return {CARD_OUTPUT: tf.gather(tf.constant(values), index)}

    return card_fields
