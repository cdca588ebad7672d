"""`python -m lad_tf.evaluate RUN_DIR [--quick] [--data-dir D] [--set evaluation.K=V]
[--method A,B]`: the robustness report of a finished (or resumed) run
(`lad_tf.evaluation.evaluate_run`)."""

from __future__ import annotations

import argparse
import sys

from lad_tf.utils.errors import command


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m lad_tf.evaluate",
        description="Robustness report of a LAD run: clean, white-box (cleverhans FGSM / PGD / "
                    "BIM / MIM, ART JSMA / C&W / APGD / Square), the robust suite (APGD-CE, "
                    "APGD-T, Square, PGD-100 x 5 restarts; worst case per image; masking "
                    "checks), transfer from a black-box CNN, LAD examples, diversity. Writes "
                    "RUN_DIR/evaluation.json and RUN_DIR/robustness.md.")
    parser.add_argument("run_dir", help="a run directory of `python -m lad_tf.harden`")
    parser.add_argument("--quick", action="store_true",
                        help="a few images per attack (evaluation-quick.json, robustness-quick.md)")
    parser.add_argument("--data-dir", default=None,
                        help="dataset folder (default: $LAD_DATA_DIR, then tfds / Keras caches)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="evaluation.KEY=VALUE",
                        help="override an evaluation setting, e.g. --set evaluation.cw_per_class=5")
    parser.add_argument("--method", default=None, metavar="NAME[,NAME...]",
                        help="evaluate the original and only these of the run's methods "
                             "(default: every trained method); results of the others stay "
                             "cached but out of this report")
    return parser.parse_args(argv)


@command
def main(argv=None) -> int:
    """The command: 0 on success, the error's exit code (2) on a LadError, 130 on Ctrl-C."""
    args = parse_args(argv)
    try:
        from lad_tf.evaluation.evaluate_run import evaluate_run_dir  # TensorFlow loads here

        evaluate_run_dir(args.run_dir, args.quick, args.data_dir, args.overrides, args.method)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; finished results are cached: run the same command again to "
              "continue", file=sys.stderr)
        return 130
