"""Wall time and peak memory of a whole `python -m lad_tf.harden` run."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time

# The cost goal is for LAD itself (train to export with an FGSM / PGD-40
# evaluation); the recipe's baselines and full attack suite are issue 3's
# comparison, timed in the run's report instead.
LAD_ONLY = ("--method", "lad", "--set", "hardening.sweep_eps=[]",
            "--set", 'evaluation.attacks=["fgsm","pgd"]', "--set", "evaluation.transfer_attacks=[]",
            "--set", "evaluation.lad_per_class=0", "--set", "evaluation.diversity_per_class=0")


def measure(dataset: str = "mnist", extra_args: tuple = (), keep_dir: str | None = None) -> dict:
    """Runs the pipeline in a child process (train to export) and reads the
    child's peak RSS.

    Args:
        keep_dir: keep the run directory and export there (else a temp dir).
    """
    with tempfile.TemporaryDirectory() as tmp:
        base = keep_dir or tmp
        cmd = [sys.executable, "-m", "lad_tf.harden", "--dataset", dataset, "--run-dir",
               os.path.join(base, "run"), "--export-base", os.path.join(base, "export"),
               *extra_args]
        t0 = time.perf_counter()
        result = subprocess.run(cmd, capture_output=True, text=True,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        seconds = time.perf_counter() - t0
        if result.returncode != 0:
            raise RuntimeError(f"pipeline failed ({result.returncode}): {result.stderr[-2000:]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB
    return {"dataset": dataset, "args": list(extra_args), "kept_in": keep_dir,
            "wall_seconds": seconds,
            "peak_rss_gib": peak_kib / 2 ** 20}
