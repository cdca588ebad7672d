"""ART's attacks on ART's own estimator against the project's traced one.

`lad_tf.attacks.art_estimator.TracedGradientClassifier` computes the forward
pass, the class gradients (JSMA, C&W) and the loss gradients (APGD) that ART's
attacks read in graphs traced once per model; ART's `TensorFlowV2Classifier`
computes them in eager mode. Both run side by side in one process on the
zoo's shipped MNIST PGD-AT model and real MNIST test images: the estimator
calls, then whole attacks with the same random start. The medians over
repeats and their ratios are printed and written as JSON.

    LAD_DATA_DIR=../shared/data python -m benchmarks.art_gradients
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from benchmarks.timing import median_seconds

MODEL = Path("zoo/mnist/models/pgd-at.keras")


def _estimators(model):
    """(ART's own estimator, the traced one) of `model`, with ART's default loss."""
    from art.estimators.classification import TensorFlowV2Classifier

    from lad_tf.attacks.art import art_classifier

    arts = TensorFlowV2Classifier(
        model=lambda x, training=False: model(x, training=False), nb_classes=10,
        input_shape=(28, 28, 1), clip_values=(0.0, 1.0),
        loss_object=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return arts, art_classifier(model, (28, 28, 1), 10)


def _attack_seconds(run, repeats: int) -> float:
    def seeded():
        np.random.seed(0)
        run()
    return median_seconds(seeded, repeats)


def measure(images: int = 50, repeats: int = 5) -> dict:
    """Seconds per call of each estimator method and per attack, both estimators."""
    from art.attacks.evasion import AutoProjectedGradientDescent, SaliencyMapMethod

    from lad_tf.data import load_dataset

    data = load_dataset("mnist", use_tfds=False)
    model = keras.models.load_model(MODEL)
    x, y = data.x_test[:images], data.y_test[:images]
    target = (y + 1) % 10
    hot = np.eye(10, dtype="float32")
    out = {}
    for name, estimator in zip(("art", "traced"), _estimators(model)):
        calls = {
            "predict": lambda e=estimator: e.predict(x),
            "class_gradient (a target per image)": lambda e=estimator: e.class_gradient(
                x, label=target),
            "loss_gradient": lambda e=estimator: e.loss_gradient(x, hot[y]),
        }
        row = {call: median_seconds(fn, repeats) for call, fn in calls.items()}
        apgd = AutoProjectedGradientDescent(
            estimator, norm=np.inf, eps=0.3, eps_step=0.6, max_iter=20, targeted=False,
            nb_random_init=1, batch_size=images, loss_type=None, verbose=False)
        jsma = SaliencyMapMethod(estimator, theta=1.0, gamma=0.05, batch_size=images,
                                 verbose=False)
        row["APGD (20 steps)"] = _attack_seconds(
            lambda a=apgd: a.generate(x, y=hot[y]), repeats)
        row["JSMA (gamma 0.05)"] = _attack_seconds(
            lambda a=jsma: a.generate(x, y=hot[target]), max(1, repeats // 2))
        out[name] = row
    ratios = {call: out["art"][call] / out["traced"][call] for call in out["art"]}
    return {"seconds": out, "art_vs_traced": ratios, "images": images, "repeats": repeats,
            "model": str(MODEL), "machine": {"platform": platform.platform(),
                                             "cpus": os.cpu_count()},
            "tensorflow": tf.__version__, "date": time.strftime("%Y-%m-%d")}


def render(result: dict) -> str:
    header = (f"| on {result['images']} MNIST test images | ART's estimator, s | traced, s | "
              "ART / traced |")
    lines = [header, "|---|---|---|---|"]
    for call, ratio in result["art_vs_traced"].items():
        lines.append(f"| {call} | {result['seconds']['art'][call]:.4f} | "
                     f"{result['seconds']['traced'][call]:.4f} | {ratio:.1f}x |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.art_gradients",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results-art-gradients.json")
    args = parser.parse_args(argv)
    if not os.environ.get("LAD_DATA_DIR"):
        print("error: set LAD_DATA_DIR to the shared data folder (mnist/mnist.npz)",
              file=sys.stderr)
        return 2
    result = measure(args.images, args.repeats)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(render(result))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
