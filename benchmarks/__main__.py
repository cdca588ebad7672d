"""`python -m benchmarks [--quick] [--out FILE]`: LAD's cost against plain and
PGD adversarial training, generator convergence, generation and inference
throughput, attention-SVM fit cost for 10 / 50 / 100 classes with and without
`svm.targets=nearest`, and the whole pipeline's wall time and peak memory.

Every figure is measured in this one run, side by side, as a median over
repeats; the table gives ratios, which survive a noisy shared machine better
than absolute times. Real MNIST comes from $LAD_DATA_DIR (or --data-dir).
`--quick` shrinks every setting (for CI); its numbers are not the headline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small settings (about 2 minutes)")
    parser.add_argument("--out", default=None, help="JSON file (default benchmarks/results[-quick].json)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--pipeline-run-dir", default=None,
                        help="keep the measured pipeline run (run/ and export/) in this folder")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["training", "generator", "throughput", "svm", "pipeline"])
    args = parser.parse_args(argv)

    from benchmarks import (
        generator_convergence,
        pipeline_cost,
        svm_targets,
        throughput,
        training_cost,
    )
    from lad_tf.data import load_dataset
    from lad_tf.utils.errors import LadError

    try:
        data = load_dataset("mnist", data_dir=args.data_dir)
    except LadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    q = args.quick
    out = {"quick": q, "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
           "started": time.strftime("%Y-%m-%d %H:%M:%S"), "data": data.source}
    if "training" not in args.skip:
        print("training cost per example ...", flush=True)
        out["training"] = training_cost.measure(data.x_train, data.y_train, batch_size=64,
                                                steps=5 if q else 30, repeats=3 if q else 5)
    if "generator" not in args.skip:
        print("generator convergence ...", flush=True)
        out["generator"] = generator_convergence.measure(
            data, max_seconds=20 if q else 600, train_limit=5000 if q else None,
            classifier_epochs=1 if q else 2)
    if "throughput" not in args.skip:
        print("throughput ...", flush=True)
        out["generation_throughput"] = throughput.generation(
            data.x_test, batch_sizes=(32, 128) if q else (32, 128, 512), repeats=3 if q else 5)
        out["inference"] = throughput.inference(data.x_test, repeats=5 if q else 20)
    if "svm" not in args.skip:
        print("attention-SVM fit cost by class count, all pairs and nearest targets ...", flush=True)
        out["svm_targets"] = svm_targets.measure(data, quick=q)
    if "pipeline" not in args.skip:
        print("whole pipeline ...", flush=True)
        out["pipeline"] = pipeline_cost.measure("digits" if q else "mnist",
                                                extra_args=pipeline_cost.LAD_ONLY,
                                                keep_dir=args.pipeline_run_dir)
    out["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    path = Path(args.out or f"benchmarks/results{'-quick' if q else ''}.json")
    path.write_text(json.dumps(out, indent=2))
    print(render(out))
    print(f"written {path}")
    return 0


def render(out: dict) -> str:
    lines = ["", "| measure | value | goal |", "|---|---|---|"]
    if "training" in out:
        r = out["training"]["ratios"]
        s = out["training"]["seconds_per_example"]
        lines += [
            f"| plain step, ms per example | {1000 * s['plain']:.4f} | |",
            f"| LAD step / plain step | {r['lad_vs_plain']:.2f} | <= 2 |",
            f"| LAD step / PGD-40 step (set made once) | {r['lad_vs_pgd40_set_reused']:.3f} | <= 0.06 |",
            f"| (LAD step + generation) / PGD-40 step | {r['lad_vs_pgd40_generation_every_epoch']:.3f} | <= 0.1 |",
            f"| LAD generation / plain step | {r['lad_generation_vs_plain']:.2f} | |",
            f"| PGD-7 / plain, PGD-40 / plain | {r['pgd7_vs_plain']:.1f}, {r['pgd40_vs_plain']:.1f} | |",
        ]
        lines += [f"| {name} step / plain step (MNIST recipe budget) | {r[f'{name}_vs_plain']:.1f} | |"
                  for name in ("pgd-at", "trades", "fast-at", "lad+fast", "lad+pgd")
                  if f"{name}_vs_plain" in r]
    if "generator" in out:
        g = out["generator"]
        lines.append(f"| generator to test MSE {g['target_mse']} | "
                     f"{'reached' if g['reached'] else 'NOT reached'} after {g['epochs']} epochs, "
                     f"{g['seconds']:.0f} s (last MSE {g['history'][-1]['test_mse']:.5f}) | < 300 s |")
    for row in out.get("generation_throughput", []):
        lines.append(f"| generation, batch {row['batch']}: LAD / PGD-40 examples per s | "
                     f"{row['lad_per_s']:.0f} / {row['pgd40_per_s']:.0f} "
                     f"({row['lad_vs_pgd40_speedup']:.1f}x) | |")
    if "inference" in out:
        inf = out["inference"]
        per_s = ", ".join(f"{k} {v:.0f}" for k, v in inf["images_per_s"].items())
        lines.append(f"| inference batch {inf['batch']}, images per s | {per_s} | |")
        lines.append(f"| SavedModel / tf.function throughput | {inf['saved_model_vs_tf_function']:.3f} | >= 0.95 |")
    if "svm_targets" in out:
        from benchmarks.svm_targets import render_rows

        lines += render_rows(out["svm_targets"])
    if "pipeline" in out:
        p = out["pipeline"]
        lines.append(f"| pipeline ({p['dataset']}) wall time, peak memory | "
                     f"{p['wall_seconds']:.0f} s, {p['peak_rss_gib']:.2f} GiB | < 600 s, < 4 GiB |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
