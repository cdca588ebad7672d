"""The local server from the README's install (`pip install -e ".[cpu]"`, no
tensorflow-serving-api): REST answers, gRPC is off with one line that says
how to turn it on, and asking for gRPC is one `error:` line."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request

import numpy as np
import pytest
from _cli import assert_clean_error, run_main

from lad_tf.cli.serve import main as serve_main
from lad_tf.models import build_classifier
from lad_tf.serving.export import export_model
from lad_tf.serving.limits import INSTALL_HINT
from lad_tf.serving.resolver import LocalModelServer

NAME = "lenet"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
# Runs the module as `python -m` does, with tensorflow-serving-api unimportable.
WITHOUT_SERVING_API = textwrap.dedent("""
    import runpy, sys
    sys.modules["tensorflow_serving"] = None  # `import tensorflow_serving...` raises ImportError
    sys.argv = ["local_servers", *sys.argv[1:]]
    runpy.run_module("lad_tf.serve", run_name="__main__", alter_sys=True)
""")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(base folder with one exported LeNet, the model, images float32 [3, 28, 28, 1])."""
    base = tmp_path_factory.mktemp("models")
    model = build_classifier("lenet")
    export_model(model, base, NAME)
    return base, model, np.random.default_rng(0).uniform(0, 1, (3, 28, 28, 1)).astype("float32")


def _lines(process) -> queue.Queue:
    """The process's stdout lines, read by a daemon thread (None at the end)."""
    lines: queue.Queue = queue.Queue()

    def read():
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _until_serving(lines: queue.Queue, deadline: float) -> list[str]:
    """Stdout lines up to and including the `serving ...` line (at most until `deadline`)."""
    seen = []
    while time.monotonic() < deadline:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if line is None:
            break
        seen.append(line)
        if line.startswith("serving "):
            return seen
    raise AssertionError(f"no 'serving' line before the deadline or the end: {seen}")


def test_without_the_serving_api_rest_answers_and_grpc_is_off_in_one_line(exported):
    base, model, x = exported
    process = subprocess.Popen(
        [sys.executable, "-c", WITHOUT_SERVING_API, "--base", str(base), "--rest-port", "0",
         "--seconds", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        seen = _until_serving(_lines(process), time.monotonic() + 180)
        assert seen[:-1] == [f"gRPC server off: tensorflow-serving-api is not installed "
                             f"({INSTALL_HINT} turns it on); serving REST only"], seen
        url = seen[-1].split("REST ")[1].split(";")[0]
        assert url.startswith("http://127.0.0.1:") and "gRPC" not in seen[-1]
        request = urllib.request.Request(
            f"{url}/v1/models/{NAME}:predict", data=json.dumps({"instances": x.tolist()}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as reply:
            predictions = json.loads(reply.read())["predictions"]
        logits = np.array([row["logits"] for row in predictions], np.float32)
        np.testing.assert_allclose(logits, np.asarray(model(x)), atol=1e-5)  # same graph
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()


def test_without_the_serving_api_an_explicit_grpc_port_is_an_error(exported, tmp_path, capfd,
                                                                  monkeypatch):
    base, _, _ = exported
    for name in [m for m in sys.modules if m.split(".")[0] == "tensorflow_serving"]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "tensorflow_serving", None)
    result = run_main(serve_main, "--base", base, "--grpc-port", 8500, "--seconds", 1,
                      cwd=tmp_path, capfd=capfd)
    assert_clean_error(result, "--grpc-port 8500", "tensorflow-serving-api", INSTALL_HINT)
    assert result.stdout == ""  # nothing served


def test_rest_metadata_is_the_proto_reply_in_json(exported):
    """The REST metadata, built without tensorflow-serving-api, equals the
    GetModelMetadataResponse the gRPC side builds, in proto JSON."""
    pytest.importorskip("tensorflow_serving")
    from google.protobuf import json_format
    from tensorflow_serving.apis import get_model_metadata_pb2

    base, _, _ = exported
    server = LocalModelServer(base)
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = NAME
    request.metadata_field.append("signature_def")
    proto = json_format.MessageToDict(server.get_model_metadata(request),
                                      preserving_proto_field_name=True)
    assert server.rest_metadata(NAME) == proto
    assert {"serving_default", "predict_image_bytes", "model_card"} <= set(
        proto["metadata"]["signature_def"]["signature_def"])
