"""`python -m lad_tf.ga_study RUN_DIR --acgan FILE`: GA, the paper's latent-space baseline,
measured on a run (`lad_tf.studies.ga.study`)."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from lad_tf.studies.ga.study import PARTS, GASettings
from lad_tf.utils.errors import LadError, command


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m lad_tf.ga_study",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", help="an evaluated run of python -m lad_tf.harden")
    parser.add_argument("--acgan", required=True,
                        help="the AC-GAN's .keras file (python -m lad_tf.acgan RUN/acgan)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated parts to run (default all: {','.join(PARTS)})")
    parser.add_argument("--method", default=None,
                        help="comma-separated defended models (default: all in methods/)")
    parser.add_argument("--model", action="append", default=[], metavar="LABEL=PATH",
                        help="another model to read and attack (repeatable), e.g. a defence "
                             "of another run on the same data split")
    parser.add_argument("--data-dir", default=None, help="dataset folder (default $LAD_DATA_DIR)")
    for field in dataclasses.fields(GASettings):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=int, default=field.default)
    return parser.parse_args(argv)


@command
def main(argv=None) -> int:
    args = _parse(argv)
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(GASettings)}
    bad = {k: v for k, v in values.items() if v < (0 if k in ("seed", "steps") else 1)}
    if bad:
        raise LadError(f"GA study settings must be >= 1 (steps and seed >= 0); got {bad}")
    methods = [m for m in args.method.split(",") if m] if args.method else None
    extra = {}
    for item in args.model:
        label, _, path = item.partition("=")
        if not label or not path or not Path(path).is_file():
            raise LadError(f"--model takes LABEL=PATH of a .keras file; got {item!r}")
        extra[label] = Path(path)
    from lad_tf.studies.ga.study import run_study  # TensorFlow loads here

    start = time.perf_counter()
    run_study(args.run_dir, args.acgan, GASettings(**values),
              [p for p in args.parts.split(",") if p], methods, args.data_dir, extra=extra)
    print(f"GA study written to {Path(args.run_dir) / 'ga' / 'report.md'} "
          f"({time.perf_counter() - start:.0f} s)")
    return 0
