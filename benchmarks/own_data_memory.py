"""Peak memory of `--data FOLDER` at two folder sizes (issue 13, check 4).

    LAD_DATA_DIR=../shared/data python -m benchmarks.own_data_memory \\
        [--sizes 10000 40000] [--out FILE.json]

Writes a folder of N real MNIST digits as 28x28 PNG files (one sub-folder per
class; the first N training images; scikit-learn's digits, resized and
repeated, when no MNIST is found) for each size into a temporary folder,
then runs the pipeline's data, classifier and generator stages from it
(`python -m lad_tf.harden --dataset mnist --data FOLDER --stop-after
generator`, one classifier and one generator epoch) in a fresh child
process per size, and reads each child's own peak RSS. The goal: the larger
folder needs at most 1.3x the memory of the smaller.

What grows with N by design (lad_tf.data.own_data): the validation,
provider and test splits, decoded in memory (about 36% of the images with
the MNIST recipe's fractions, 3 KiB each at 28x28x1), and the file names and
labels; the training split streams from disk.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BUDGET = ("--set", "classifier.epochs=1", "--set", "generator.epochs=1")
GOAL = 1.3


def digit_images(count: int):
    """(uint8 [count, 28, 28], labels [count]): MNIST's first training images,
    else scikit-learn's digits resized to 28x28 and repeated."""
    import numpy as np

    from lad_tf.data.sources import ENV_DATA_DIR

    path = Path(os.environ.get(ENV_DATA_DIR, "")) / "mnist" / "mnist.npz"
    if path.is_file():
        with np.load(path) as npz:
            x, y = npz["x_train"], npz["y_train"]
        if len(x) >= count:
            return x[:count], y[:count].astype(np.int64), f"MNIST ({path})"
    import tensorflow as tf
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = tf.image.resize(digits.images[..., None] * 16, (28, 28)).numpy()[..., 0]
    reps = -(-count // len(x))
    return (np.tile(np.clip(x, 0, 255).astype(np.uint8), (reps, 1, 1))[:count],
            np.tile(digits.target, reps)[:count].astype(np.int64),
            "scikit-learn digits, resized to 28x28 and repeated")


def write_folder(root: Path, images, labels) -> None:
    import tensorflow as tf

    for k in sorted(set(labels.tolist())):
        (root / str(k)).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels)):
        tf.io.write_file(str(root / str(label) / f"{i:06d}.png"),
                         tf.io.encode_png(image[..., None]))


def child(folder: str, run_dir: str) -> int:
    """One measured run in this process; prints its peak RSS as JSON."""
    from lad_tf.api import harden_model

    start = time.perf_counter()
    harden_model(dataset="mnist", data=folder, run_dir=run_dir, stop_after="generator",
                 overrides=[BUDGET[i] for i in range(1, len(BUDGET), 2)],
                 export_base=os.path.join(run_dir, "export"))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB
    metrics = json.loads((Path(run_dir) / "metrics" / "generator.json").read_text())
    print(json.dumps({"peak_rss_mib": peak_kib / 1024, "seconds": time.perf_counter() - start,
                      "generator_train_mse": metrics["train_mse"]}))
    return 0


def measure(sizes=(10000, 40000)) -> dict:
    images, labels, source = digit_images(max(sizes))
    out = {"sizes": list(sizes), "images": source, "budget": list(BUDGET), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            folder = Path(tmp) / f"digits-{n}"
            t0 = time.perf_counter()
            write_folder(folder, images[:n], labels[:n])
            print(f"{n} PNG files written in {time.perf_counter() - t0:.0f} s; running ...",
                  flush=True)
            result = subprocess.run(
                [sys.executable, "-m", "benchmarks.own_data_memory", "--child", str(folder),
                 str(Path(tmp) / f"run-{n}")], capture_output=True, text=True,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
            if result.returncode != 0:
                raise RuntimeError(f"run of {n} images failed: {result.stderr[-2000:]}")
            row = {"images": n, **json.loads(result.stdout.strip().splitlines()[-1]),
                   "float32_images_mib": n * 28 * 28 * 4 / 2 ** 20}
            print(f"  {n} images: peak RSS {row['peak_rss_mib']:.0f} MiB, "
                  f"{row['seconds']:.0f} s", flush=True)
            out["runs"].append(row)
    small, large = out["runs"][0], out["runs"][-1]
    out["ratio"] = large["peak_rss_mib"] / small["peak_rss_mib"]
    out["goal"] = GOAL
    return out


def render(out: dict) -> str:
    lines = ["", "| images in the folder | peak RSS, data + classifier + generator stages "
             "| all images as float32 | seconds |", "|---|---|---|---|"]
    lines += [f"| {r['images']:,} | {r['peak_rss_mib']:.0f} MiB | {r['float32_images_mib']:.0f} "
              f"MiB | {r['seconds']:.0f} |" for r in out["runs"]]
    lines.append(f"\nratio {out['ratio']:.3f} (goal <= {out['goal']}): "
                 + ("met" if out["ratio"] <= out["goal"] else "NOT met"))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.own_data_memory",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[10000, 40000])
    parser.add_argument("--out", default=None, help="JSON file for the results")
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "RUN_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child)
    out = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
           "started": time.strftime("%Y-%m-%d %H:%M:%S"), **measure(tuple(args.sizes))}
    print(render(out))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2))
        print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
