"""A small TensorFlow Serving client: real REST or gRPC requests to a running server.

    python -m lad_tf.client --rest http://localhost:8501 --model lenet_mnist_lad --image digit.png
    python -m lad_tf.client --grpc localhost:8500 --model lenet_mnist_lad --image a.png b.jpg
    python -m lad_tf.client --rest http://localhost:8501 --model lenet_mnist_lad --metadata --card

Images are sent in one of two ways (`--send`):

- `bytes` (default): the files as they are to the `predict_image_bytes`
  signature (REST: `{"b64": ...}`); the server decodes, converts to the
  model's channels, resizes and scales them inside the graph.
- `pixels`: decoded here to float32 [B, H, W, C] in [0, 1] (uint8 / 255) and
  sent to `serving_default`; the images must already have the model's size
  and the channel count is read from the model card. `.npy` files holding
  float32 [H, W, C] or [B, H, W, C] arrays are sent as they are.

REST needs only the standard library (plus TensorFlow for `--send pixels`);
gRPC needs `tensorflow-serving-api`, installed without its dependencies
(`pip install --no-deps "tensorflow-serving-api>=2.21,<2.22"`), because it
requires the full GPU `tensorflow` wheel.
"""

from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from lad_tf.serving.limits import INSTALL_HINT
from lad_tf.utils.errors import LadError

BYTES_SIGNATURE = "predict_image_bytes"  # the names of lad_tf.serving.signatures, without
DEFAULT_SIGNATURE = "serving_default"    # importing TensorFlow for a REST request
CARD_SIGNATURE = "model_card"


def _one_line(message: str) -> str:
    """A server's error message on one line, without TensorFlow's `[[{{node ...}}]]` lines."""
    lines = [line.strip() for line in message.splitlines()
             if line.strip() and not line.strip().startswith("[[")]
    return " ".join(lines)


def _json_value(item, is_string: bool):
    if is_string:
        return {"b64": base64.b64encode(item).decode()}
    return item.tolist()


class _Rest:
    """TF Serving's REST API: POST .../NAME[/versions/V]:predict, GET .../metadata."""

    def __init__(self, url: str, model: str, version: int | None, timeout: float,
                 fmt: str = "row"):
        path = f"/v1/models/{model}" + (f"/versions/{version}" if version is not None else "")
        self.url = url.rstrip("/") + path
        self.timeout = timeout
        self.fmt = fmt

    def _call(self, url: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            try:
                text = json.loads(text).get("error", text)
            except (json.JSONDecodeError, AttributeError):
                pass
            raise LadError(f"server answered HTTP {exc.code}: {_one_line(str(text))}") from None
        except (urllib.error.URLError, socket.timeout, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise LadError(f"cannot reach {url}: {reason}; is the server running "
                           "(see export/README.md)?") from None

    def predict(self, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        strings = {k: v.dtype == object for k, v in inputs.items()}
        if self.fmt == "row":
            batch = len(next(iter(inputs.values())))
            if len(inputs) == 1:
                (alias, array), = inputs.items()
                instances = [_json_value(array[i], strings[alias]) for i in range(batch)]
            else:
                instances = [{k: _json_value(v[i], strings[k]) for k, v in inputs.items()}
                             for i in range(batch)]
            body = {"signature_name": signature, "instances": instances}
        else:
            body = {"signature_name": signature, "inputs": {
                k: [_json_value(x, strings[k]) for x in v] for k, v in inputs.items()}}
        reply = self._call(self.url + ":predict", body)
        if "outputs" in reply:
            outputs = reply["outputs"]
            return {k: np.asarray(v) for k, v in outputs.items()} if isinstance(outputs, dict) \
                else {"output": np.asarray(outputs)}
        rows = reply["predictions"]
        if rows and isinstance(rows[0], dict):
            return {k: np.asarray([row[k] for row in rows]) for k in rows[0]}
        return {"output": np.asarray(rows)}

    def signatures(self) -> dict:
        reply = self._call(self.url + "/metadata")
        return reply["metadata"]["signature_def"]["signature_def"]


class _Grpc:
    """TF Serving's gRPC API through tensorflow-serving-api's PredictionService stub."""

    def __init__(self, target: str, model: str, version: int | None, timeout: float):
        try:  # lazy: an optional package that loads TensorFlow (~10 s); REST needs neither
            import grpc  # lazy (see above)
            import tensorflow as tf  # lazy (see above)
            from google.protobuf import json_format  # lazy (see above)
            from tensorflow_serving.apis import (  # lazy
                get_model_metadata_pb2,
                predict_pb2,
                prediction_service_pb2_grpc,
            )
        except ImportError:
            raise LadError(f"the gRPC client needs tensorflow-serving-api: {INSTALL_HINT} "
                           "(--no-deps keeps the GPU tensorflow wheel out)") from None
        self.grpc, self.predict_pb2, self.metadata_pb2 = grpc, predict_pb2, get_model_metadata_pb2
        self.tf, self.json_format = tf, json_format
        self.channel = grpc.insecure_channel(target)
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.target, self.model, self.version, self.timeout = target, model, version, timeout

    def _spec(self, spec, signature: str = "") -> None:
        spec.name = self.model
        if self.version is not None:
            spec.version.value = self.version
        if signature:
            spec.signature_name = signature

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except self.grpc.RpcError as exc:
            code = exc.code()
            if code in (self.grpc.StatusCode.UNAVAILABLE, self.grpc.StatusCode.DEADLINE_EXCEEDED):
                raise LadError(f"cannot reach {self.target}: {code.name} "
                               f"({_one_line(exc.details() or '')}); is the server running "
                               "(see export/README.md)?") from None
            raise LadError(f"server answered {code.name}: {_one_line(exc.details() or '')}") \
                from None

    def predict(self, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        request = self.predict_pb2.PredictRequest()
        self._spec(request.model_spec, signature)
        for alias, array in inputs.items():
            request.inputs[alias].CopyFrom(self.tf.make_tensor_proto(array))
        response = self._call(self.stub.Predict, request)
        return {alias: self.tf.make_ndarray(proto) for alias, proto in response.outputs.items()}

    def signatures(self) -> dict:
        request = self.metadata_pb2.GetModelMetadataRequest()
        self._spec(request.model_spec)
        request.metadata_field.append("signature_def")
        response = self._call(self.stub.GetModelMetadata, request)
        signature_map = self.metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return self.json_format.MessageToDict(signature_map,
                                              preserving_proto_field_name=True)["signature_def"]


def connect(rest: str | None = None, grpc: str | None = None, *, model: str,
            version: int | None = None, timeout: float = 30.0, fmt: str = "row"):
    """A client for `model` on a REST URL or a gRPC host:port.

    The client has `predict(signature, {input: array}) -> {output: array}`
    (string inputs as object arrays of bytes) and `signatures()`, the
    GetModelMetadata signature_def map as a dict.
    """
    if (rest is None) == (grpc is None):
        raise LadError("pass exactly one of --rest URL or --grpc HOST:PORT")
    return _Rest(rest, model, version, timeout, fmt) if rest else \
        _Grpc(grpc, model, version, timeout)


def model_card(client, fields=("*",)) -> list:
    """The requested model card fields (decoded JSON), through the `model_card` signature."""
    out = client.predict(CARD_SIGNATURE, {"fields": np.array([f.encode() for f in fields],
                                                             dtype=object)})
    values = out.get("json", out.get("output"))
    return [json.loads(v.decode() if isinstance(v, bytes) else v) for v in values.tolist()]


def load_images(paths: list[Path], send: str, client) -> tuple[str, dict[str, np.ndarray]]:
    """The signature and inputs for `paths`: raw file bytes, or decoded pixels."""
    for path in paths:
        if not path.is_file():
            raise LadError(f"image {path} not found")
    if send == "bytes":
        return BYTES_SIGNATURE, {"image_bytes": np.array([p.read_bytes() for p in paths],
                                                         dtype=object)}
    # lazy: TensorFlow takes ~10 s to import; REST with --send bytes never needs it
    import tensorflow as tf

    channels = None
    arrays = []
    for path in paths:
        if path.suffix == ".npy":
            array = np.load(path).astype(np.float32)
            arrays.extend(array if array.ndim == 4 else [array])
            continue
        if channels is None:  # the model card says what the model takes
            channels = int(model_card(client, ["serving"])[0]["input_shape"][2])
        try:
            image = tf.io.decode_image(path.read_bytes(), channels=channels,
                                       expand_animations=False)
        except tf.errors.InvalidArgumentError:
            raise LadError(f"{path} is not an image TensorFlow can decode (PNG, JPEG, GIF, BMP)") \
                from None
        arrays.append(image.numpy().astype(np.float32) / np.float32(255.0))
    if len({a.shape for a in arrays}) > 1:
        raise LadError(f"--send pixels needs images of one size; got "
                       f"{sorted({a.shape for a in arrays})}; use --send bytes to let the server "
                       "resize them")
    return DEFAULT_SIGNATURE, {"images": np.stack(arrays)}
