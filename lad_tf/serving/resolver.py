"""`LocalModelServer`: TensorFlow Serving's request handling, reproduced in Python.

The `tensorflow_model_server` binary cannot be installed on this project's
build machines, so tests (and local trials of `python -m lad_tf.client`) answer
requests with this class instead. It follows the server's own code paths:

- Predict (`predict_util.cc`): the model and version are looked up (newest
  version by default; NOT_FOUND otherwise), the signature by name
  (`serving_default` when empty; FAILED_PRECONDITION when unknown), the
  request's input names must equal the signature's, every input is parsed
  from its TensorProto and must have the signature's dtype, the tensors are
  fed to the signature as they are (the server does not check shapes), and
  the outputs (all, or those in `output_filter`) come back as TensorProtos.
- REST (`json_tensor.cc`): the row format `{"instances": [...]}` and the
  columnar format `{"inputs": ...}`, `{"b64": ...}` for string inputs,
  NaN / Infinity literals, and the matching `predictions` / `outputs` replies.
- GetModelMetadata: the `signature_def` field, packed as a SignatureDefMap
  read from the version's saved_model.pb.

A stand-in for tests and local trials, not a production server. REST needs only
TensorFlow; the proto methods (`predict`, `get_model_metadata`, for gRPC) import
`tensorflow-serving-api` when first called (`lad_tf.serving.limits.INSTALL_HINT`).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from lad_tf.serving.limits import INSTALL_HINT

PREDICT_METHOD = "tensorflow/serving/predict"
SIGNATURE_DEF_MAP_TYPE = "type.googleapis.com/tensorflow.serving.SignatureDefMap"
DEFAULT_SIGNATURE = "serving_default"
HTTP_STATUS = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400,
               "NOT_FOUND": 404, "UNIMPLEMENTED": 501}
STATUS_NAMES = {1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED",
                5: "NOT_FOUND", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION",
                11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED", 13: "INTERNAL"}  # TF's error codes
_NOISE = re.compile(r"^(Graph execution error:|Detected at node|<stack traces unavailable>|"
                    r"\s+File \"|\s*$)")


class ServingError(Exception):
    """A failed request: a gRPC status code name and TF Serving's style of message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)


def _tf_message(exc: tf.errors.OpError) -> str:
    """The kernel's message without the Python-side stack trace lines."""
    lines = [line for line in exc.message.splitlines() if not _NOISE.match(line)]
    return re.sub(r"\s*\[Op:[^\]]*\]$", "", "\n".join(lines).strip())  # an eager-call artifact


def _dtype_name(dtype: int) -> str:
    return types_pb2.DataType.Name(dtype)[3:].lower()  # DT_FLOAT -> float, as TF writes it


def serving_apis():
    """tensorflow-serving-api's `predict_pb2` and `get_model_metadata_pb2` (gRPC only);
    ImportError saying how to install it when it is missing."""
    try:
        from tensorflow_serving.apis import (  # lazy: optional
            get_model_metadata_pb2,
            predict_pb2,
        )
    except ImportError as exc:
        raise ImportError(f"TF Serving's protos need tensorflow-serving-api: {INSTALL_HINT} "
                          "(--no-deps keeps the GPU tensorflow wheel out)") from exc
    return predict_pb2, get_model_metadata_pb2


def _version(model_spec) -> int | None:
    return model_spec.version.value if model_spec.HasField("version") else None


def _signature_defs(version_dir: Path) -> dict:
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((version_dir / "saved_model.pb").read_bytes())
    for meta_graph in saved.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            return dict(meta_graph.signature_def)
    raise ServingError("NOT_FOUND", f"{version_dir} has no MetaGraph with the tag 'serve'")


class LocalModelServer:
    """Answers Predict and GetModelMetadata requests from a TF Serving base folder.

    Args:
        base: the model base folder, `<base>/<name>/<version>/saved_model.pb`.
        names: models to load (default: every folder in `base`).
        all_versions: load every integer version, not only the newest (the
            server's default policy serves the newest only).
    """

    def __init__(self, base: str | Path, names: list[str] | None = None,
                 all_versions: bool = False):
        self.base = Path(base)
        self.models: dict[str, dict[int, tuple]] = {}
        for model_dir in sorted(self.base.iterdir()):
            if not model_dir.is_dir() or (names is not None and model_dir.name not in names):
                continue
            versions = sorted(int(p.name) for p in model_dir.iterdir()
                              if p.is_dir() and p.name.isdigit())  # as the server: integers only
            if not all_versions:
                versions = versions[-1:]
            self.models[model_dir.name] = {
                v: (tf.saved_model.load(str(model_dir / str(v))),
                    _signature_defs(model_dir / str(v))) for v in versions}

    # -- lookup ----------------------------------------------------------------------
    def _servable(self, name: str, wanted: int | None) -> tuple[int, object, dict]:
        versions = self.models.get(name)
        if not versions or (wanted is not None and wanted not in versions):
            what = f"Specific({name}, {wanted})" if wanted is not None else f"Latest({name})"
            raise ServingError("NOT_FOUND", f"Servable not found for request: {what}")
        version = wanted if wanted is not None else max(versions)
        loaded, signature_defs = versions[version]
        return version, loaded, signature_defs

    @staticmethod
    def _signature(signature_defs: dict, name: str):
        name = name or DEFAULT_SIGNATURE
        if name not in signature_defs:
            raise ServingError("FAILED_PRECONDITION", f'Serving signature key "{name}" not found.')
        signature = signature_defs[name]
        if signature.method_name != PREDICT_METHOD:
            raise ServingError("INTERNAL", f"Expected prediction signature method_name to be "
                                           f"{PREDICT_METHOD}. Was: {signature.method_name}")
        return name, signature

    # -- Predict ---------------------------------------------------------------------
    def predict(self, request):
        """Runs a PredictRequest as the server does; returns a PredictResponse,
        raises `ServingError` on failure."""
        predict_pb2, _ = serving_apis()
        spec = request.model_spec
        version, name, outputs = self._predict(spec.name, _version(spec), spec.signature_name,
                                               request.inputs, request.output_filter)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = version
        response.model_spec.signature_name = name
        for alias, value in outputs.items():
            response.outputs[alias].CopyFrom(tf.make_tensor_proto(value))
        return response

    def _predict(self, model: str, wanted: int | None, signature_name: str, inputs,
                 output_filter) -> tuple[int, str, dict]:
        """Predict on plain values: `inputs` {alias: TensorProto}; returns (version,
        signature name, {alias: output array}) or raises `ServingError`."""
        version, loaded, signature_defs = self._servable(model, wanted)
        name, signature = self._signature(signature_defs, signature_name)
        sent, expected = set(inputs), set(signature.inputs)
        if sent != expected:
            raise ServingError(
                "INVALID_ARGUMENT",
                f"input size does not match signature: {len(sent)}!={len(expected)} "
                f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(expected))}}}). "
                f"Sent extra: {{{','.join(sorted(sent - expected))}}}. "
                f"Missing but required: {{{','.join(sorted(expected - sent))}}}.")
        feeds = {}
        for i, alias in enumerate(sorted(signature.inputs)):
            proto, info = inputs[alias], signature.inputs[alias]
            if proto.dtype != info.dtype:
                raise ServingError("INVALID_ARGUMENT", f"Expects arg[{i}] ({alias}) to be "
                                                       f"{_dtype_name(info.dtype)} but "
                                                       f"{_dtype_name(proto.dtype)} is provided")
            try:
                feeds[alias] = tf.constant(tf.make_ndarray(proto), dtype=tf.as_dtype(info.dtype))
            except (ValueError, TypeError) as exc:
                raise ServingError("INVALID_ARGUMENT",
                                   f"tensor parsing error: {alias}: {exc}") from None
        wanted = list(output_filter) or sorted(signature.outputs)
        for alias in wanted:
            if alias not in signature.outputs:
                raise ServingError(
                    "INVALID_ARGUMENT",
                    f"output tensor alias not found in signature: {alias} Outputs expected to be "
                    f"in the set {{{','.join(sorted(signature.outputs))}}}.")
        try:
            outputs = loaded.signatures[name](**feeds)
        except tf.errors.OpError as exc:
            raise ServingError(STATUS_NAMES.get(exc.error_code, "UNKNOWN"),
                               _tf_message(exc)) from None
        return version, name, {alias: outputs[alias].numpy() for alias in wanted}

    # -- GetModelMetadata ------------------------------------------------------------
    def _metadata(self, model: str, wanted: int | None, fields) -> tuple[int, dict]:
        """(version, signature defs) for the `signature_def` field, as the server checks it."""
        for field in fields:
            if field != "signature_def":
                raise ServingError("INVALID_ARGUMENT", f"Metadata field {field} is not supported")
        if not fields:
            raise ServingError("INVALID_ARGUMENT", "GetModelMetadataRequest must specify at "
                                                   "least one metadata_field")
        version, _, signature_defs = self._servable(model, wanted)
        return version, signature_defs

    def get_model_metadata(self, request):
        """Answers a GetModelMetadataRequest for the `signature_def` field, as the server does."""
        _, get_model_metadata_pb2 = serving_apis()
        version, signature_defs = self._metadata(request.model_spec.name,
                                                 _version(request.model_spec),
                                                 list(request.metadata_field))
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, value in signature_defs.items():
            signature_map.signature_def[key].CopyFrom(value)
        response.metadata["signature_def"].Pack(signature_map)
        return response

    # -- REST ------------------------------------------------------------------------
    def rest_metadata(self, name: str, version: int | None = None) -> dict:
        """GET /v1/models/NAME[/versions/V]/metadata as a JSON-ready dict (the
        GetModelMetadataResponse in proto JSON, built without tensorflow-serving-api)."""
        version, signature_defs = self._metadata(name, version, ["signature_def"])
        defs = {key: json_format.MessageToDict(value, preserving_proto_field_name=True)
                for key, value in signature_defs.items()}
        return {"model_spec": {"name": name, "version": str(version)},  # int64: a JSON string
                "metadata": {"signature_def": {"@type": SIGNATURE_DEF_MAP_TYPE,
                                               "signature_def": defs}}}

    def rest_predict(self, name: str, version: int | None, body: bytes | str) -> dict:
        """POST /v1/models/NAME[/versions/V]:predict; returns the reply body as a dict."""
        try:
            doc = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ServingError("INVALID_ARGUMENT", f"JSON Parse error: {exc}") from None
        if not isinstance(doc, dict):
            raise ServingError("INVALID_ARGUMENT", f"JSON Value: {_short(doc)} Is not object")
        signature_name = doc.get("signature_name", "")
        if not isinstance(signature_name, str):
            raise ServingError("INVALID_ARGUMENT", "'signature_name' key must be a string value.")
        _, _, signature_defs = self._servable(name, version)
        _, signature = self._signature(signature_defs, signature_name)
        infos = dict(signature.inputs)
        if ("instances" in doc) == ("inputs" in doc):
            raise ServingError("INVALID_ARGUMENT", "Missing 'inputs' or 'instances' key" if
                               "instances" not in doc else "expecting only one of 'inputs' or "
                               "'instances' keys to exist")
        row = "instances" in doc
        arrays = _rows_to_arrays(doc["instances"], infos) if row \
            else _columns_to_arrays(doc["inputs"], infos)
        inputs = {alias: tf.make_tensor_proto(array) for alias, array in arrays.items()}
        _, _, arrays = self._predict(name, version, signature_name, inputs, ())
        outputs = {alias: _to_json(array, alias) for alias, array in arrays.items()}
        if not row:
            return {"outputs": next(iter(outputs.values())) if len(outputs) == 1 else outputs}
        sizes = {alias: len(value) for alias, value in outputs.items()}
        if len(set(sizes.values())) > 1:
            raise ServingError("INVALID_ARGUMENT", f"Output tensors have inconsistent batch "
                                                   f"sizes {sizes} for the row format")
        if len(outputs) == 1:
            return {"predictions": next(iter(outputs.values()))}
        batch = next(iter(sizes.values()))
        return {"predictions": [{alias: value[i] for alias, value in outputs.items()}
                                for i in range(batch)]}


# -- JSON <-> arrays (json_tensor.cc) -------------------------------------------------
def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _leaf(value, dtype: int):
    if dtype == types_pb2.DT_STRING:
        if isinstance(value, dict):
            if set(value) != {"b64"} or not isinstance(value["b64"], str):
                raise ServingError("INVALID_ARGUMENT", f"JSON Value: {_short(value)} not "
                                                       "formatted correctly for base64 data")
            try:
                return base64.b64decode(value["b64"], validate=True)
            except ValueError:
                raise ServingError("INVALID_ARGUMENT", "Unable to base64 decode") from None
        if isinstance(value, str):
            return value.encode()
    elif dtype in (types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif dtype in (types_pb2.DT_INT32, types_pb2.DT_INT64, types_pb2.DT_UINT8):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif dtype == types_pb2.DT_BOOL and isinstance(value, bool):
        return value
    raise ServingError("INVALID_ARGUMENT", f"JSON Value: {_short(value)} Type: "
                                           f"{type(value).__name__} is not of expected type: "
                                           f"{_dtype_name(dtype)}")


def _dense(value, dtype: int) -> np.ndarray:
    """A nested JSON list as a dense array of `dtype` (all lists of a level equal)."""
    shape = []
    probe = value
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    flat = []

    def walk(v, level):
        if not isinstance(v, list):
            if level != len(shape):
                raise ServingError("INVALID_ARGUMENT", f"JSON Value: {_short(v)} found at "
                                                       f"incorrect level: {level + 1} in the JSON "
                                                       f"DOM. Expected at level: {len(shape)}")
            flat.append(_leaf(v, dtype))
            return
        if level >= len(shape) or len(v) != shape[level]:
            raise ServingError("INVALID_ARGUMENT", f"Encountered list at unexpected size or "
                                                   f"level: {level}; the lists are not dense")
        for item in v:
            walk(item, level + 1)

    walk(value, 0)
    np_dtype = object if dtype == types_pb2.DT_STRING else tf.as_dtype(dtype).as_numpy_dtype
    return np.array(flat, dtype=np_dtype).reshape(shape)


def _is_named(value) -> bool:
    return isinstance(value, dict) and set(value) != {"b64"}


def _rows_to_arrays(instances, infos: dict) -> dict:
    if not isinstance(instances, list):
        raise ServingError("INVALID_ARGUMENT", "Excepting 'instances' to be an list/array")
    if not instances:
        raise ServingError("INVALID_ARGUMENT", "No values in 'instances' array")
    named = _is_named(instances[0])
    if not named and len(infos) > 1:
        raise ServingError("INVALID_ARGUMENT", "instances is a plain list, but expecting list of "
                                               "objects as multiple input tensors required")
    columns: dict[str, list] = {alias: [] for alias in infos}
    for i, item in enumerate(instances):
        if named != _is_named(item):
            expected = "object" if named else "value/list"
            raise ServingError("INVALID_ARGUMENT",
                               f"Expecting {expected} at item {i} of input list")
        if named:
            if set(item) != set(infos):
                raise ServingError("INVALID_ARGUMENT", f"Failed to process element: {i} of "
                                                       f"'instances' list. JSON object keys must "
                                                       f"be equal to: {','.join(sorted(infos))}")
            parts = item
        else:
            parts = {next(iter(infos)): item}
        for alias, value in parts.items():
            columns[alias].append(_dense(value, infos[alias].dtype))
    arrays = {}
    for alias, items in columns.items():
        if len({a.shape for a in items}) > 1:
            raise ServingError("INVALID_ARGUMENT", f"Failed to process 'instances': the items of "
                                                   f"{alias} have different shapes "
                                                   f"{sorted({a.shape for a in items})}")
        arrays[alias] = np.stack(items)
    return arrays


def _columns_to_arrays(inputs, infos: dict) -> dict:
    if not _is_named(inputs):
        if len(infos) > 1:
            raise ServingError("INVALID_ARGUMENT", "inputs is a plain value/list, but expecting "
                                                   "an object as multiple input tensors required")
        alias = next(iter(infos))
        return {alias: _dense(inputs, infos[alias].dtype)}
    missing = set(infos) - set(inputs)
    if missing:
        raise ServingError("INVALID_ARGUMENT", f"Missing named input: {sorted(missing)[0]} in "
                                               "'inputs' object.")
    return {alias: _dense(inputs[alias], infos[alias].dtype) for alias in infos}


def _to_json(array: np.ndarray, alias: str):
    """An output array as JSON values (b64 objects for string outputs named *_bytes)."""
    if array.dtype == object:
        def convert(b):
            return {"b64": base64.b64encode(b).decode()} if alias.endswith("_bytes") \
                else b.decode("utf-8", errors="replace")
        return np.vectorize(convert, otypes=[object])(array).tolist() if array.ndim \
            else convert(array.item())
    return array.tolist()  # json.dumps writes NaN / Infinity literals, as the server does
