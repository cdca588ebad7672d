"""`python -m lad_tf.evaluate RUN_DIR [--quick] [--data-dir D] [--set evaluation.K=V]
[--method A,B] [--threats T,U]`: the robustness report of a finished (or
resumed) run (`lad_tf.evaluation.evaluate_run`). The run, the overrides and
the threats are checked before TensorFlow is imported."""

from __future__ import annotations

import argparse
import json
import sys

from lad_tf.recipe.names import THREAT_NAMES
from lad_tf.utils.errors import LadError, command


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
    parser.add_argument("--threats", default=None, metavar="NAME[,NAME...]",
                        help="threats to judge every model under (default: the recipe's "
                             "evaluation.threats): linf (the robust suite), l2 (APGD-CE, "
                             "APGD-T, Square, PGD-100 x restarts under L2 at "
                             "evaluation.l2_eps), spatial (the worst case over "
                             "evaluation.spatial's grid of rotations and shifts), corruptions "
                             "(MNIST-C's 15, evaluation.corruptions), ga (GA against each "
                             "model, where an AC-GAN exists), union (per image, correct under "
                             "every per-image threat named); each cached on its own")
    return parser.parse_args(argv)


def threat_override(threats: str | None) -> list[str]:
    """--threats as an `evaluation.threats=[...]` override ([] when not given).

    Raises:
        LadError: an empty list or an unknown name.
    """
    if threats is None:
        return []
    names = [t.strip() for t in threats.split(",") if t.strip()]
    unknown = [t for t in names if t not in THREAT_NAMES]
    if unknown or not names:
        raise LadError(f"--threats names {unknown or 'nothing'}; choose among "
                       f"{', '.join(THREAT_NAMES)}, comma-separated")
    return [f"evaluation.threats={json.dumps(names)}"]


def check_before_tensorflow(run_dir: str, overrides: list[str]) -> None:
    """The run's recipe with `overrides` (evaluation settings only), checked
    without importing TensorFlow: a bad value ends the command in a second."""
    from lad_tf.runs.run_dir import RunDir

    bad = [o for o in overrides if not o.startswith("evaluation.")]
    if bad:
        raise LadError(f"--set may only change evaluation settings here. Received: {bad}")
    RunDir(run_dir).recipe(overrides)


@command
def main(argv=None) -> int:
    """The command: 0 on success, the error's exit code (2) on a LadError, 130 on Ctrl-C."""
    args = parse_args(argv)
    overrides = [*args.overrides, *threat_override(args.threats)]
    check_before_tensorflow(args.run_dir, overrides)
    try:
        from lad_tf.evaluation.evaluate_run import evaluate_run_dir  # TensorFlow loads here

        evaluate_run_dir(args.run_dir, args.quick, args.data_dir, overrides, args.method)
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; finished results are cached: run the same command again to "
              "continue", file=sys.stderr)
        return 130
