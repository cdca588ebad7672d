"""Generator step cost in float32 against mixed_bfloat16 on the machine at hand.

The MNIST recipe's generator (Table XI) takes one Adam step on a batch of
real latents -> images in each precision, side by side in one process;
the median over repeats is reported with the ratio and what `precision:
auto` chooses here (bfloat16 only where the CPU or a GPU computes it
natively). `python -m benchmarks.precision`.
"""

from __future__ import annotations

import argparse
import json
import sys

import keras
import numpy as np
import tensorflow as tf

from benchmarks.timing import median_seconds
from lad_tf.models import build_generator
from lad_tf.recipe.schema import load_recipe
from lad_tf.utils.precision import dtype_policy, native_bfloat16, resolve_precision


def _step_seconds(policy: str, z: np.ndarray, x: np.ndarray, repeats: int) -> float:
    cfg = load_recipe("mnist").generator
    with dtype_policy(policy):
        keras.utils.set_random_seed(0)
        generator = build_generator(cfg.model, image_shape=(28, 28, 1), latent_dim=z.shape[1],
                                    **cfg.model_args)
    generator.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="mean_squared_error")
    step = tf.function(generator.train_step)
    batch = (tf.constant(z), tf.constant(x))

    def run():
        float(step(batch)["loss"])  # waits for the step to finish

    return median_seconds(run, repeats)


def measure(batch_size: int = 64, repeats: int = 5) -> dict:
    """Median seconds of one generator step per precision, and their ratio."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(batch_size, 500)).astype("float32")  # LeNet's latent width
    x = rng.uniform(size=(batch_size, 28, 28, 1)).astype("float32")
    seconds = {p: _step_seconds(p, z, x, repeats) for p in ("float32", "mixed_bfloat16")}
    native, reason = native_bfloat16()
    return {"batch_size": batch_size, "repeats": repeats, "step_seconds": seconds,
            "bfloat16_vs_float32": seconds["mixed_bfloat16"] / seconds["float32"],
            "auto_chooses": resolve_precision("auto"), "native_bfloat16": native,
            "reason": reason}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.precision", description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    out = measure(repeats=args.repeats)
    s = out["step_seconds"]
    print(f"generator step, batch {out['batch_size']}: float32 {s['float32']:.3f} s, "
          f"mixed_bfloat16 {s['mixed_bfloat16']:.3f} s (median of {out['repeats']}); "
          f"bfloat16 / float32 = {out['bfloat16_vs_float32']:.2f}")
    print(f"precision auto chooses {out['auto_chooses']} here ({out['reason']})")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
