"""`model.fit` over the training split: a new tf.data iterator every epoch
(Keras's way with a finite dataset) against one iterator for the whole fit
(`lad_tf.utils.fitting.fit_epochs`), side by side in one process.

On this 2-core CPU the first PGD-AT step of an epoch after the first often
waited, idle, for seconds after Keras made the epoch's new iterator: the
MNIST fast robust recipe (480 steps an epoch) lost 34 to 45 s in four of
its six later epochs of about 150 s. This benchmark trains the MNIST recipe's PGD-AT (LeNet, PGD-10,
`RobustSelection` on validation images after every epoch, as the harden
stage does) on the recipe's own pipeline (`DatasetSplits.dataset`) both ways,
alternating, and reports the median epoch, the median first step of the
epochs after the first, and the slowest one.

`python -m benchmarks.input_pipeline [--images N] [--epochs E] [--rounds R]`
(real MNIST from $LAD_DATA_DIR).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from functools import partial

import keras

from lad_tf.data import load_recipe_data
from lad_tf.defences import DEFENCES
from lad_tf.defences.selection import RobustSelection
from lad_tf.models import build_classifier
from lad_tf.recipe.schema import load_recipe
from lad_tf.utils.fitting import fit_epochs
from lad_tf.utils.optimizers import make_optimizer


class _Timer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs, self.first_steps = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.start, self.first = time.perf_counter(), None

    def on_train_batch_end(self, batch, logs=None):
        if self.first is None:
            self.first = time.perf_counter() - self.start

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(time.perf_counter() - self.start)
        self.first_steps.append(self.first)


def _train(way: str, dataset, data, recipe, steps: int, epochs: int) -> _Timer:
    cfg = recipe.pgd_at
    keras.utils.set_random_seed(0)
    model = build_classifier(recipe.classifier.model)
    wrapper = DEFENCES["pgd-at"].build(model, cfg, 0)
    wrapper.compile(optimizer=make_optimizer(cfg, steps))
    sel = recipe.selection
    selection = RobustSelection(model, data.x_validation[:500], data.y_validation[:500],
                                eps=sel.eps, steps=sel.pgd_steps, patience=0, log=lambda *_: None)
    timer = _Timer()
    fit = wrapper.fit if way == "per_epoch" else partial(fit_epochs, wrapper)
    fit(dataset, epochs=epochs, verbose=0, shuffle=False, callbacks=[selection, timer])
    return timer


def measure(images: int = 6000, epochs: int = 3, rounds: int = 2, data_dir=None) -> dict:
    """Median seconds per epoch and per first step (epochs after the first)
    for each way, and the ratio of the median epochs (one iterator / per epoch)."""
    recipe = load_recipe("mnist")
    data = load_recipe_data(recipe.data, data_dir)
    batch, seed = recipe.pgd_at.batch_size, recipe.data.seed
    steps = images // batch
    x, y = data.x_train[:images], data.y_train[:images]
    subset = dataclasses.replace(data, x_train=x, y_train=y)
    ways = ["per_epoch", "one_iterator"]
    epoch_s = {name: [] for name in ways}
    first_s = {name: [] for name in ways}
    for r in range(rounds):
        for name in (ways if r % 2 == 0 else reversed(ways)):
            dataset = subset.dataset("train", batch, shuffle=True, seed=seed)
            timer = _train(name, dataset, data, recipe, steps, epochs)
            epoch_s[name] += timer.epochs[1:]
            first_s[name] += timer.first_steps[1:]
            print(f"round {r + 1} {name}: epochs {[round(s, 1) for s in timer.epochs]} s, "
                  f"first steps {[round(s, 2) for s in timer.first_steps]} s", flush=True)
    med = {name: statistics.median(v) for name, v in epoch_s.items()}
    first = {name: statistics.median(v) for name, v in first_s.items()}
    return {"images": images, "steps_per_epoch": steps, "epochs": epochs, "rounds": rounds,
            "pgd_steps": recipe.pgd_at.steps, "median_epoch_seconds": med,
            "median_first_step_seconds": first,
            "slowest_first_step_seconds": {n: max(v) for n, v in first_s.items()},
            "first_steps_seconds": first_s, "epoch_seconds": epoch_s,
            "one_iterator_vs_per_epoch": med["one_iterator"] / med["per_epoch"],
            "cpus": os.cpu_count()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.input_pipeline",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data-dir", default=None, help="default: $LAD_DATA_DIR")
    parser.add_argument("--out", default="benchmarks/results-input-pipeline.json")
    args = parser.parse_args(argv)
    out = measure(args.images, args.epochs, args.rounds, args.data_dir)
    print("| fit | median epoch | median first step (epochs 2+) |\n|---|---|---|")
    for name in out["median_epoch_seconds"]:
        print(f"| {name} | {out['median_epoch_seconds'][name]:.2f} s | "
              f"{out['median_first_step_seconds'][name]:.2f} s |")
    print(f"one iterator / per epoch, median epoch: {out['one_iterator_vs_per_epoch']:.2f}; "
          f"slowest first step {out['slowest_first_step_seconds']['per_epoch']:.1f} s vs "
          f"{out['slowest_first_step_seconds']['one_iterator']:.1f} s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
