"""`python -m lad_tf.harden`: data -> classifier -> generator -> attention SVMs
-> boundary-guided generation -> hardening (the defences) -> evaluation -> export.

The classifier is the recipe's zoo model, trained here, or your own Keras
model (`--model PATH.keras --latent-layer NAME`, see lad_tf.models.own_model), used
as it is. The data is the recipe's dataset, or your own images (`--data
PATH`: an image folder or an .npz, see lad_tf.data.own_data). The command is
a thin layer over `lad_tf.harden_model` (lad_tf.api).

Every stage (lad_tf.pipeline.stages, wired by lad_tf.pipeline.runner.STAGE_TABLE) writes its
artifact into one run directory; with `--resume` a stage whose artifact
exists is loaded instead of recomputed, and every stage after a recomputed
one is recomputed too (its old files, the per-method ones included, are
deleted first). Artifacts are written to a
temporary name and renamed when complete, so a crash never leaves a file that
a resumed run would trust.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from lad_tf.api import harden_model, resolve_run_dir
from lad_tf.recipe.names import STAGES
from lad_tf.runs.run_dir import record_command
from lad_tf.utils.errors import command

EXAMPLES = """
examples:
  python -m lad_tf.harden                      # embedded demo (scikit-learn digits), ~2 min
  LAD_DATA_DIR=../shared/data python -m lad_tf.harden --dataset mnist
  python -m lad_tf.harden --dataset mnist --data-dir ~/data --set generator.epochs=20
  python -m lad_tf.harden --dataset mnist --resume --run-dir runs/mnist-20261124-120000
  python -m lad_tf.harden --dataset mnist --method lad,fgsm-ft,pgd-at,lad+pgd
  python -m lad_tf.harden --dataset mnist --from-run runs/mnist-20261124-120000 \
      --run-dir runs/mnist-long --set pgd_at.epochs=20   # retrains PGD-AT only
  python -m lad_tf.harden --model my_cnn.keras --latent-layer fc1 --dataset digits
  python -m lad_tf.harden --data my_images/ --dataset digits   # your images, digits budgets
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
                             "(default: digits, the embedded demo that needs no download); "
                             "with --model, the data and budgets your model is hardened with; "
                             "with --data, only the recipe (budgets, models)")
    parser.add_argument("--model", default=None, metavar="PATH.keras",
                        help="harden your own Keras 3 Functional or Sequential classifier "
                             "(float32 images in [0, 1] -> logits or softmax / sigmoid "
                             "probabilities) instead of training the recipe's; it must take the "
                             "dataset's images and have one output per class")
    parser.add_argument("--latent-layer", default=None, metavar="NAME",
                        help="with --model: the layer whose output is the latent z; the model "
                             "is cut there into phi (input -> z) and f_p (the rest); a conv "
                             "layer's output is flattened")
    parser.add_argument("--data", default=None, metavar="PATH",
                        help="your own images instead of the dataset's: a folder with one "
                             "sub-folder of PNG / JPEG images per class (classes: the folder "
                             "names, sorted; the training split streams from disk) or an .npz "
                             "with x / y (or x_train / y_train / x_test / y_test); images are "
                             "resized and converted to what the model takes")
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
    parser.add_argument("--export-method", default=None, metavar="NAME",
                        help="export this model instead of the one the run chooses: a "
                             "defence of the run or 'original' (default: chosen on the "
                             "validation split, see export.method in the README); a model "
                             "weaker than the original on validation is exported with a "
                             "warning")
    parser.add_argument("--allow-weak-model", action="store_true",
                        help="go on when your model reads the validation split at no better "
                             "than twice chance (by default the run stops before training)")
    _add_run_arguments(parser)
    args = parser.parse_args(argv)
    if args.methods:  # --method becomes a recipe override, so the run records it
        methods = [m.strip() for text in args.methods for m in text.split(",") if m.strip()]
        args.overrides = [*args.overrides, "hardening.methods=" + json.dumps(methods)]
    if args.export_method:  # a recipe value too, so the run records it
        args.overrides = [*args.overrides, "export.method=" + json.dumps(args.export_method)]
    return args


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the run lives and how it proceeds: --run-dir, --resume, --from-run,
    --export-base, --stop-after, --strategy."""
    parser.add_argument("--run-dir", default=None,
                        help="run directory (default: runs/<dataset>-<time>; with --resume: "
                             "the newest runs/<dataset>-*)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an existing run directory, reusing finished stages")
    parser.add_argument("--from-run", default=None, metavar="OLD_RUN_DIR",
                        help="start this new run from an earlier run (of the zoo, or of the "
                             "same --model file and latent layer and the same --data): its "
                             "stages and defences whose recipe values are unchanged are copied, "
                             "the rest is trained (e.g. a longer pgd_at budget without training "
                             "the generator again); recorded in from_run.json")
    parser.add_argument("--export-base", default=None,
                        help="TF Serving base folder (default: the recipe's export.base)")
    parser.add_argument("--stop-after", choices=STAGES, default=None,
                        help="stop after this stage (resume later with --resume)")
    parser.add_argument("--strategy", choices=["default", "mirrored", "multi-worker"],
                        default="default",
                        help="tf.distribute strategy for the training stages: one device, all "
                             "local devices (MirroredStrategy), or several processes / machines "
                             "(MultiWorkerMirroredStrategy, configured by TF_CONFIG)")


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    run_dir = resolve_run_dir(args.run_dir, args.dataset, args.resume)
    try:
        harden_model(args.model, args.dataset, latent_layer=args.latent_layer, data=args.data,
                     recipe=args.recipe, overrides=args.overrides, run_dir=run_dir,
                     data_dir=args.data_dir, export_base=args.export_base, resume=args.resume,
                     stop_after=args.stop_after, strategy=args.strategy,
                     from_run=args.from_run, allow_weak_model=args.allow_weak_model)
        # what made the run, for its leaderboard rows and cards (RunDir.made_by)
        record_command(run_dir, "python -m lad_tf.harden "
                       + shlex.join(sys.argv[1:] if argv is None else argv))
        return 0
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished stages are kept: continue with --resume --run-dir "
              f"{run_dir}",
              file=sys.stderr)
        return 130
