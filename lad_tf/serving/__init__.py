"""Serving: the exported signatures and a local stand-in for TensorFlow Serving.

- `signatures`: the graph functions of an exported model (validation, image
  decoding, the model card), used by `lad_tf.serving.export`.
- `resolver`: `LocalModelServer`, which answers TF Serving's Predict and
  GetModelMetadata requests (protos or REST JSON) from an export base folder
  the way `tensorflow_model_server` does; for tests and local trials, not for
  production.
- `local_servers`: loopback REST and gRPC servers around a `LocalModelServer`.

Their REST side needs only TensorFlow; the gRPC side (and the proto methods
`LocalModelServer.predict` / `get_model_metadata`) needs
`tensorflow-serving-api`, installed with `pip install --no-deps` (see the
README's Serving section) and imported only when used.
"""
