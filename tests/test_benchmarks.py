"""The benchmark command in its quick setting: it runs, writes JSON, and its
cost ordering is the one the method predicts (plain < LAD < PGD-7 < PGD-40)."""

import json
import os
import subprocess
import sys


def test_quick_benchmark_runs_and_orders_costs(tmp_path, mnist_dir):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--skip", "generator", "--skip",
         "pipeline", "--skip", "svm", "--out", str(out)],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    cost = data["training"]["seconds_per_example"]
    assert cost["plain"] < cost["lad_step"] < cost["pgd7"] < cost["pgd40"]
    assert data["training"]["ratios"]["lad_vs_pgd40_set_reused"] < 0.5
    for row in data["generation_throughput"]:
        assert row["lad_per_s"] > row["pgd40_per_s"]
    assert data["inference"]["images_per_s"]["saved_model"] > 0
    assert "| LAD step / plain step |" in result.stdout


def test_precision_benchmark_times_both_policies(tmp_path):
    """benchmarks.precision: one generator step per policy, side by side; the
    choice of `auto` it reports is the library's own."""
    from benchmarks import precision
    from lad_tf.precision import resolve_precision

    out = precision.measure(batch_size=4, repeats=1)
    assert set(out["step_seconds"]) == {"float32", "mixed_bfloat16"}
    assert all(s > 0 for s in out["step_seconds"].values()) and out["bfloat16_vs_float32"] > 0
    assert out["auto_chooses"] == resolve_precision("auto")
