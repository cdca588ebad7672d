"""`python -m benchmarks.celeba_eps_probe`: at which L-inf eps can CelebANet
be adversarially trained here? Validation split only.

Issue 24 asks for a CelebANet hardened with PGD-AT. On the 10,000 shared
faces at 32x32 PGD-AT at 8/255 collapsed to the constant classifier
(zoo/celeba/MODEL_CARD.md). This probe trains one defence (`--method`
pgd-at or trades, `lad_tf.defences`) on the celeba recipe's training split
for a few epochs, from scratch or from a saved classifier (`--init`), and
scores every epoch with `RobustSelection` on 100 validation faces per class
(clean, PGD-20 at the same eps): the numbers that chose the eps and the
settings of the zoo's CelebA models. No test image is read.

Writes OUT (default runs/celeba-eps-probe/<method>-<eps>.json): the
arguments, each epoch's validation scores, the seconds and the machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from benchmarks.fast_robust import machine

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.celeba_eps_probe",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--eps", type=float, default=8.0, help="L-inf eps in 1/255 (default 8)")
    parser.add_argument("--method", choices=("pgd-at", "trades"), default="pgd-at")
    parser.add_argument("--init", default="scratch",
                        help="scratch (a fresh BatchNorm CelebANet) or a .keras classifier")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--ramp-epochs", type=float, default=2.0, help="eps ramp (epochs)")
    parser.add_argument("--learning-rate", type=float, default=5e-4, help="Adam, cosine decay")
    parser.add_argument("--steps", type=int, default=5, help="PGD steps (step 2.5 eps / steps)")
    parser.add_argument("--no-batch-norm", action="store_true", help="scratch: the paper's stack")
    parser.add_argument("--data-dir", default=None, help="default: $LAD_DATA_DIR")
    parser.add_argument("--out", default=None)
    return parser.parse_args(argv)


def probe(args) -> dict:
    import keras

    import lad_tf  # noqa: F401  (registers the saved classes)
    from lad_tf.data.registry import load_dataset
    from lad_tf.defences.pgd_at import PGDAdversarialTraining
    from lad_tf.defences.selection import RobustSelection
    from lad_tf.defences.trades import TRADES
    from lad_tf.models.celeba_net import CelebANet
    from lad_tf.recipe.schema import DefenceConfig
    from lad_tf.utils.optimizers import make_optimizer
    from lad_tf.utils.sampling import balanced_subset

    eps = args.eps / 255
    data = load_dataset("celeba", args.data_dir, image_size=32, validation_fraction=0.1)
    keras.utils.set_random_seed(0)
    if args.init == "scratch":
        model = CelebANet(image_shape=(32, 32, 3), width=0.25, latent_dim=512, hidden_units=[256],
                          batch_norm=not args.no_batch_norm).build_for_inputs()
    else:
        model = keras.models.load_model(args.init)
    cfg = DefenceConfig(epochs=args.epochs, learning_rate=args.learning_rate, eps=eps,
                        steps=args.steps, step_size=2.5 * eps / args.steps)
    steps = math.ceil(len(data.y_train) / cfg.batch_size)
    method = TRADES if args.method == "trades" else PGDAdversarialTraining
    wrapper = method(model, eps=eps, step=cfg.step_size, steps=cfg.steps,
                     eps_ramp_steps=int(args.ramp_epochs * steps))
    wrapper.compile(optimizer=make_optimizer(cfg, steps))
    idx = balanced_subset(data.y_validation, 100, 0)
    selection = RobustSelection(model, data.x_validation[idx], data.y_validation[idx], eps=eps,
                                steps=20, patience=0, min_epochs=math.ceil(args.ramp_epochs))
    start = time.perf_counter()
    wrapper.fit(data.dataset("train", cfg.batch_size, shuffle=True, seed=0), epochs=args.epochs,
                callbacks=[selection], verbose=2)
    return {"command": "python -m benchmarks.celeba_eps_probe " + " ".join(sys.argv[1:]),
            "args": vars(args), "eps": eps, "train_images": int(len(data.y_train)),
            "seconds": time.perf_counter() - start, "machine": machine(),
            "selection": selection.summary()}


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out or f"runs/celeba-eps-probe/{args.method}-{args.eps:g}.json")
    result = probe(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    for row in result["selection"]["history"]:
        print(f"epoch {row['epoch']}: validation clean {row['val_clean_accuracy']:.3f}, "
              f"PGD-20 {row['val_robust_accuracy']:.3f}" + (" (constant-like)"
                                                             if row.get("degenerate") else ""))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
