"""AC-GAN training step with XLA against without, side by side in one process.

`python -m lad_tf.acgan` compiles its `train_step` with XLA, which Keras
leaves off on CPU-only machines. This times one generator step (with its
`n_critic` critic steps and their gradient penalties) of the MNIST AC-GAN,
batch 64 of real MNIST, both ways, and prints the median over repeats and
the ratio. `LAD_DATA_DIR=../shared/data python -m benchmarks.acgan_step`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _step_seconds(data, jit: bool, channels: int, n_critic: int, steps: int,
                  repeats: int) -> float:
    import keras
    import tensorflow as tf

    from benchmarks.timing import median_seconds
    from lad_tf.models.acgan import ACGAN
    from lad_tf.models.acgan.critic import ACGANCritic
    from lad_tf.models.acgan.generator import ACGANGenerator

    keras.utils.set_random_seed(0)
    model = ACGAN(ACGANGenerator(128, data.num_classes, data.image_shape, channels),
                  ACGANCritic(data.num_classes, data.image_shape, channels, "flatten"),
                  n_critic=n_critic, seed=0)
    model.compile(keras.optimizers.Adam(2e-4, 0.0, 0.9), keras.optimizers.Adam(2e-4, 0.0, 0.9),
                  jit_compile=jit)
    batches = (tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
               .shuffle(len(data.x_train), seed=0).repeat().batch(64, drop_remainder=True))

    def run():
        model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)

    return median_seconds(run, repeats) / steps


def measure(data, settings=((16, 2), (16, 5)), steps: int = 20, repeats: int = 3) -> list:
    """One row per (channels, n_critic): seconds per step with and without XLA."""
    rows = []
    for channels, n_critic in settings:
        plain = _step_seconds(data, False, channels, n_critic, steps, repeats)
        xla = _step_seconds(data, True, channels, n_critic, steps, repeats)
        rows.append({"channels": channels, "n_critic": n_critic, "plain_seconds": plain,
                     "xla_seconds": xla, "xla_vs_plain": xla / plain})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.acgan_step", description=__doc__)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    from lad_tf.data import load_dataset
    from lad_tf.utils.errors import LadError

    try:
        data = load_dataset("mnist", data_dir=args.data_dir)
    except LadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = measure(data, steps=args.steps, repeats=args.repeats)
    for r in rows:
        print(f"AC-GAN step, {r['channels']} channels, n_critic {r['n_critic']}: "
              f"plain {r['plain_seconds']:.3f} s, XLA {r['xla_seconds']:.3f} s "
              f"(median of {args.repeats} x {args.steps} steps); XLA / plain = "
              f"{r['xla_vs_plain']:.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"steps": args.steps, "repeats": args.repeats, "cpus": os.cpu_count(),
                       "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
