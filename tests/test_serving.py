"""Serving: real TF Serving requests (PredictRequest protos and REST JSON bodies)
resolved against an exported model the way the server does, bad requests, the
client against loopback REST and gRPC servers, and the deployment kit."""

import base64
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

try:
    from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2
    from tensorflow_serving.config import model_server_config_pb2
except ImportError:  # CI installs it (README test command); elsewhere say how
    if os.environ.get("CI"):
        raise
    pytest.skip('tensorflow-serving-api is not installed: pip install --no-deps '
                '"tensorflow-serving-api>=2.21,<2.22"', allow_module_level=True)

from lad_tf.cli import client
from lad_tf.serving.export import export_model
from lad_tf.serving.local_servers import grpc_server, rest_server
from lad_tf.serving.resolver import LocalModelServer, ServingError

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
NAME = "lenet_mnist_lad"


def png_bytes(images: np.ndarray) -> list:
    """uint8 PNG files of float images [N, H, W, C] in [0, 1] (exact for MNIST: k / 255)."""
    return [tf.io.encode_png(tf.cast(tf.round(x * 255.0), tf.uint8)).numpy() for x in images]


def predict_request(inputs: dict, signature: str = "", version: int | None = None):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = NAME
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for alias, value in inputs.items():
        request.inputs[alias].CopyFrom(tf.make_tensor_proto(value))
    return request


def assert_same_classes(classes, keras_logits, atol: float = 1e-5):
    """The served classes are Keras's argmax wherever its two top logits differ
    by more than 2 * atol. The server runs another graph's kernels (logits
    within atol of Keras's, asserted separately), which may flip a near-tie."""
    top2 = np.sort(keras_logits, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 2 * atol
    assert clear.mean() >= 0.9  # the comparison is not vacuous
    np.testing.assert_array_equal(np.asarray(classes)[clear], keras_logits.argmax(1)[clear])


def outputs_of(response) -> dict:
    return {alias: tf.make_ndarray(proto) for alias, proto in response.outputs.items()}


@pytest.fixture(scope="module")
def served(tmp_path_factory, trained_lenet, mnist):
    base = tmp_path_factory.mktemp("models")
    export_model(trained_lenet, base, NAME, {"dataset": {"name": "mnist"}})
    x = mnist.x_test[:100]
    return LocalModelServer(base), base, x, np.asarray(trained_lenet(x))


# -- PredictRequest protos -----------------------------------------------------------
def test_predict_request_protos_from_real_mnist(served, mnist):
    server, base, x, keras_logits = served
    loaded = tf.saved_model.load(str(base / NAME / "1"))
    # The resolver's signature_def (what the server reads) and the loaded signatures agree.
    for key in ("serving_default", "predict_image_bytes", "model_card"):
        _, spec = loaded.signatures[key].structured_input_signature
        assert set(spec) == set(server.models[NAME][1][1][key].inputs)
    response = server.predict(predict_request({"images": x}))
    assert (response.model_spec.name, response.model_spec.version.value,
            response.model_spec.signature_name) == (NAME, 1, "serving_default")
    out = outputs_of(response)
    diff = float(np.abs(out["logits"] - keras_logits).max())
    print(f"PredictRequest serving_default, 100 MNIST test images: max abs logit difference "
          f"vs Keras {diff}; accuracy {np.mean(out['classes'] == mnist.y_test[:100]):.2f}")
    assert diff <= 1e-5  # measured 0.0
    assert_same_classes(out["classes"], keras_logits)
    assert np.mean(out["classes"] == mnist.y_test[:100]) > 0.9


def test_predict_request_with_png_bytes(served):
    server, _, x, keras_logits = served
    out = outputs_of(server.predict(predict_request(
        {"image_bytes": np.array(png_bytes(x), dtype=object)}, "predict_image_bytes")))
    diff = float(np.abs(out["logits"] - keras_logits).max())
    print(f"PredictRequest predict_image_bytes (PNG): max abs logit difference vs Keras {diff}")
    assert diff <= 1e-5
    assert_same_classes(out["classes"], keras_logits)


def test_image_bytes_are_decoded_and_resized_in_the_graph(served, mnist):
    """56x56 RGB JPEGs: the graph turns them into 28x28 grey images in [0, 1]."""
    server, _, x, _ = served
    big = tf.image.resize(tf.image.grayscale_to_rgb(tf.constant(x)), [56, 56]).numpy()
    jpegs = [tf.io.encode_jpeg(tf.cast(tf.round(np.clip(b, 0, 1) * 255), tf.uint8),
                               quality=95).numpy() for b in big]
    out = outputs_of(server.predict(predict_request(
        {"image_bytes": np.array(jpegs, dtype=object)}, "predict_image_bytes")))
    accuracy = float(np.mean(out["classes"] == mnist.y_test[:100]))
    print(f"56x56 RGB JPEG requests: accuracy {accuracy:.2f} on 100 MNIST test images")
    assert accuracy > 0.9


def test_output_filter_and_versions(served):
    server, _, x, keras_logits = served
    request = predict_request({"images": x[:4]}, version=1)
    request.output_filter.append("classes")
    out = outputs_of(server.predict(request))
    assert list(out) == ["classes"]
    assert_same_classes(out["classes"], keras_logits[:4])
    with pytest.raises(ServingError, match=r"Servable not found.*Specific\(lenet_mnist_lad, 7\)"):
        server.predict(predict_request({"images": x[:4]}, version=7))


def test_model_card_and_metadata(served):
    server, _, _, _ = served
    out = outputs_of(server.predict(predict_request(
        {"fields": np.array([b"*", b"serving"], dtype=object)}, "model_card")))
    card = json.loads(out["json"][0])
    assert card["dataset"]["name"] == "mnist"
    assert json.loads(out["json"][1]) == card["serving"]
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = NAME
    request.metadata_field.append("signature_def")
    response = server.get_model_metadata(request)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signature_map)
    defs = signature_map.signature_def
    assert {"serving_default", "predict_image_bytes", "model_card"} <= set(defs)
    assert set(defs["serving_default"].outputs) == {"logits", "probabilities", "classes"}
    assert defs["serving_default"].inputs["images"].dtype == tf.float32.as_datatype_enum
    rest = server.rest_metadata(NAME)
    assert rest["model_spec"] == {"name": NAME, "version": "1"}
    assert "predict_image_bytes" in rest["metadata"]["signature_def"]["signature_def"]


# -- REST bodies ---------------------------------------------------------------------
def test_rest_row_and_column_bodies(served):
    server, _, x, keras_logits = served
    x = x[:16]
    proto = outputs_of(server.predict(predict_request({"images": x})))
    b64 = [{"b64": base64.b64encode(p).decode()} for p in png_bytes(x)]
    bodies = {
        "row": {"instances": x.tolist()},
        "row, named": {"signature_name": "serving_default",
                       "instances": [{"images": xi.tolist()} for xi in x]},
        "column": {"inputs": {"images": x.tolist()}},
        "column, plain": {"inputs": x.tolist()},
        "row, b64": {"signature_name": "predict_image_bytes", "instances": b64},
        "column, b64": {"signature_name": "predict_image_bytes", "inputs": {"image_bytes": b64}},
    }
    for kind, body in bodies.items():
        reply = json.loads(json.dumps(server.rest_predict(NAME, None, json.dumps(body))))
        if "predictions" in reply:
            logits = np.array([row["logits"] for row in reply["predictions"]], np.float32)
            classes = [row["classes"] for row in reply["predictions"]]
        else:
            logits = np.array(reply["outputs"]["logits"], np.float32)
            classes = reply["outputs"]["classes"]
        diff = float(np.abs(logits - keras_logits[:16]).max())
        print(f"REST {kind}: max abs logit difference vs Keras {diff}")
        assert_same_classes(classes, keras_logits[:16])
        # The same graph on the same 16 images as the proto request, and float32
        # survives JSON exactly: equal bit for bit.
        if "b64" not in kind:
            np.testing.assert_array_equal(logits, proto["logits"])


def test_rest_model_card(served):
    server, _, _, _ = served
    reply = server.rest_predict(NAME, None, json.dumps(
        {"signature_name": "model_card", "instances": ["serving"]}))
    assert json.loads(reply["predictions"][0])["max_batch"] == 1024


# -- bad requests, each in one server process that must stay up ----------------------
BAD_REQUESTS = {  # name: (expected status, message fragment)
    "wrong_rank": ("INVALID_ARGUMENT", "images must have rank 4, shape [batch, 28, 28, 1]"),
    "wrong_rank_5d": ("INVALID_ARGUMENT", "images must have rank 4"),
    "wrong_size": ("INVALID_ARGUMENT", "images must have shape [batch, 28, 28, 1]"),
    "wrong_channels": ("INVALID_ARGUMENT", "images must have shape [batch, 28, 28, 1]"),
    "nan": ("INVALID_ARGUMENT", "images contain NaN or infinite values"),
    "infinity": ("INVALID_ARGUMENT", "images contain NaN or infinite values"),
    "empty_batch": ("INVALID_ARGUMENT", "images must hold between 1 and 1024 items"),
    "batch_over_maximum": ("INVALID_ARGUMENT", "images must hold between 1 and 1024 items"),
    "wrong_dtype": ("INVALID_ARGUMENT", "to be float but double is provided"),
    "unknown_input_name": ("INVALID_ARGUMENT", "Missing but required: {images}"),
    "unknown_signature": ("FAILED_PRECONDITION", 'Serving signature key "predict" not found'),
    "corrupt_image_bytes": ("INVALID_ARGUMENT", "image_bytes must hold PNG or JPEG files"),
    "truncated_png": ("INVALID_ARGUMENT", "Invalid PNG data"),
    "truncated_jpeg": ("INVALID_ARGUMENT", "Invalid JPEG data"),
    "oversized_image": ("INVALID_ARGUMENT", "at most 4096 pixels high and wide"),
    "empty_bytes_batch": ("INVALID_ARGUMENT", "image_bytes must hold between 1 and 1024 items"),
    "bytes_batch_over_maximum": ("INVALID_ARGUMENT", "image_bytes must hold between 1 and 1024"),
    "unknown_card_field": ("INVALID_ARGUMENT", "unknown model card field"),
    "rest_empty_instances": ("INVALID_ARGUMENT", "No values in 'instances' array"),
    "rest_nan_literal": ("INVALID_ARGUMENT", "images contain NaN or infinite values"),
    "rest_flat_rows": ("INVALID_ARGUMENT", "images must have rank 4"),
    "rest_ragged_rows": ("INVALID_ARGUMENT", "different shapes"),
    "rest_bad_base64": ("INVALID_ARGUMENT", "Unable to base64 decode"),
    "rest_not_json": ("INVALID_ARGUMENT", "JSON Parse error"),
}

BAD_REQUEST_SCRIPT = textwrap.dedent("""
    import base64, json, sys
    import numpy as np, tensorflow as tf
    from tensorflow_serving.apis import predict_pb2
    from lad_tf.serving.resolver import LocalModelServer, ServingError

    base, name, x_path = sys.argv[1:4]
    server = LocalModelServer(base)
    x = np.load(x_path)
    png = tf.io.encode_png(tf.cast(tf.round(x[0] * 255), tf.uint8)).numpy()
    jpeg = tf.io.encode_jpeg(tf.cast(tf.round(x[0] * 255), tf.uint8)).numpy()
    huge = tf.io.encode_png(tf.zeros([5000, 8, 1], tf.uint8)).numpy()

    def proto(inputs, signature=""):
        request = predict_pb2.PredictRequest()
        request.model_spec.name, request.model_spec.signature_name = name, signature
        for alias, value in inputs.items():
            request.inputs[alias].CopyFrom(tf.make_tensor_proto(value))
        return lambda: server.predict(request)

    def rest(body):
        return lambda: server.rest_predict(name, None, body if isinstance(body, str) else
                                           json.dumps(body))

    def strings(items):
        return {"image_bytes": np.array(items, dtype=object)}

    f32 = np.float32
    cases = {
        "wrong_rank": proto({"images": np.zeros((2, 784), f32)}),
        "wrong_rank_5d": proto({"images": np.zeros((1, 1, 28, 28, 1), f32)}),
        "wrong_size": proto({"images": np.zeros((2, 32, 32, 1), f32)}),
        "wrong_channels": proto({"images": np.zeros((2, 28, 28, 3), f32)}),
        "nan": proto({"images": np.full((2, 28, 28, 1), np.nan, f32)}),
        "infinity": proto({"images": np.full((2, 28, 28, 1), np.inf, f32)}),
        "empty_batch": proto({"images": np.zeros((0, 28, 28, 1), f32)}),
        "batch_over_maximum": proto({"images": np.zeros((1025, 28, 28, 1), f32)}),
        "wrong_dtype": proto({"images": x.astype(np.float64)}),
        "unknown_input_name": proto({"pixels": x}),
        "unknown_signature": proto({"images": x}, "predict"),
        "corrupt_image_bytes": proto(strings([png, b"this is not an image"]),
                                     "predict_image_bytes"),
        "truncated_png": proto(strings([png[:60]]), "predict_image_bytes"),
        "truncated_jpeg": proto(strings([jpeg[:len(jpeg) // 2]]), "predict_image_bytes"),
        "oversized_image": proto(strings([huge]), "predict_image_bytes"),
        "empty_bytes_batch": proto(strings([]), "predict_image_bytes"),
        "bytes_batch_over_maximum": proto(strings([png] * 1025), "predict_image_bytes"),
        "unknown_card_field": proto({"fields": np.array([b"nope"], dtype=object)}, "model_card"),
        "rest_empty_instances": rest({"instances": []}),
        "rest_nan_literal": rest('{"instances": [' + json.dumps(
            np.full((28, 28, 1), np.nan).tolist()) + ']}'),
        "rest_flat_rows": rest({"instances": x.reshape(len(x), -1).tolist()}),
        "rest_ragged_rows": rest({"instances": [x[0].tolist(), x[0, :20].tolist()]}),
        "rest_bad_base64": rest({"signature_name": "predict_image_bytes",
                                 "instances": [{"b64": "***"}]}),
        "rest_not_json": rest("{instances: "),
    }
    good = proto({"images": x})
    reference = tf.make_ndarray(good().outputs["classes"]).tolist()
    results = {}
    for case, call in cases.items():
        try:
            call()
            results[case] = {"code": "OK", "message": ""}
        except ServingError as exc:
            results[case] = {"code": exc.code, "message": exc.message}
        # The next good request is answered, and answered the same.
        answer = tf.make_ndarray(good().outputs["classes"]).tolist()
        results[case]["next_good"] = answer == reference
        print(case, results[case]["code"], flush=True)
    print(json.dumps(results))
""")


@pytest.fixture(scope="module")
def bad_request_results(served, tmp_path_factory):
    _, base, x, _ = served
    folder = tmp_path_factory.mktemp("bad")
    np.save(folder / "x.npy", x[:8])
    result = subprocess.run([sys.executable, "-c", BAD_REQUEST_SCRIPT, str(base), NAME,
                             str(folder / "x.npy")], capture_output=True, text=True, env=ENV,
                            timeout=300)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_bad_request_is_tested():
    sent = re.findall(r'^    "(\w+)": (?:proto|rest)\(', BAD_REQUEST_SCRIPT, re.M)
    assert len(sent) >= 8 and set(BAD_REQUESTS) == set(sent)


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_request_fails_clearly_and_the_server_stays_up(bad_request_results, case):
    code, fragment = BAD_REQUESTS[case]
    result = bad_request_results[case]
    assert result["code"] == code, result
    assert fragment in result["message"], result["message"]
    assert result["next_good"], "the good request after it was not answered the same"


# -- the client, against loopback REST and gRPC servers -------------------------------
@pytest.fixture(scope="module")
def servers(served, tmp_path_factory):
    server, _, x, keras_logits = served
    folder = tmp_path_factory.mktemp("images")
    files = []
    for i, data in enumerate(png_bytes(x[:3])):
        files.append(folder / f"digit{i}.png")
        files[-1].write_bytes(data)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with rest_server(server, lifetime_s=600) as url, grpc_server(server, lifetime_s=600) as target:
        yield url, target, files, folder, keras_logits[:3].argmax(1)


def run_client(*args):
    return subprocess.run([sys.executable, "-m", "lad_tf.client", "--model", NAME,
                           *map(str, args)], capture_output=True, text=True, env=ENV, timeout=120)


def printed_classes(stdout: str) -> list:
    return [int(m) for m in re.findall(r": class (\d+) \(probability", stdout)]


def test_client_rest_sends_image_files(servers):
    url, _, files, _, expected = servers
    result = run_client("--rest", url, "--image", *files)
    assert result.returncode == 0, result.stderr
    assert printed_classes(result.stdout) == expected.tolist()


def test_client_grpc_metadata_card_and_images(servers):
    _, target, files, _, expected = servers
    result = run_client("--grpc", target, "--metadata", "--card", "serving", "--image", *files)
    assert result.returncode == 0, result.stderr
    assert "signature predict_image_bytes (tensorflow/serving/predict)" in result.stdout
    assert "input  images: float unknown rank" in result.stdout
    assert '"input_shape": [' in result.stdout
    assert printed_classes(result.stdout) == expected.tolist()


def test_client_rest_pixels_in_column_format(servers, capsys):
    url, _, files, _, expected = servers
    assert client.main(["--rest", url, "--model", NAME, "--send", "pixels", "--format", "column",
                        "--json", "--image", *map(str, files)]) == 0
    outputs = json.loads(capsys.readouterr().out)
    assert outputs["classes"] == expected.tolist()


@pytest.mark.parametrize("how", ["rest", "grpc"])
def test_client_reports_server_errors_in_one_line(servers, capsys, how):
    url, target, _, folder, _ = servers
    where = ["--rest", url] if how == "rest" else ["--grpc", target]
    assert client.main([*where, "--model", NAME, "--image", str(folder / "broken.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: server answered"), err
    assert "Invalid PNG data" in err[0] or "PNG or JPEG" in err[0]
    assert client.main([*where, "--model", "nope", "--card"]) == 2
    assert "Servable not found" in capsys.readouterr().err


def test_client_without_a_server_says_so(tmp_path, capsys):
    assert client.main(["--rest", "http://127.0.0.1:9", "--model", NAME, "--card"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach http://127.0.0.1:9" in err[0]


# -- the deployment kit --------------------------------------------------------------
def test_models_config_serves_every_zoo_entry():
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse((REPO / "export" / "models.config").read_text(), config)
    entries = {c.name: c for c in config.model_config_list.config}
    names = {json.loads(p.read_text())["export"]["name"]
             for p in (REPO / "zoo").glob("*/recipe.json")}
    assert set(entries) == names
    for name, entry in entries.items():
        assert entry.base_path == f"/models/{name}" and entry.model_platform == "tensorflow"


def test_serving_client_does_not_pull_the_gpu_tensorflow_wheel():
    assert importlib.metadata.version("tensorflow-serving-api").startswith("2.21.")
    try:
        importlib.metadata.version("tensorflow-cpu")
    except importlib.metadata.PackageNotFoundError:
        pass  # a GPU set-up ([gpu] extra) has the full tensorflow wheel on purpose
    else:
        with pytest.raises(importlib.metadata.PackageNotFoundError):
            importlib.metadata.version("tensorflow")  # the 600 MB GPU build
    install = 'pip install --no-deps "tensorflow-serving-api>=2.21,<2.22"'
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    test_command = next(line for line in readme.splitlines()
                        if line.startswith("python3 -m venv") and "pytest" in line)
    assert install in test_command
    ci_command = next(line for line in ci.splitlines() if line.startswith("python3 -m venv"))
    assert ci_command.replace("pip install -q ", "pip install ") == test_command
