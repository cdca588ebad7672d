"""`python -m lad_tf.study RUN_DIR`: LAD's own knobs swept on a finished run, judged on
its validation split (`lad_tf.studies.lad_knobs`)."""

from __future__ import annotations

import argparse

from lad_tf.utils.errors import command


@command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lad_tf.study", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--variant", action="append", default=None,
                        help="run only these variants (default: all; listed in lad_tf.studies.lad_knobs)")
    args = parser.parse_args(argv)
    from lad_tf.studies.lad_knobs import run_study  # TensorFlow loads here

    result = run_study(args.run_dir, args.variant)
    for row in result["variants"]:
        v = row["validation"]
        print(f"{row['variant']:28s} clean {v['clean']:.4f}  FGSM {v['fgsm']:.4f}  PGD-20 {v['pgd20']:.4f}")
    return 0
