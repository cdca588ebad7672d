"""Loopback REST and gRPC servers around a `LocalModelServer`.

They speak TensorFlow Serving's wire protocols (REST on /v1/models/...,
gRPC `tensorflow.serving.PredictionService`), so `python -m lad_tf.client`
and any other TF Serving client can be tried without Docker:

    python -m lad_tf.serve --base export/models --seconds 600

They bind to loopback addresses only and stop by themselves after
`lifetime_s` seconds. A stand-in for tests and local trials, not a
production server.

REST needs only TensorFlow. gRPC also needs `tensorflow-serving-api`, which
`pip install -e ".[cpu]"` does not install (it depends on the 600 MB GPU
`tensorflow` wheel); without it the command says in one line that the gRPC
server is off and how to install the package, and serves REST; with an
explicit `--grpc-port` it stops with an `error:` line instead.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lad_tf.serving.limits import INSTALL_HINT
from lad_tf.serving.resolver import LocalModelServer, ServingError
from lad_tf.utils.errors import LadError

LOOPBACK = ("127.0.0.1", "::1", "localhost")
MAX_BODY_BYTES = 64 * 2 ** 20
_ROUTE = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
                    r"(?P<action>:predict|/metadata)?$")


def grpc_modules():
    """`grpc` and tensorflow-serving-api's `prediction_service_pb2_grpc` (imported
    here, not with the module: REST runs without them); ImportError saying how
    to install the package when it is missing."""
    try:
        import grpc  # lazy: gRPC only
        from tensorflow_serving.apis import prediction_service_pb2_grpc  # lazy: optional
    except ImportError as exc:
        raise ImportError(f"the gRPC server needs tensorflow-serving-api: {INSTALL_HINT}") from exc
    return grpc, prediction_service_pb2_grpc


def _check_loopback(host: str) -> None:
    if host not in LOOPBACK:
        raise ValueError(f"The local servers bind to loopback addresses only {LOOPBACK}. "
                         f"Received: host={host!r}")


def _rest_handler(model_server: LocalModelServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet: tests read the replies, not a log
            pass

        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str):
            match = _ROUTE.match(self.path)
            if not match or match["action"] != (":predict" if method == "POST" else "/metadata"):
                self._reply(404, {"error": f"Malformed request: {method} {self.path}"})
                return None
            version = int(match["version"]) if match["version"] else None
            return match["name"], version

        def do_GET(self):  # noqa: N802  (http.server's naming)
            route = self._route("GET")
            if route:
                try:
                    self._reply(200, model_server.rest_metadata(*route))
                except ServingError as exc:
                    self._reply(exc.http_status, {"error": exc.message})

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._reply(413, {"error": f"request body of {length} bytes is larger than "
                                           f"{MAX_BODY_BYTES}"})
                self.close_connection = True
                return
            body = self.rfile.read(length)
            route = self._route("POST")
            if route:
                try:
                    self._reply(200, model_server.rest_predict(*route, body))
                except ServingError as exc:
                    self._reply(exc.http_status, {"error": exc.message})

    return Handler


@contextlib.contextmanager
def rest_server(model_server: LocalModelServer, host: str = "127.0.0.1", port: int = 0,
                lifetime_s: float = 300.0):
    """Serves TF Serving's REST API on http://host:port until the block ends.

    Yields:
        The base URL, e.g. "http://127.0.0.1:8501" (port 0 picks a free one).
    """
    _check_loopback(host)
    httpd = ThreadingHTTPServer((host, port), _rest_handler(model_server))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    timer = threading.Timer(lifetime_s, httpd.shutdown)
    timer.daemon = True
    thread.start()
    timer.start()
    try:
        yield f"http://{host}:{httpd.server_address[1]}"
    finally:
        timer.cancel()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def grpc_server(model_server: LocalModelServer, host: str = "127.0.0.1", port: int = 0,
                lifetime_s: float = 300.0):
    """Serves `tensorflow.serving.PredictionService` on host:port until the block ends.

    Yields:
        The target, e.g. "127.0.0.1:8500" (port 0 picks a free one).
    """
    _check_loopback(host)
    grpc, prediction_service_pb2_grpc = grpc_modules()

    class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):  # noqa: N802  (gRPC's naming)
            try:
                return model_server.predict(request)
            except ServingError as exc:
                context.abort(getattr(grpc.StatusCode, exc.code, grpc.StatusCode.UNKNOWN),
                              exc.message)

        def GetModelMetadata(self, request, context):  # noqa: N802
            try:
                return model_server.get_model_metadata(request)
            except ServingError as exc:
                context.abort(getattr(grpc.StatusCode, exc.code, grpc.StatusCode.UNKNOWN),
                              exc.message)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=[
        ("grpc.max_receive_message_length", MAX_BODY_BYTES)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    server.start()
    timer = threading.Timer(lifetime_s, server.stop, args=(0,))
    timer.daemon = True
    timer.start()
    try:
        yield f"{host}:{bound}"
    finally:
        timer.cancel()
        server.stop(grace=None).wait(5)


def _grpc_off(grpc_port) -> bool:
    """True, after one line saying so, when tensorflow-serving-api is missing;
    LadError when gRPC was asked for (`--grpc-port`)."""
    try:
        grpc_modules()
        return False
    except ImportError:
        if grpc_port is not None:
            raise LadError(f"--grpc-port {grpc_port}: the gRPC server needs "
                           f"tensorflow-serving-api, which is not installed: {INSTALL_HINT} "
                           "(or drop --grpc-port to serve REST only)") from None
    print(f"gRPC server off: tensorflow-serving-api is not installed ({INSTALL_HINT} "
          "turns it on); serving REST only", flush=True)
    return True
