"""Attention-SVM fit cost as the class count grows, with and without
`svm.targets=nearest` (issue 13, check 5).

Cases: 10 classes on a real LeNet's latents of real MNIST (provider split), and
50 and 100 classes on synthetic clustered latents of the same width (500): one
Gaussian cluster per class whose between-class and within-class spreads are
those measured on the real latents (no real many-class image set is on these
machines). Each case is fitted twice, side by side in one run: every ordered
pair (`svm.targets=all`, the paper: K (K - 1) SVMs) and each class's k nearest
classes by class-mean latent distance (`svm.targets=nearest`, one SVM per
unordered pair). Both use the same SVM settings (full 500 x 500 attention
kernel, the MNIST recipe's attention, C, learning rate and batch) with small,
equal budgets (latents per class, epochs): the time grows linearly in both.

Each fit runs in a fresh child process, which reports its wall time (target
selection, pair datasets, model build and fit) and its memory as peak RSS
(Linux VmHWM, which sees TensorFlow's own allocations; tracemalloc would not)
above the RSS it had just before the fit. A fit of more pairs than
`max_pairs` (the 50- and 100-class fits of every pair: 2,450 and 9,900 SVMs,
about 4 MB each with Adam's slots and the gradient, beyond this machine's
memory) fits the first `max_pairs` pairs only and scales time and memory by
total / fitted; such rows are marked "estimated". That scaling also multiplies
the fixed per-fit cost (tracing, the child's start-up allocations), so it
overstates slightly. Fits with nearest targets are always measured whole.

Run alone: `python -m benchmarks.svm_targets [--quick]`; in the suite:
`python -m benchmarks` (skip with `--skip svm`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FULL = {"k": 5, "per_class": 60, "epochs": 2, "max_pairs": 90, "train_images": 12000,
        "classes": (10, 50, 100)}
QUICK = {"k": 5, "per_class": 12, "epochs": 1, "max_pairs": 20, "train_images": 3000,
         "classes": (10, 50, 100)}


def _rss_kib(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, in KiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def fit_case(latents_file: str, mode: str, k: int, per_class: int, epochs: int,
             max_pairs: int) -> dict:
    """In a child process: chooses the pairs, fits their SVMs, measures."""
    import keras
    import numpy as np

    from lad_tf.lad.attention_svm import AttentionSVM, fit_attention_svms, pair_datasets
    from lad_tf.lad.targets import choose_targets
    from lad_tf.recipe.schema import load_recipe

    with np.load(latents_file) as f:
        z, y = f["z"], f["y"]
    num_classes = int(y.max()) + 1
    cfg = load_recipe("mnist", overrides=[f"svm.targets={mode}", f"svm.k={k}"]).svm
    keras.utils.set_random_seed(0)
    base = _rss_kib("VmRSS")
    start = time.perf_counter()
    choice = choose_targets(cfg, num_classes, z, y)
    # Only the all-pairs fits are capped: the nearest fits are measured whole.
    pairs = choice.svm_pairs[:max_pairs] if mode == "all" else choice.svm_pairs
    z_fit, y_fit, _, _ = pair_datasets(z, y, pairs, per_class, cfg.holdout_fraction)
    svm = AttentionSVM(len(pairs), z.shape[1], cfg.attention, cfg.c, cfg.attention_rank)
    fit_attention_svms(svm, z_fit, y_fit, epochs=epochs, batch_size=cfg.batch_size,
                       learning_rate=cfg.learning_rate)
    seconds = time.perf_counter() - start
    total = len(choice.svm_pairs)
    scale = total / len(pairs)
    fit_mib = (_rss_kib("VmHWM") - base) / 1024
    return {"classes": num_classes, "mode": mode, "svms": total, "svms_fitted": len(pairs),
            "generation_pairs": len(choice.pairs), "estimated": len(pairs) < total,
            "seconds": seconds * scale, "seconds_measured": seconds,
            "fit_memory_mib": fit_mib * scale, "fit_memory_mib_measured": fit_mib,
            "rss_before_fit_mib": base / 1024}


def _child(latents_file: str, mode: str, settings: dict) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [sys.executable, "-m", "benchmarks.svm_targets", "--child", latents_file,
               "--mode", mode, "--out", out.name,
               *[a for key in ("k", "per_class", "epochs", "max_pairs")
                 for a in (f"--{key.replace('_', '-')}", str(settings[key]))]]
        result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        if result.returncode != 0:
            raise RuntimeError(f"SVM fit child failed: {result.stderr[-2000:]}")
        return json.loads(Path(out.name).read_text())


def real_latents(data, train_images: int):
    """A LeNet trained one epoch on `train_images` real MNIST images; its
    latents z = phi(x) of the provider split: (z [N, 500], y [N])."""
    import keras
    import tensorflow as tf

    from lad_tf.defences import classification_loss
    from lad_tf.models import build_classifier
    from lad_tf.utils.batching import batched

    keras.utils.set_random_seed(0)
    model = build_classifier("lenet")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=classification_loss(10))
    model.fit(data.x_train[:train_images], data.y_train[:train_images], batch_size=128,
              epochs=1, verbose=0)
    phi = tf.function(lambda b: model.features(b, training=False))
    return batched(phi, data.x_provider, 500), data.y_provider


def clustered_latents(z, y, num_classes: int, per_class: int, seed: int = 0):
    """Synthetic latents: one Gaussian cluster per class, with the between-class
    spread of the real class means and the real within-class spread, per dimension."""
    import numpy as np

    rng = np.random.default_rng(seed)
    means = np.stack([z[y == c].mean(0) for c in np.unique(y)])
    between = means.std(0)
    within = np.sqrt(np.mean([z[y == c].var(0) for c in np.unique(y)], axis=0))
    centres = means.mean(0) + rng.normal(size=(num_classes, z.shape[1])) * between
    zs = centres[:, None, :] + rng.normal(size=(num_classes, per_class, z.shape[1])) * within
    return zs.reshape(-1, z.shape[1]).astype("float32"), np.repeat(np.arange(num_classes), per_class)


def measure(data, quick: bool = False, **overrides) -> dict:
    """Every case, both modes; returns rows and all / nearest ratios."""
    import numpy as np

    settings = {**(QUICK if quick else FULL), **overrides}
    print(f"  svm targets: settings {settings}", flush=True)
    z, y = real_latents(data, settings["train_images"])
    rows, ratios = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for K in settings["classes"]:
            path = os.path.join(tmp, f"latents-{K}.npz")
            if K == 10:
                np.savez(path, z=z, y=y)
            else:
                zs, ys = clustered_latents(z, y, K, settings["per_class"], seed=K)
                np.savez(path, z=zs, y=ys)
            case = {}
            for mode in ("all", "nearest"):
                row = _child(path, mode, settings)
                row["latents"] = "real LeNet, MNIST provider split" if K == 10 else "synthetic clusters"
                rows.append(row)
                case[mode] = row
                print(f"  {K} classes, {mode}: {row['svms']} SVMs, {row['seconds']:.1f} s, "
                      f"{row['fit_memory_mib']:.0f} MiB"
                      + (f" (estimated from {row['svms_fitted']} SVMs: "
                         f"{row['seconds_measured']:.1f} s, {row['fit_memory_mib_measured']:.0f} MiB)"
                         if row["estimated"] else ""), flush=True)
            ratios[str(K)] = {
                "svms": case["all"]["svms"] / case["nearest"]["svms"],
                "seconds": case["all"]["seconds"] / case["nearest"]["seconds"],
                "fit_memory": case["all"]["fit_memory_mib"] / max(case["nearest"]["fit_memory_mib"], 1e-9)}
    return {"settings": settings, "memory": "peak RSS (VmHWM) of a child process above its "
            "RSS just before the fit", "rows": rows, "all_vs_nearest": ratios}


def render_rows(result: dict) -> list[str]:
    """Table rows for `python -m benchmarks`' summary."""
    s = result["settings"]
    lines = []
    for row in result["rows"]:
        label = "all pairs" if row["mode"] == "all" else f"{s['k']} nearest"
        est = f" (estimated from {row['svms_fitted']} SVMs)" if row["estimated"] else ""
        lines.append(f"| SVM fit, {row['classes']} classes, {label}: SVMs, seconds, fit memory | "
                     f"{row['svms']}, {row['seconds']:.1f} s, {row['fit_memory_mib']:.0f} MiB{est} | |")
    for K, r in result["all_vs_nearest"].items():
        lines.append(f"| SVM fit, {K} classes: all / nearest (SVMs, time, memory) | "
                     f"{r['svms']:.1f}x, {r['seconds']:.1f}x, {r['fit_memory']:.1f}x | |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.svm_targets",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None, help="JSON file (default: none)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="all", help=argparse.SUPPRESS)
    for key in ("k", "per-class", "epochs", "max-pairs"):
        parser.add_argument(f"--{key}", type=int, default=None)
    args = parser.parse_args(argv)
    given = {k: v for k, v in (("k", args.k), ("per_class", args.per_class),
                               ("epochs", args.epochs), ("max_pairs", args.max_pairs))
             if v is not None}
    if args.child:
        result = fit_case(args.child, args.mode, **given)
        Path(args.out).write_text(json.dumps(result))
        return 0
    from lad_tf.data import load_dataset

    result = measure(load_dataset("mnist", data_dir=args.data_dir), args.quick, **given)
    print("\n".join(["", "| measure | value | goal |", "|---|---|---|", *render_rows(result)]))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
