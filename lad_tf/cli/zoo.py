"""`python -m lad_tf.zoo`: the zoo's shipped models.

    python -m lad_tf.zoo list [DATASET]                 the leaderboard(s)
    python -m lad_tf.zoo serve DATASET NAME [--seconds N] [--rest-port P]
                                                        TF Serving's REST API on loopback
    python -m lad_tf.zoo benchmark MODEL.keras --dataset mnist
                                                        your model, the zoo's protocol

Unknown datasets or names are one `error:` line listing what is there (exit 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lad_tf import zoo
from lad_tf.cli.serve import main as serve_main
from lad_tf.utils.errors import LadError, command


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lad_tf.zoo",
                                     description="The zoo's hardened models: list them, serve "
                                                 "one, or judge your own model as they were.")
    sub = parser.add_subparsers(dest="verb", required=True)
    show = sub.add_parser("list", help="print the leaderboard of one dataset (default: all)")
    show.add_argument("dataset", nargs="?")
    serve = sub.add_parser("serve", help="serve a shipped SavedModel with TF Serving's REST "
                                         "API on loopback (python -m lad_tf.client talks to it)")
    serve.add_argument("dataset")
    serve.add_argument("name")
    serve.add_argument("--rest-port", type=int, default=8501)
    serve.add_argument("--grpc-port", type=int, default=None,
                       help="default 8500 when tensorflow-serving-api is installed, else REST only")
    serve.add_argument("--seconds", type=float, default=600.0, help="stop after this long")
    bench = sub.add_parser("benchmark", help="your Keras model under the zoo's protocol: "
                                             "clean accuracy and the card's robust suite")
    bench.add_argument("model", help="a .keras file: float32 images in [0, 1] -> logits "
                                     "(probabilities are read through log)")
    bench.add_argument("--dataset", default="mnist")
    bench.add_argument("--data-dir", default=None, help="default: $LAD_DATA_DIR")
    bench.add_argument("--cache-dir", default=None,
                       help="where attack results are cached (default runs/zoo-benchmark/<model>)")
    bench.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="evaluation.KEY=VALUE",
                       help="a shorter suite, for a trial (the row then says so)")
    bench.add_argument("--out", default=None, metavar="FILE.json",
                       help="also write the row as JSON (the leaderboard's fields)")
    return parser.parse_args(argv)


def list_models(dataset: str | None) -> None:
    for name in [dataset] if dataset else zoo.datasets():
        rows = zoo.leaderboard(name)
        print(f"{name}: {len(rows)} model(s), worst case per image over the card's suite")
        for row in rows:
            print("  " + zoo.row_line(row))


def serve(dataset: str, name: str, rest_port: int, grpc_port, seconds: float) -> int:
    path = zoo.saved_model_path(dataset, name)
    print(f"serving zoo model {name} of {dataset} ({path}) as model {name!r}", flush=True)
    grpc = [] if grpc_port is None else ["--grpc-port", str(grpc_port)]
    return serve_main(["--base", str(path.parent.parent), "--rest-port", str(rest_port),
                       "--seconds", str(seconds), *grpc])


def benchmark(args) -> int:
    from lad_tf.zoo.benchmark import benchmark_model  # lazy: TensorFlow

    row = benchmark_model(Path(args.model), args.dataset, args.data_dir, args.overrides,
                          args.cache_dir)
    if args.out:
        from lad_tf.utils.files import write_json

        write_json(Path(args.out), row)
    print(zoo.row_line(row))
    print(f"reproduce: {row['command']}")
    return 0


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.verb == "list":
        list_models(args.dataset)
        return 0
    if args.verb == "serve":
        return serve(args.dataset, args.name, args.rest_port, args.grpc_port, args.seconds)
    if not Path(args.model).is_file():
        raise LadError(f"{args.model} not found; pass a .keras file")
    if args.out and not Path(args.out).resolve().parent.is_dir():
        raise LadError(f"--out {args.out}: its folder does not exist; create it or write "
                       "the row elsewhere")
    return benchmark(args)
