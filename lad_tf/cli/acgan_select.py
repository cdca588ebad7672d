"""`python -m lad_tf.acgan_select ACGAN_RUN --classifier FILE`: the AC-GAN checkpoint whose
samples a classifier reads best (`lad_tf.studies.ga.acgan_select`)."""

from __future__ import annotations

import argparse
import time

from lad_tf.utils.errors import LadError, command


@command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lad_tf.acgan_select",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", help="the AC-GAN's run directory (python -m lad_tf.acgan)")
    parser.add_argument("--classifier", required=True, help="the classifier .keras that reads")
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1000, help="z seed of the scored samples")
    parser.add_argument("--average", type=int, default=1,
                        help="also score the mean weights of 2..K consecutive checkpoints")
    args = parser.parse_args(argv)
    if args.per_class < 1:
        raise LadError(f"--per-class must be >= 1; got {args.per_class}")
    from lad_tf.studies.ga.acgan_select import select_checkpoint  # TensorFlow loads here

    start = time.perf_counter()
    select_checkpoint(args.run_dir, args.classifier, args.per_class, args.seed,
                      average=args.average)
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0
