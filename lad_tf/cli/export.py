"""`python -m lad_tf.export RUN_DIR [--method NAME]`: a model of a finished run as the
next TF Serving version (`lad_tf.serving.export.export_run`)."""

from __future__ import annotations

import argparse

from lad_tf.recipe.names import ORIGINAL
from lad_tf.serving.limits import DEFAULT_MAX_BATCH, OUT_OF_RANGE_POLICIES
from lad_tf.utils.errors import LadError, command


@command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lad_tf.export",
        description="Export a model of a finished run (by default the one it chose, "
                    "hardened.keras) as a new TF Serving version (<base>/<name>/<version>/).")
    parser.add_argument("run_dir", help="a run directory written by python -m lad_tf.harden")
    parser.add_argument("--method", metavar="NAME",
                        help="export this defence of the run (methods/NAME.keras, e.g. lad, "
                             "pgd-at) or 'original' (classifier.keras); default: hardened.keras, "
                             "the model the run chose to export")
    parser.add_argument("--name", help="model name (default: the recipe's export.name; for a "
                                       "--method the run did not choose, <export.name>_NAME, "
                                       "e.g. lenet_digits_lad_demo_pgd-at, so it never becomes "
                                       "a newer version of the model the run serves)")
    parser.add_argument("--base", help="base folder (default: the recipe's export.base, "
                                       "export/models)")
    parser.add_argument("--model", choices=["hardened", ORIGINAL],
                        help="the older spelling: hardened = no --method, original = "
                             "--method original")
    parser.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH,
                        help=f"largest batch a request may hold (default {DEFAULT_MAX_BATCH})")
    parser.add_argument("--out-of-range", default="clip", choices=OUT_OF_RANGE_POLICIES,
                        help="what happens to pixel values outside [0, 1] (default: clip)")
    args = parser.parse_args(argv)
    if args.model and args.method:
        raise LadError("pass --method NAME or --model, not both (--model original is "
                       "--method original; --model hardened is no --method)")
    method = args.method or (ORIGINAL if args.model == ORIGINAL else None)
    from lad_tf.serving.export import export_run  # TensorFlow loads here

    path = export_run(args.run_dir, method, args.name, args.base, max_batch=args.max_batch,
                      out_of_range=args.out_of_range)
    print(f"exported {path}")
    return 0
