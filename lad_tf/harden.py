"""`python -m lad_tf.harden`: data -> classifier -> generator -> attention SVMs
-> boundary-guided generation -> LAD fine-tuning -> evaluation -> export.

Every stage writes its artifact into one run directory; with `--resume` a
stage whose artifact exists is loaded instead of recomputed (and every stage
after a recomputed one is recomputed too). Artifacts are written to a
temporary name and renamed when complete, so a crash never leaves a file that
a resumed run would trust.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from lad_tf.errors import LadError

STAGES = ("classifier", "generator", "svm", "generate", "harden", "evaluate", "export")

EXAMPLES = """
examples:
  python -m lad_tf.harden                      # embedded demo (scikit-learn digits), ~2 min
  LAD_DATA_DIR=../shared/data python -m lad_tf.harden --dataset mnist
  python -m lad_tf.harden --dataset mnist --data-dir ~/data --set generator.epochs=20
  python -m lad_tf.harden --dataset mnist --resume --run-dir runs/mnist-20261124-120000
  python -m lad_tf.harden --dataset mnist --method lad,fgsm-ft,pgd-at,lad+pgd
  python -m lad_tf.evaluate runs/mnist-20261124-120000 --quick
  tensorboard --logdir runs/
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lad_tf.harden",
        description="Harden a classifier with Latent Adversarial Defence (LAD), evaluate it "
                    "and export it as a TF Serving SavedModel. Stages: " + " -> ".join(STAGES),
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits",
                        help="zoo entry to run: its recipe is zoo/<dataset>/recipe.json "
                             "(default: digits, the embedded demo that needs no download)")
    parser.add_argument("--recipe", help="a recipe JSON file to use instead of the zoo's")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="override one recipe value (JSON), e.g. --set generator.epochs=2; "
                             "repeatable")
    parser.add_argument("--method", dest="methods", action="append", default=[],
                        metavar="METHOD[,METHOD...]",
                        help="defences to build and compare in this run, first one exported: "
                             "lad, fgsm-ft, pgd-ft, jsma-ft, cw-ft (Eq. 4 fine-tuning), pgd-at "
                             "(Madry), trades, fast-at (Wong et al.), lad+fast, lad+pgd (Eq. 4 "
                             "with an adversarial first term); repeatable or comma-separated "
                             "(default: the recipe's hardening.methods)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the dataset's files (default: $LAD_DATA_DIR, then "
                             "tfds / Keras caches)")
    parser.add_argument("--run-dir", default=None,
                        help="run directory (default: runs/<dataset>-<time>; with --resume: "
                             "the newest runs/<dataset>-*)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an existing run directory, reusing finished stages")
    parser.add_argument("--export-base", default=None,
                        help="TF Serving base folder (default: the recipe's export.base)")
    parser.add_argument("--stop-after", choices=STAGES, default=None,
                        help="stop after this stage (resume later with --resume)")
    parser.add_argument("--strategy", choices=["default", "mirrored", "multi-worker"],
                        default="default",
                        help="tf.distribute strategy for the training stages: one device, all "
                             "local devices (MirroredStrategy), or several processes / machines "
                             "(MultiWorkerMirroredStrategy, configured by TF_CONFIG)")
    args = parser.parse_args(argv)
    if args.methods:  # --method becomes a recipe override, so the run records it
        methods = [m.strip() for text in args.methods for m in text.split(",") if m.strip()]
        args.overrides = [*args.overrides, "hardening.methods=" + json.dumps(methods)]
    return args


def resolve_run_dir(args, dataset: str) -> Path:
    if args.run_dir:
        return Path(args.run_dir)
    runs = sorted(Path("runs").glob(f"{dataset}-*")) if args.resume else []
    if runs:
        return runs[-1]
    return Path("runs") / f"{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"


def prepare_run_dir(args) -> tuple[Path, "object"]:
    """Resolves the recipe and the run directory; refuses to overwrite a run."""
    from lad_tf.config import load_recipe, recipe_from_dict

    recipe = load_recipe(args.dataset, args.recipe, args.overrides)
    run_dir = resolve_run_dir(args, args.dataset)
    saved = run_dir / "recipe.json"
    if run_dir.exists() and any(run_dir.iterdir()):
        if not args.resume:
            raise LadError(f"run directory {run_dir} already exists; pass --resume to continue "
                           "it, or --run-dir NEW_DIR to start a new run")
        if saved.is_file():
            previous = recipe_from_dict(json.loads(saved.read_text()))
            if (args.overrides or args.recipe) and previous != recipe:
                raise LadError(f"--set/--recipe change the recipe of {run_dir}; resume without "
                               "them, or start a new run with --run-dir NEW_DIR")
            recipe = previous
    return run_dir, recipe


def main(argv=None) -> int:
    args = parse_args(argv)
    run_dir = None
    try:
        run_dir, recipe = prepare_run_dir(args)
        from lad_tf.pipeline import Pipeline  # heavy imports after the argument checks

        Pipeline(run_dir, recipe, data_dir=args.data_dir, export_base=args.export_base,
                 resume=args.resume, strategy=args.strategy).run(stop_after=args.stop_after)
        return 0
    except LadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        where = f" --run-dir {run_dir}" if run_dir else ""
        print(f"\ninterrupted; finished stages are kept: continue with --resume{where}",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
