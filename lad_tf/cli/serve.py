"""`python -m lad_tf.serve --base export/models`: serves an export base folder on loopback
with TF Serving's REST (and gRPC) APIs (`lad_tf.serving.local_servers`)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from lad_tf.serving.limits import INSTALL_HINT
from lad_tf.utils.errors import LadError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lad_tf.serve",
        description="Serve an export base folder on loopback with TF Serving's REST and gRPC "
                    "APIs (a stand-in for tests and trials, not for production).")
    parser.add_argument("--base", default="export/models", help="model base folder")
    parser.add_argument("--rest-port", type=int, default=8501)
    parser.add_argument("--grpc-port", type=int,
                        help="default 8500; gRPC needs tensorflow-serving-api "
                             f"({INSTALL_HINT}): without it only REST is served, unless "
                             "--grpc-port is given (then it is an error)")
    parser.add_argument("--seconds", type=float, default=600.0, help="stop after this long")
    args = parser.parse_args(argv)
    from lad_tf.serving.local_servers import (
        LocalModelServer,
        _grpc_off,
        grpc_server,
        rest_server,  # TensorFlow loads here
    )

    try:
        grpc_off = _grpc_off(args.grpc_port)
        try:
            model_server = LocalModelServer(args.base)
        except OSError as exc:
            raise LadError(f"cannot read models under {args.base}: {exc}") from None
        if not model_server.models:
            raise LadError(f"no models under {args.base}; export one with python -m "
                           "lad_tf.export RUN_DIR")
        with contextlib.ExitStack() as servers:
            url = servers.enter_context(rest_server(model_server, port=args.rest_port,
                                                    lifetime_s=args.seconds))
            grpc = "" if grpc_off else ", gRPC " + servers.enter_context(grpc_server(
                model_server, port=8500 if args.grpc_port is None else args.grpc_port,
                lifetime_s=args.seconds))
            print(f"serving {sorted(model_server.models)}: REST {url}{grpc}; "
                  f"stops after {args.seconds:.0f} s (Ctrl-C stops now)", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                time.sleep(args.seconds)
        return 0
    except (LadError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
