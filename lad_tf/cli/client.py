"""`python -m lad_tf.client --rest URL | --grpc HOST:PORT --model NAME ...`: real REST or
gRPC requests to a running TF Serving server (`lad_tf.serving.client`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from lad_tf.serving.client import connect, load_images, model_card
from lad_tf.utils.errors import command


def _describe(signature_defs: dict) -> str:
    def tensor(info):
        shape = info.get("tensor_shape", {})
        dims = "unknown rank" if shape.get("unknown_rank") else \
            "[" + ", ".join(d.get("size", "0") for d in shape.get("dim", [])) + "]"
        return f"{info.get('dtype', '?')[3:].lower()} {dims}"

    lines = []
    for key in sorted(k for k in signature_defs if not k.startswith("__")):  # skip the init op
        sig = signature_defs[key]
        lines.append(f"signature {key} ({sig.get('method_name', '')})")
        lines += [f"  input  {k}: {tensor(v)}" for k, v in sorted(sig.get("inputs", {}).items())]
        lines += [f"  output {k}: {tensor(v)}" for k, v in sorted(sig.get("outputs", {}).items())]
    return "\n".join(lines)


@command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lad_tf.client",
        description="Send real REST or gRPC requests to a TensorFlow Serving server.")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--rest", metavar="URL", help="REST base URL, e.g. http://localhost:8501")
    where.add_argument("--grpc", metavar="HOST:PORT", help="gRPC target, e.g. localhost:8500")
    parser.add_argument("--model", required=True, help="model name (models.config's name)")
    parser.add_argument("--version", type=int, help="model version (default: the newest served)")
    parser.add_argument("--image", nargs="+", type=Path, default=[], metavar="FILE",
                        help="PNG / JPEG files to classify (.npy arrays with --send pixels)")
    parser.add_argument("--send", choices=["bytes", "pixels"], default="bytes",
                        help="send encoded files (default) or decoded float pixels")
    parser.add_argument("--format", choices=["row", "column"], default="row",
                        help="REST body format: row ('instances') or column ('inputs')")
    parser.add_argument("--metadata", action="store_true",
                        help="print the model's signatures (GetModelMetadata)")
    parser.add_argument("--card", nargs="*", metavar="FIELD",
                        help="print the model card, or the named fields")
    parser.add_argument("--json", action="store_true", help="print predictions as JSON")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = parser.parse_args(argv)
    if not (args.image or args.metadata or args.card is not None):
        parser.error("nothing to do: pass --image FILE..., --metadata or --card")
    client = connect(args.rest, args.grpc, model=args.model, version=args.version,
                     timeout=args.timeout, fmt=args.format)
    if args.metadata:
        print(_describe(client.signatures()))
    if args.card is not None:
        fields = args.card or ["*"]
        values = model_card(client, fields)
        print(json.dumps(values[0] if len(values) == 1 else dict(zip(fields, values)),
                         indent=2, sort_keys=True))
    if args.image:
        signature, inputs = load_images(args.image, args.send, client)
        outputs = client.predict(signature, inputs)
        if args.json:
            print(json.dumps({k: v.tolist() for k, v in outputs.items()}))
        else:
            names = [str(p) for p in args.image]
            if len(names) != len(outputs["classes"]):  # .npy files with several images
                names = [f"image {i}" for i in range(len(outputs["classes"]))]
            for name, cls, probs in zip(names, outputs["classes"], outputs["probabilities"]):
                print(f"{name}: class {int(cls)} (probability {float(np.max(probs)):.4f})")
    return 0
